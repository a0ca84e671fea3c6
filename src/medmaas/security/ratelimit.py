"""Per-key rate limiting: a token bucket for each API key.

Each key may make ``rate`` requests per second on average and up to ``burst`` at once; past
that, requests are refused with :class:`~medmaas.exceptions.RateLimitedError` (HTTP 429 and a
Retry-After that says when the next request would be let through). A bucket, not a fixed
window: a client that spreads its calls is never refused, one that bursts gets exactly
``burst`` before it must wait, and there is no window edge at which twice the rate gets in.

The check is a dict lookup and a little arithmetic under a lock, paid on every authenticated
request. Buckets live in this process only (scale-out replicas each count their own), and a key
idle long enough to have a full bucket is dropped, so memory follows the number of keys active
in the last ``burst / rate`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from medmaas.exceptions import RateLimitedError


class RateLimiter:
    """Token buckets keyed by API key id; ``rate`` <= 0 turns limiting off.

    >>> limiter = RateLimiter(rate=1.0, burst=2, clock=lambda: 0.0)
    >>> limiter.check("k1"); limiter.check("k1")
    >>> limiter.check("k1")
    Traceback (most recent call last):
    ...
    medmaas.exceptions.RateLimitedError: rate limit of 1 requests/s (burst 2) exceeded for this API key; retry in 1.0 s
    """

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._lock = threading.Lock()
        self._last_sweep = clock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key_id: str) -> None:
        """Take one token for ``key_id``, or raise RateLimitedError saying when to retry."""
        if self.rate <= 0:
            return
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise RateLimitedError(
                    f"rate limit of {self.rate:g} requests/s (burst {self.burst}) exceeded for this "
                    f"API key; retry in {wait:.1f} s", retry_after_s=wait)
            self._buckets[key_id] = (tokens - 1.0, now)
            if now - self._last_sweep > self.burst / self.rate + 60:
                self._sweep(now)

    def _sweep(self, now: float) -> None:
        # A bucket that has refilled completely holds nothing a fresh one would not.
        full = self.burst / self.rate
        for key_id in [k for k, (_, at) in self._buckets.items() if now - at >= full]:
            del self._buckets[key_id]
        self._last_sweep = now
