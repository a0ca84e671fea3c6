"""The background build stops on SIGTERM even when the signal lands inside a finaliser, where
Python swallows the SystemExit (and printed a traceback into the server's output)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_sigterm_swallowed_by_a_finaliser_is_delivered_again() -> None:
    code = textwrap.dedent("""
        import os, signal, sys, time
        from medmaas.builtin.build import _retry_swallowed_exit
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        sys.unraisablehook = _retry_swallowed_exit

        class Finaliser:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGTERM)  # the handler runs inside __del__
                time.sleep(0.01)

        try:
            Finaliser()
            for _ in range(200):
                time.sleep(0.01)
            print("kept running")
        except SystemExit:
            print("stopped")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "stopped"
    assert "Traceback" not in done.stderr
