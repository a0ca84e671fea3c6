"""Micro-batching: concurrent requests for one model joined into one onnxruntime call.

An EHR sends one patient at a time, from many users at once. Each onnxruntime call has a fixed
cost (about 10 µs for a small tree ensemble, far more for a CNN), so the server gains by
running the rows of requests that are waiting together in one call and handing each request
back its own rows.

When a batch starts:

* at the end of the event-loop turn in which its first request arrived, so requests that
  arrived together ride together and a lone request waits for nothing;
* when the model is busy in a worker thread, as soon as it is free (requests that came in
  meanwhile are the next batch);
* under sustained concurrency (the last batch was shared) and with ``window_s`` > 0, after at
  most ``window_s`` more, to let a batch fill;
* at once when it holds ``max_batch_rows`` rows.

Small, fast calls run on the event loop itself (a thread hop costs more than the call);
calls that the model's measured cost says would take longer than ``inline_budget_s`` run in
a worker thread so the loop keeps serving. The queue holds at most ``max_queue_rows`` rows:
past that, requests are refused with :class:`OverloadedError` (HTTP 503 + Retry-After), never
dropped and never queued without limit.

A row's result does not depend on which rows share its call, except in the last bit of a
float32: onnxruntime sums in a different order for a matrix than for a single row (seen: a
probability of 0.9999995 rounded to 0.999999 alone and to 1.0 in a batch).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from medmaas.exceptions import OverloadedError

logger = logging.getLogger(__name__)

Feeds = Mapping[str, np.ndarray]
Outputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class BatchingConfig:
    # No timer by default: measured in-process with 8 concurrent one-row requests, a 1 ms
    # window cost 230 µs a request against 71 µs without, since the event loop sat idle
    # waiting for it; joining what arrives together and what queues behind a busy model
    # already fills batches.
    window_s: float = 0.0
    max_batch_rows: int = 256
    max_queue_rows: int = 8192
    inline_budget_s: float = 0.0005


@dataclass(frozen=True)
class CallCost:
    """Seconds an inference call takes: ``fixed + per_row * rows`` (measured at load)."""

    fixed_s: float = 0.0
    per_row_s: float = 0.0

    def estimate(self, rows: int) -> float:
        return self.fixed_s + self.per_row_s * rows


class _Request:
    __slots__ = ("feeds", "n", "future")

    def __init__(self, feeds: Feeds, n: int, future: asyncio.Future[Outputs]) -> None:
        self.feeds = feeds
        self.n = n
        self.future = future


class MicroBatcher:
    """Batches ``run(feeds) -> outputs`` calls for one loaded model on one event loop.

    Every output's first axis must be the row axis (it is for every medmaas kind): that is
    how a batch's outputs are split back.
    """

    def __init__(self, run: Callable[[Feeds], Outputs], *, cost: CallCost = CallCost(),
                 config: BatchingConfig = BatchingConfig(), executor: Executor | None = None) -> None:
        self._run = run
        self.cost = cost
        self.config = config
        self._executor = executor
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._scheduled = False
        self._busy = False
        self._shared = False  # whether the last batch served more than one request
        #: Calls made and requests served, for metrics and tests.
        self.calls = 0
        self.requests = 0

    async def run(self, feeds: Feeds, n: int) -> Outputs:
        """This request's outputs (its ``n`` rows), computed in a batch with whoever else waits."""
        limit = self.config.max_queue_rows
        if self._queued_rows and self._queued_rows + n > limit:
            drain_s = self.cost.estimate(self._queued_rows)
            raise OverloadedError(
                f"model queue is full ({self._queued_rows} rows waiting, limit {limit}); try again shortly",
                retry_after_s=max(1.0, drain_s),
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outputs] = loop.create_future()
        self._queue.append(_Request(feeds, n, future))
        self._queued_rows += n
        if self._queued_rows >= self.config.max_batch_rows and not self._busy:
            self._flush()
        elif not self._scheduled and not self._busy:
            self._scheduled = True
            if self._shared and self.config.window_s > 0:
                loop.call_later(self.config.window_s, self._flush)
            else:
                loop.call_soon(self._flush)
        return await future

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    # -- forming and running batches --------------------------------------------------------

    def _take(self) -> list[_Request]:
        batch, rows = [], 0
        cap = self.config.max_batch_rows
        while self._queue and (not batch or rows + self._queue[0].n <= cap):
            request = self._queue.popleft()
            if request.future.done():  # cancelled while waiting: the client went away
                self._queued_rows -= request.n
                continue
            batch.append(request)
            rows += request.n
        self._queued_rows -= rows
        return batch

    def _flush(self) -> None:
        self._scheduled = False
        if self._busy:
            return  # the running batch flushes again when it finishes
        batch = self._take()
        if not batch:
            return
        self._shared = len(batch) > 1
        rows = sum(r.n for r in batch)
        if self._executor is None or self.cost.estimate(rows) <= self.config.inline_budget_s:
            self._finish(batch, *self._call(batch))
            self._next()
        else:
            self._busy = True
            loop = asyncio.get_running_loop()
            done = loop.run_in_executor(self._executor, self._call, batch)
            done.add_done_callback(lambda f: self._after_thread(batch, f))

    def _after_thread(self, batch: list[_Request], done: asyncio.Future[Any]) -> None:
        self._busy = False
        try:
            outputs, error = done.result()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting requests
            outputs, error = None, exc
        self._finish(batch, outputs, error)
        self._next()

    def _next(self) -> None:
        if self._queue and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _call(self, batch: list[_Request]) -> tuple[list[Outputs] | None, BaseException | None]:
        """Run one batch; on failure, run its requests one by one so an error lands only on
        the request that caused it."""
        started = time.perf_counter()
        try:
            outputs = self._run_joined(batch)
        except Exception as exc:
            if len(batch) == 1:
                return None, exc
            return self._one_by_one(batch), None
        self.calls += 1
        self.requests += len(batch)
        self._observe(sum(r.n for r in batch), time.perf_counter() - started)
        return outputs, None

    def _run_joined(self, batch: list[_Request]) -> list[Outputs]:
        if len(batch) == 1:
            return [self._run(batch[0].feeds)]
        names = batch[0].feeds.keys()
        joined = {name: join_feeds([r.feeds[name] for r in batch]) for name in names}
        outputs = self._run(joined)
        parts, start = [], 0
        for request in batch:
            stop = start + request.n
            parts.append({name: value[start:stop] for name, value in outputs.items()})
            start = stop
        return parts

    def _one_by_one(self, batch: list[_Request]) -> list[Any]:
        results: list[Any] = []
        for request in batch:
            try:
                results.append(self._run(request.feeds))
            except Exception as exc:
                results.append(exc)
        return results

    def _finish(self, batch: list[_Request], outputs: list[Any] | None,
                error: BaseException | None) -> None:
        for i, request in enumerate(batch):
            if request.future.done():
                continue
            result = outputs[i] if outputs is not None else error
            if isinstance(result, BaseException):
                request.future.set_exception(result)
            else:
                request.future.set_result(result)

    def _observe(self, rows: int, seconds: float) -> None:
        # Keep the per-row cost current (a model can be slower than at load, e.g. under
        # memory pressure); the fixed part stays as measured at load.
        per_row = max(0.0, (seconds - self.cost.fixed_s) / max(rows, 1))
        self.cost = CallCost(self.cost.fixed_s, 0.9 * self.cost.per_row_s + 0.1 * per_row)


