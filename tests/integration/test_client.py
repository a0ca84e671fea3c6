"""The Python client against the real app (over an in-process transport)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import breast_cancer_frame

from medmaas import Client
from medmaas.exceptions import InvalidInputError, NotFoundError, PermissionDeniedError

pytestmark = pytest.mark.integration


def test_client_round_trip(api: Any) -> None:
    test_client, keys = api
    clinician = Client(api_key=keys["clinician"], transport=test_client._transport,
                       base_url="http://testserver")
    rows = breast_cancer_frame().drop(columns=["diagnosis"]).head(2).to_dict(orient="records")
    assert {m["name"] for m in clinician.models()} >= {"wdbc"}
    result = clinician.predict("wdbc", rows, explain=True)
    assert len(result["predictions"]) == 2 and "explanation" in result["predictions"][0]
    with pytest.raises(PermissionDeniedError):
        clinician.promote("wdbc", 1, "archived")
    with pytest.raises(NotFoundError):
        clinician.predict("nope", rows)
    with pytest.raises(InvalidInputError, match="unknown field"):
        clinician.predict("wdbc", [{**rows[0], "x": 1}])
    auditor = Client(api_key=keys["auditor"], transport=test_client._transport, base_url="http://testserver")
    assert auditor.verify_audit()["ok"]
