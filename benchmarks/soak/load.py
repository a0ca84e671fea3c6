"""Drive the locust user in this process and record every request, window by window.

Locust runs through its library API (``Environment`` + ``LocalRunner``) on gevent, in the same
process as the harness, so the recorder sees each request's latency and status code as it
completes: a window holds the requests that *completed* in it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from locust import constant
from locust.env import Environment

from benchmarks.soak.locustfile import SoakUser

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAX_SAMPLES = 5  # error samples kept per phase


class ClosedLoopUser(SoakUser):
    """The same mix without pacing: the next request as soon as the last one answered."""

    wait_time = constant(0)


def quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted list (0.0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Window:
    """The requests that completed between two instants."""

    began: float = field(default_factory=time.monotonic)
    times_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, response_ms: float, status: int) -> None:
        self.times_ms.append(response_ms)
        self.statuses[status] += 1

    def summary(self, seconds: float | None = None) -> dict[str, Any]:
        seconds = seconds if seconds is not None else time.monotonic() - self.began
        ordered = sorted(self.times_ms)
        n = len(ordered)
        non2xx = sum(c for s, c in self.statuses.items() if not 200 <= s < 300 and s != 0)
        return {
            "seconds": round(seconds, 2), "requests": n, "rps": round(n / seconds, 1) if seconds else 0.0,
            "p50_ms": round(quantile(ordered, 0.50), 2), "p99_ms": round(quantile(ordered, 0.99), 2),
            "max_ms": round(ordered[-1], 2) if ordered else 0.0,
            "status_5xx": sum(c for s, c in self.statuses.items() if s >= 500),
            "non_2xx": non2xx, "transport_errors": self.statuses.get(0, 0),
            "errors": non2xx + self.statuses.get(0, 0),
            "statuses": {str(s): c for s, c in sorted(self.statuses.items())},
        }


class Recorder:
    """Receives locust's ``request`` events; counts into the current window while one is open."""

    def __init__(self) -> None:
        self.window: Window | None = None
        self.by_name: dict[str, Window] = defaultdict(Window)
        self.samples: list[dict[str, Any]] = []

    def open(self) -> Window:
        """Close the current window (returned by the next ``open``/``close``) and start a new one."""
        self.window = Window()
        return self.window

    def close(self) -> Window | None:
        window, self.window = self.window, None
        return window

    def on_request(self, request_type: str, name: str, response_time: float, response_length: int,
                   response: Any = None, exception: BaseException | None = None, **_: Any) -> None:
        window = self.window
        if window is None:
            return
        status = int(getattr(response, "status_code", 0) or 0)
        window.add(response_time, status)
        self.by_name[name].add(response_time, status)
        if (exception is not None or not 200 <= status < 300) and len(self.samples) < MAX_SAMPLES:
            body = ""
            with contextlib.suppress(AttributeError, UnicodeDecodeError, TypeError):
                body = (response.text or "")[:300] if response is not None else ""
            self.samples.append({"request": name, "status": status,
                                 "error": repr(exception)[:300] if exception else "", "body": body})


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (all their threads)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class Load:
    """One locust runner at a time over ``host``; every request goes to ``recorder``."""

    def __init__(self, host: str, api_key: str, recorder: Recorder) -> None:
        self.host, self.recorder = host, recorder
        SoakUser.api_key = api_key
        self._runner: Any = None
        self._user_class: type[SoakUser] = SoakUser

    def start(self, users: int, *, closed_loop: bool = False, spawn_seconds: float = 2.0) -> None:
        """Start (or re-size) the users; spawning takes about ``spawn_seconds``."""
        user_class = ClosedLoopUser if closed_loop else SoakUser
        if self._runner is not None and self._user_class is not user_class:
            self.stop()
        if self._runner is None:
            self._user_class = user_class
            env = Environment(user_classes=[user_class], host=self.host)
            env.events.request.add_listener(self.recorder.on_request)
            self._runner = env.create_local_runner()
        self._runner.start(users, spawn_rate=max(1.0, users / spawn_seconds))

    def stop(self) -> None:
        if self._runner is not None:
            self.recorder.close()
            self._runner.quit()
            self._runner = None
