"""The serving path under concurrency, on a real uvicorn server on loopback: batching hands
every client its own answer, a full queue answers 503 + Retry-After, every answered request
is in the audit log, models unload and reload to the same predictions."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import breast_cancer_frame

pytestmark = pytest.mark.integration


def _rows(n: int) -> list[dict[str, Any]]:
    frame = breast_cancer_frame().drop(columns=["diagnosis"]).head(n)
    return frame.to_dict(orient="records")


@contextmanager
def live_server(home: Path, **overrides: Any) -> Iterator[tuple[str, dict[str, str], Any]]:
    """(base URL, {role: key}, app state) of medmaas served by uvicorn in a thread."""
    import uvicorn

    from medmaas.api.app import build_state, create_app
    from medmaas.settings import Settings

    settings = Settings(home=home, **{"rate_limit_per_s": 0, **overrides})  # bursts from one key
    state = build_state(settings)
    keys = {role: state.keys.create(f"{role}-key", role, created_by="test")[0]
            for role in ("clinician", "auditor")}
    config = uvicorn.Config(create_app(settings, state=state), host="127.0.0.1", port=0,
                            log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", keys, state
    finally:
        server.should_exit = True
        thread.join(10)
        state.close()
        state.registry.close()


async def _post_all(base: str, key: str, bodies: list[bytes], path: str = "/v1/models/wdbc/predict") -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        return await asyncio.gather(*(client.post(path, content=b, headers=headers) for b in bodies))


def _bodies(n: int) -> list[bytes]:
    return [orjson.dumps({"rows": [row]}) for row in _rows(n)]


def test_concurrent_clients_each_get_their_own_prediction(home: Path) -> None:
    bodies = _bodies(96)
    with live_server(home) as (base, keys, state):
        one_by_one = [r.json()["predictions"][0] for b in bodies
                      for r in asyncio.run(_post_all(base, keys["clinician"], [b]))]
        calls_before = sum(b.calls for b in state.models._batchers.values())
        together = asyncio.run(_post_all(base, keys["clinician"], bodies))
        calls = sum(b.calls for b in state.models._batchers.values()) - calls_before
    assert [r.status_code for r in together] == [200] * len(bodies)
    # Rows batched together go through different float32 kernels than a lone row: the same
    # answer, up to the last bit of a float32 (then rounded to 6 decimals).
    for response, alone in zip(together, one_by_one, strict=True):
        joined = response.json()["predictions"][0]
        assert joined["probability"] == pytest.approx(alone["probability"], abs=2e-6)
        assert {k: v for k, v in joined.items() if k not in ("probability", "probabilities")} == \
            {k: v for k, v in alone.items() if k not in ("probability", "probabilities")}
    assert len({p["probability"] for p in one_by_one}) > 20, "inputs should differ"
    assert calls < len(bodies), "concurrent requests were never joined into one call"


def test_every_answered_request_is_in_the_audit_log(home: Path) -> None:
    bodies = _bodies(150)
    with live_server(home) as (base, keys, state):
        responses = asyncio.run(_post_all(base, keys["clinician"], bodies))
        assert all(r.status_code == 200 for r in responses)
        events = state.audit.tail(1000, action="model.predict")
        assert state.audit.verify().ok
    assert sorted(e.input_sha256 for e in events) == sorted(hashlib.sha256(b).hexdigest() for b in bodies)
    assert state.writer.commits < len(bodies), "audit events were not group-committed"


def test_a_full_queue_answers_503_with_retry_after(home: Path, monkeypatch: Any) -> None:
    from medmaas.runtime import loaded
    from medmaas.runtime.batcher import CallCost

    real_run = loaded.LoadedModel.run

    def slow_run(self: Any, feeds: Any) -> Any:
        time.sleep(0.05)
        return real_run(self, feeds)

    # A model that takes 50 ms a call runs in worker threads; two rows may wait.
    monkeypatch.setattr(loaded.LoadedModel, "run", slow_run)
    monkeypatch.setattr(loaded, "measure_cost", lambda run, feeds_for: CallCost(fixed_s=0.05))
    bodies = _bodies(40)
    with live_server(home, batch_max_rows=1, batch_queue_rows=2) as (base, keys, state):
        responses = asyncio.run(_post_all(base, keys["clinician"], bodies))
        events = state.audit.tail(1000, action="model.predict")
    codes = [r.status_code for r in responses]
    assert set(codes) == {200, 503}, codes
    refused = [r for r in responses if r.status_code == 503]
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert all("queue is full" in r.json()["error"] and r.json()["request_id"] for r in refused)
    served = {hashlib.sha256(b).hexdigest() for b, r in zip(bodies, responses, strict=True)
              if r.status_code == 200}
    assert {e.input_sha256 for e in events} == served


def test_unloading_and_reloading_gives_the_same_predictions(api: Any) -> None:
    client, keys = api
    state = client.app.fastapi.state.medmaas
    headers = {"Authorization": f"Bearer {keys['clinician']}"}
    first = client.post("/v1/models/wdbc/predict", headers=headers, json={"rows": _rows(5)}).json()
    assert [k[1] for k in state.models.loaded()] == ["wdbc"]
    assert state.models.unload("default", "wdbc") == [("default", "wdbc", 1)]
    assert state.models.loaded() == []
    again = client.post("/v1/models/wdbc/predict", headers=headers, json={"rows": _rows(5)}).json()
    assert again["predictions"] == first["predictions"]
    assert state.models.unload_idle(now=time.monotonic() + 10 * 3600) == [("default", "wdbc", 1)]
    third = client.post("/v1/models/wdbc/predict", headers=headers, json={"rows": _rows(5)}).json()
    assert third["predictions"] == first["predictions"]


def test_the_fastapi_route_answers_like_the_data_plane(api: Any) -> None:
    from fastapi.testclient import TestClient

    client, keys = api
    headers = {"Authorization": f"Bearer {keys['clinician']}"}
    payload = {"rows": _rows(3)}
    fast = client.post("/v1/models/wdbc/predict", headers=headers, json=payload)
    with TestClient(client.app.control) as control:  # FastAPI behind its middleware only
        slow = control.post("/v1/models/wdbc/predict", headers=headers, json=payload)
        bad = control.post("/v1/models/wdbc/predict", headers=headers, json={"rows": [], "x": 1})
    assert fast.status_code == slow.status_code == 200
    assert fast.json()["predictions"] == slow.json()["predictions"]
    assert bad.status_code == 422 and "extra" in bad.json()["error"]
    assert fast.headers["x-content-type-options"] == slow.headers["x-content-type-options"] == "nosniff"


def test_the_data_plane_honours_the_cors_allow_list(home: Path) -> None:
    from fastapi.testclient import TestClient

    from medmaas.api.app import build_state, create_app
    from medmaas.settings import Settings

    settings = Settings(home=home, cors_origins=["https://ehr.example"])
    state = build_state(settings)
    key = state.keys.create("ehr", "clinician", created_by="test")[0]
    body = {"rows": _rows(1)}
    try:
        with TestClient(create_app(settings, state=state)) as client:
            allowed = client.post("/v1/models/wdbc/predict", json=body, headers={
                "Authorization": f"Bearer {key}", "Origin": "https://ehr.example"})
            other = client.post("/v1/models/wdbc/predict", json=body, headers={
                "Authorization": f"Bearer {key}", "Origin": "https://evil.example"})
            preflight = client.options("/v1/models/wdbc/predict", headers={
                "Origin": "https://ehr.example", "Access-Control-Request-Method": "POST"})
    finally:
        state.close()
        state.registry.close()
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ehr.example"
    assert "access-control-allow-origin" not in other.headers
    assert preflight.headers["access-control-allow-origin"] == "https://ehr.example"
