"""The REST service end to end over ASGI: auth, roles, predictions, limits, audit."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import breast_cancer_frame

pytestmark = pytest.mark.integration


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _rows(n: int = 2) -> list[dict[str, Any]]:
    frame = breast_cancer_frame().drop(columns=["diagnosis"]).head(n)
    return frame.to_dict(orient="records")


def _audit_ok(client: Any, keys: dict[str, str]) -> int:
    report = client.get("/v1/audit/verify", headers=_auth(keys["auditor"])).json()
    assert report["ok"], report
    return int(report["checked"])


def test_health_needs_no_key(api: Any) -> None:
    client, _ = api
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").json()["status"] == "ready"


def test_every_other_route_needs_a_key(api: Any) -> None:
    client, _ = api
    for method, path in [
        ("GET", "/v1/models"),
        ("POST", "/v1/models/wdbc/predict"),
        ("GET", "/v1/audit"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 401, path
        assert "credentials" in response.json()["error"]


def test_wrong_and_revoked_keys_are_refused(api: Any) -> None:
    client, keys = api
    wrong = client.get("/v1/models", headers=_auth(keys["clinician"][:-4] + "AAAA"))
    assert wrong.status_code == 401
    created = client.post(
        "/v1/keys", headers=_auth(keys["admin"]), json={"name": "temp", "role": "clinician"}
    )
    assert created.status_code == 201
    temp = created.json()
    assert client.get("/v1/models", headers=_auth(temp["api_key"])).status_code == 200
    assert (
        client.delete(f"/v1/keys/{temp['key_id']}", headers=_auth(keys["admin"])).status_code == 204
    )
    revoked = client.get("/v1/models", headers=_auth(temp["api_key"]))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["error"]


def test_predict_returns_probability_uncertainty_and_is_audited(api: Any) -> None:
    client, keys = api
    before = _audit_ok(client, keys)
    response = client.post(
        "/v1/models/wdbc/predict", headers=_auth(keys["clinician"]), json={"rows": _rows(3)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 1 and len(body["predictions"]) == 3
    first = body["predictions"][0]
    assert first["prediction"] in ("malignant", "benign")
    assert 0.0 <= first["probability"] <= 1.0
    assert set(first["probabilities"]) == {"benign", "malignant"}
    assert first["prediction_set"] and first["set_level"] == pytest.approx(0.9)
    events = client.get("/v1/audit?n=5&action=model.predict", headers=_auth(keys["auditor"])).json()
    assert events[0]["resource"] == "wdbc" and events[0]["version"] == 1
    assert len(events[0]["input_sha256"]) == 64
    assert "mean radius" not in str(events[0])  # the input itself is never stored
    assert _audit_ok(client, keys) == before + 1


def test_explain_gives_contributions_that_name_the_features(api: Any) -> None:
    client, keys = api
    response = client.post(
        "/v1/models/wdbc/explain",
        headers=_auth(keys["clinician"]),
        json={"rows": _rows(1), "top_k": 3},
    )
    assert response.status_code == 200, response.text
    explanation = response.json()["predictions"][0]["explanation"]
    assert len(explanation["contributions"]) == 3
    assert all(c["feature"] in _rows(1)[0] for c in explanation["contributions"])


def test_mixed_types_missing_values_and_unseen_categories(api: Any) -> None:
    client, keys = api
    rows = [
        {"age": 71, "lactate": None, "sex": "F", "ward": "icu"},
        {"age": 30, "lactate": 1.1, "sex": "M", "ward": "emergency"},
    ]
    response = client.post(
        "/v1/models/mixed/predict", headers=_auth(keys["clinician"]), json={"rows": rows}
    )
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert any("imputed" in w for w in predictions[0]["warnings"])
    assert any("not seen in training" in w for w in predictions[1]["warnings"])


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"rows": [{"mean radius": 1}]}, "missing field"),
        ({"rows": [{**_rows(1)[0], "bogus": 1}]}, "unknown field(s) 'bogus'"),
        ({"rows": [{**_rows(1)[0], "mean radius": "abc"}]}, "must be a number; got 'abc'"),
        ({"rows": []}, "empty"),
        ({"rows": _rows(1), "extra": True}, "extra"),
        ({}, "rows"),
    ],
)
def test_bad_requests_get_422_naming_the_problem(
    api: Any, payload: dict[str, Any], fragment: str
) -> None:
    client, keys = api
    response = client.post(
        "/v1/models/wdbc/predict", headers=_auth(keys["clinician"]), json=payload
    )
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]


def test_non_finite_numbers_are_refused(api: Any) -> None:
    client, keys = api
    body = (
        '{"rows": ['
        + "{"
        + ", ".join(
            f'"{k}": {"Infinity" if k == "mean area" else v}' for k, v in _rows(1)[0].items()
        )
        + "}]}"
    )
    response = client.post(
        "/v1/models/wdbc/predict",
        headers={**_auth(keys["clinician"]), "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 422
    assert "mean area" in response.json()["error"]


def test_empty_and_malformed_bodies(api: Any) -> None:
    client, keys = api
    headers = {**_auth(keys["clinician"]), "Content-Type": "application/json"}
    assert client.post("/v1/models/wdbc/predict", headers=headers, content=b"").status_code == 422
    assert (
        client.post("/v1/models/wdbc/predict", headers=headers, content=b"{not json").status_code
        == 422
    )


def test_oversized_body_and_too_many_rows_get_413(api: Any) -> None:
    client, keys = api
    before = _audit_ok(client, keys)
    big = b"x" * (50 * 1024 * 1024)
    response = client.post(
        "/v1/models/wdbc/predict",
        headers={**_auth(keys["clinician"]), "Content-Type": "application/json"},
        content=big,
    )
    assert response.status_code == 413
    assert "exceeds the limit" in response.json()["error"]
    many = client.post(
        "/v1/models/wdbc/predict", headers=_auth(keys["clinician"]), json={"rows": _rows(1) * 501}
    )
    assert many.status_code == 413
    assert _audit_ok(client, keys) == before


def test_csv_batch_prediction_and_malformed_csv(api: Any) -> None:
    client, keys = api
    frame = breast_cancer_frame().drop(columns=["diagnosis"]).head(5)
    frame.insert(0, "patient", [f"p{i}" for i in range(5)])
    ok = client.post(
        "/v1/models/wdbc/predict/csv?id_column=patient",
        headers={**_auth(keys["clinician"]), "Content-Type": "text/csv"},
        content=frame.to_csv(index=False).encode(),
    )
    assert ok.status_code == 200, ok.text
    assert [p["id"] for p in ok.json()["predictions"]] == [f"p{i}" for i in range(5)]
    bad = client.post(
        "/v1/models/wdbc/predict/csv",
        headers={**_auth(keys["clinician"]), "Content-Type": "text/csv"},
        content=b"a,b,c\n1,2\n3,4,5,6\n",
    )
    assert bad.status_code == 422
    assert "row" in bad.json()["error"]


def test_roles_follow_the_permission_table(api: Any) -> None:
    client, keys = api
    promote = {"stage": "staging"}
    denied = client.post(
        "/v1/models/mixed/versions/1/promote", headers=_auth(keys["clinician"]), json=promote
    )
    assert denied.status_code == 403
    assert "clinician" in denied.json()["error"]
    assert client.get("/v1/audit", headers=_auth(keys["developer"])).status_code == 403
    assert (
        client.post(
            "/v1/keys", headers=_auth(keys["developer"]), json={"name": "x", "role": "admin"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/models/wdbc/predict", headers=_auth(keys["auditor"]), json={"rows": _rows(1)}
        ).status_code
        == 403
    )
    events = client.get("/v1/audit?n=10", headers=_auth(keys["auditor"])).json()
    assert any(e["outcome"] == "denied" and e["detail"]["permission"] == "models:promote" for e in events)
    allowed = client.post(
        "/v1/models/mixed/versions/1/promote", headers=_auth(keys["developer"]), json=promote
    )
    assert allowed.status_code == 200 and allowed.json()["stage"] == "staging"
    _audit_ok(client, keys)


def test_promotion_moves_production_and_keeps_history(api: Any) -> None:
    client, keys = api
    admin = _auth(keys["admin"])
    assert (
        client.post(
            "/v1/models/mixed/versions/1/promote",
            headers=admin,
            json={"stage": "production", "reason": "validated"},
        ).status_code
        == 200
    )
    model = client.get("/v1/models/mixed", headers=admin).json()
    assert model["production_version"] == 1
    history = client.get("/v1/models/mixed/history", headers=admin).json()
    assert history[-1]["to_stage"] == "production" and history[-1]["reason"] == "validated"
    bad_stage = client.post(
        "/v1/models/mixed/versions/1/promote", headers=admin, json={"stage": "live"}
    )
    assert bad_stage.status_code == 422
    missing = client.post(
        "/v1/models/mixed/versions/9/promote", headers=admin, json={"stage": "staging"}
    )
    assert missing.status_code == 404


def test_catalog_card_and_plots(api: Any) -> None:
    client, keys = api
    headers = _auth(keys["clinician"])
    catalog = client.get("/v1/models", headers=headers).json()
    names = {m["name"] for m in catalog["models"]}
    assert {"wdbc", "mixed"} <= names
    detail = client.get("/v1/models/wdbc/versions/production", headers=headers).json()
    auroc = detail["card"]["evaluation"]["metrics"]["auroc"]
    assert auroc["ci_low"] is not None
    # The catalog's key metric carries the card's interval (it used to be dropped at registration).
    wdbc = next(m for m in catalog["models"] if m["name"] == "wdbc")
    assert wdbc["headline"] == {"name": "auroc", "value": auroc["value"], "ci": [auroc["ci_low"], auroc["ci_high"]]}
    assert wdbc["updated_at"] is not None
    assert detail["spec"]["kind"] == "tabular"
    card = client.get("/v1/models/wdbc/versions/1/card.md", headers=headers)
    assert card.status_code == 200 and "AUROC" in card.text.upper()
    png = client.get("/v1/models/wdbc/versions/1/plots/roc.png", headers=headers)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert (
        client.get("/v1/models/wdbc/versions/1/plots/..%2Fspec.json", headers=headers).status_code
        == 404
    )
    assert client.get("/v1/models/nope", headers=headers).status_code == 404


def test_security_headers_and_no_cors_by_default(api: Any) -> None:
    client, _ = api
    response = client.get("/livez", headers={"Origin": "https://evil.example"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["x-request-id"]