def join_feeds(parts: list[np.ndarray]) -> np.ndarray:
    """Requests stacked along the batch axis. Sequences of different lengths (token ids and
    their attention mask) are right-padded with zeros first: 0 is the padding id and a 0 in
    the mask hides it, so a note's prediction does not change with its neighbours."""
    widths = {p.shape[1:] for p in parts}
    if len(widths) > 1 and all(p.ndim == 2 for p in parts):
        width = max(p.shape[1] for p in parts)
        parts = [np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in parts]
    return np.concatenate(parts)


def measure_cost(run: Callable[[Feeds], Outputs], feeds_for: Callable[[int], Feeds],
                 repeats: int = 20) -> CallCost:
    """Fit ``fixed + per_row * rows`` from timed calls with 1 and 64 rows (best of ``repeats``)."""

    def best(rows: int) -> float:
        feeds = feeds_for(rows)
        run(feeds)
        times: list[float] = []
        # A few calls are enough for a slow model (a CNN): stop after ~50 ms.
        while len(times) < repeats and sum(times) < 0.05:
            started = time.perf_counter()
            run(feeds)
            times.append(time.perf_counter() - started)
        return min(times)

    one, many = best(1), best(64)
    per_row = max(0.0, (many - one) / 63)
    return CallCost(fixed_s=max(0.0, one - per_row), per_row_s=per_row)
