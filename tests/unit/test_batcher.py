"""Micro-batching: each caller gets its own rows, batches respect their cap, a full queue
refuses with 503 semantics, a lone request never waits for a window."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from medmaas.exceptions import OverloadedError
from medmaas.runtime.batcher import BatchingConfig, CallCost, MicroBatcher, measure_cost


class Recorder:
    """A fake model: doubles its input and records every call's batch size."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.sizes: list[int] = []
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = feeds["x"]
        if (x < 0).any():
            raise ValueError("negative input")
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.lock:
            self.sizes.append(len(x))
        return {"double": x * 2, "label": (x[:, 0] > 0).astype(np.int64)}


def _feeds(value: float, rows: int = 1) -> dict[str, np.ndarray]:
    return {"x": np.full((rows, 3), value, dtype=np.float32)}


async def _many(batcher: MicroBatcher, values: list[float], rows: int = 1) -> list[object]:
    return await asyncio.gather(*(batcher.run(_feeds(v, rows), rows) for v in values),
                                return_exceptions=True)


def test_concurrent_callers_get_their_own_rows_in_order() -> None:
    model = Recorder()
    batcher = MicroBatcher(model, config=BatchingConfig(window_s=0.0, max_batch_rows=64))
    values = [float(i) for i in range(1, 301)]
    results = asyncio.run(_many(batcher, values, rows=2))
    for value, out in zip(values, results, strict=True):
        assert isinstance(out, dict)
        np.testing.assert_array_equal(out["double"], np.full((2, 3), 2 * value, dtype=np.float32))
        assert out["label"].tolist() == [1, 1]
    assert sum(model.sizes) == 600
    assert len(model.sizes) < 300, "concurrent requests were not joined"
    assert max(model.sizes) <= 64
    assert batcher.requests == 300


def test_a_request_bigger_than_the_cap_runs_alone() -> None:
    model = Recorder()
    batcher = MicroBatcher(model, config=BatchingConfig(max_batch_rows=8))

    async def go() -> list[object]:
        return await asyncio.gather(batcher.run(_feeds(1.0, 20), 20), batcher.run(_feeds(2.0), 1))

    big, small = asyncio.run(go())
    assert big["double"].shape == (20, 3) and small["double"].tolist() == [[4.0] * 3]  # type: ignore[index]
    assert sorted(model.sizes) == [1, 20]


def test_a_lone_request_does_not_wait_for_the_window() -> None:
    # A 30 s window must not be paid when nobody else is waiting.
    batcher = MicroBatcher(Recorder(), config=BatchingConfig(window_s=30.0))

    async def go() -> object:
        first = await asyncio.wait_for(batcher.run(_feeds(1.0), 1), timeout=5)
        second = await asyncio.wait_for(batcher.run(_feeds(2.0), 1), timeout=5)
        return first, second

    asyncio.run(go())


def test_an_error_lands_only_on_the_request_that_caused_it() -> None:
    model = Recorder()
    batcher = MicroBatcher(model)
    results = asyncio.run(_many(batcher, [1.0, -1.0, 3.0]))
    assert isinstance(results[1], ValueError)
    assert results[0]["double"][0, 0] == 2.0 and results[2]["double"][0, 0] == 6.0  # type: ignore[index]


def test_a_full_queue_refuses_with_retry_after_and_serves_the_rest() -> None:
    model = Recorder(delay_s=0.02)
    with ThreadPoolExecutor(2) as pool:
        # A slow model (20 ms per call) runs in the pool; four rows may wait.
        batcher = MicroBatcher(model, cost=CallCost(fixed_s=0.02), executor=pool,
                               config=BatchingConfig(max_batch_rows=2, max_queue_rows=4))
        values = [float(i) for i in range(1, 41)]
        results = asyncio.run(_many(batcher, values))
    refused = [r for r in results if isinstance(r, OverloadedError)]
    served = [(v, r) for v, r in zip(values, results, strict=True) if isinstance(r, dict)]
    assert refused and served
    assert all(r.retry_after_s >= 1 for r in refused)
    for value, out in served:
        assert out["double"][0, 0] == 2 * value
    assert len(refused) + len(served) == len(values)
    assert max(model.sizes) <= 2


def test_slow_batches_run_in_a_thread_and_queue_behind_each_other() -> None:
    model = Recorder(delay_s=0.01)
    with ThreadPoolExecutor(2) as pool:
        batcher = MicroBatcher(model, cost=CallCost(fixed_s=0.01), executor=pool,
                               config=BatchingConfig(max_batch_rows=100))
        results = asyncio.run(_many(batcher, [float(i) for i in range(1, 51)]))
    assert all(isinstance(r, dict) for r in results)
    # While one call runs, the others wait and go together: far fewer calls than requests.
    assert len(model.sizes) <= 5


def test_measure_cost_fits_fixed_and_per_row_parts() -> None:
    cost = measure_cost(lambda feeds: {"y": feeds["x"]}, lambda rows: _feeds(0.0, rows))
    assert cost.fixed_s >= 0 and cost.per_row_s >= 0
    assert cost.estimate(10) >= cost.estimate(1)


@pytest.mark.parametrize("rows", [1, 7])
def test_cancelled_requests_are_skipped(rows: int) -> None:
    model = Recorder(delay_s=0.01)

    async def go() -> object:
        with ThreadPoolExecutor(1) as pool:
            batcher = MicroBatcher(model, cost=CallCost(fixed_s=1.0), executor=pool)
            first = asyncio.ensure_future(batcher.run(_feeds(1.0, rows), rows))
            await asyncio.sleep(0)
            doomed = asyncio.ensure_future(batcher.run(_feeds(2.0, rows), rows))
            await asyncio.sleep(0)
            doomed.cancel()
            out = await first
            await asyncio.sleep(0.05)
            return out, batcher.queued_rows

    out, queued = asyncio.run(go())
    assert out["double"][0, 0] == 2.0  # type: ignore[index]
    assert queued == 0
