"""Server processes: start in their own process group, wait until ready, stop, measure memory.

Memory is read from /proc: the resident set of a server's whole process tree (the process and
every descendant, e.g. BentoML's and MLflow's workers) and each process's VmHWM (peak RSS).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

_LIVE: list[Proc] = []  # every started process, so stop_all() can clean up on any exit


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: split after the last ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    children = _children_map()
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        if os.path.exists(f"/proc/{pid}"):
            pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pids: list[int]) -> int:
    return sum(_status_kb(pid, "VmRSS") for pid in pids)


def tree_hwm_kb(pids: list[int]) -> int:
    """Sum of each process's own peak RSS (an upper bound of the tree's peak)."""
    return sum(_status_kb(pid, "VmHWM") for pid in pids)


class Proc:
    """One server process in its own session/process group, output to a log file."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str], cwd: Path,
                 log: Path) -> None:
        self.name, self.cmd, self.log = name, cmd, log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=self._log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        self.peak_rss_kb = 0
        self._known: set[int] = {self.popen.pid}
        _LIVE.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def pids(self) -> list[int]:
        pids = tree_pids(self.pid)
        self._known.update(pids)
        return pids

    def sample(self) -> int:
        """Current RSS of the tree in kB; also raises the recorded peak."""
        rss = tree_rss_kb(self.pids())
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        return rss

    def hwm_kb(self) -> int:
        return tree_hwm_kb(self.pids())

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 8.0) -> None:
        """SIGTERM the process group, then SIGKILL it and any descendant that left the group."""
        if self in _LIVE:
            _LIVE.remove(self)
        if self.alive():
            self.pids()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid in self._known - {self.pid}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._log.close()


def stop_all() -> None:
    for proc in list(_LIVE):
        proc.stop(grace=3.0)


class Sampler:
    """Samples the RSS of one process tree every ``interval`` seconds while active."""

    def __init__(self, proc: Proc, interval: float = 0.1) -> None:
        self.proc, self.interval = proc, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.proc.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def http(method: str, url: str, *, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    """One HTTP request; returns (status, body), status 0 when nothing answered."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, b""


def wait_until(check: Callable[[], bool], proc: Proc, timeout: float,
               interval: float = 0.02) -> float:
    """Poll ``check`` until true; the seconds since the process started. Raises on exit/timeout."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if check():
            return time.perf_counter() - proc.started
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with code {proc.popen.returncode}:\n"
                               f"{proc.tail()}")
        time.sleep(interval)
    raise RuntimeError(f"{proc.name} was not ready after {timeout:.0f} s:\n{proc.tail()}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
