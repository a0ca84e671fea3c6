"""A medmaas server in a process of its own, for the tests that need a real one (SIGKILL, log
files, a temporary folder of its own): a free port, and waiting for it to answer."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(process: subprocess.Popen, base: str, log: Path, *, timeout: float,
               path: str = "/readyz", interval: float = 0.05) -> None:
    """Poll ``base + path`` until it answers 200. AssertionError, with the end of ``log``, if the
    process exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode} at start:\n{log_tail(log)}")
        try:
            if httpx.get(f"{base}{path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the server was not ready within {timeout:.0f} s:\n{log_tail(log)}")
        time.sleep(interval)


def log_tail(log: Path, n: int = 3000) -> str:
    return log.read_text(errors="replace")[-n:] if log.exists() else ""
