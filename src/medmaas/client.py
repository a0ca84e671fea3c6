"""A Python client for the medmaas service, over httpx.

>>> client = Client("http://127.0.0.1:8000", api_key="mm_...")  # doctest: +SKIP
>>> client.predict("breast-cancer-wdbc", rows=[{...}])["predictions"][0]["probability"]  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson

from medmaas.exceptions import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    MedmaasError,
    NotFoundError,
    OverloadedError,
    PayloadTooLargeError,
    PermissionDeniedError,
)

_ERRORS: dict[int, type[MedmaasError]] = {
    401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError, 409: ConflictError,
    413: PayloadTooLargeError, 422: InvalidInputError, 503: OverloadedError,
}


class Client:
    """The same operations as the CLI, against a running server; errors raise the same classes."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        http = _httpx_of(transport)
        self._http = http.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            # medmaas and V2 errors say {"error": ...}; FHIR routes answer an OperationOutcome.
            issues = body.get("issue") or [{}]
            message = body.get("error") or issues[0].get("diagnostics") or response.text
            raise _ERRORS.get(response.status_code, MedmaasError)(f"{response.status_code}: {message}")
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith(("application/json", "application/fhir+json")):
            return response.json()
        return response.content

    # ---- models -----------------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/models")["models"]  # type: ignore[no-any-return]

    def model(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/models/{name}")  # type: ignore[no-any-return]

    def version(self, name: str, ref: str | int = "production") -> dict[str, Any]:
        return self._call("GET", f"/v1/models/{name}/versions/{ref}")  # type: ignore[no-any-return]

    def promote(self, name: str, version: int, stage: str, reason: str = "") -> dict[str, Any]:
        return self._call("POST", f"/v1/models/{name}/versions/{version}/promote",  # type: ignore[no-any-return]
                          json={"stage": stage, "reason": reason})

    # ---- predictions ------------------------------------------------------------------
    def predict(self, name: str, rows: list[dict[str, Any]], *, version: str | int | None = None,
                explain: bool = False, deidentify: bool = True) -> dict[str, Any]:
        """Predictions for ``rows``; text models de-identify each note first unless
        ``deidentify=False`` (which needs the text:identified permission)."""
        params = {"version": str(version)} if version is not None else None
        body: dict[str, Any] = {"rows": rows, "explain": explain}
        if not deidentify:
            body["deidentify"] = False
        return self._call("POST", f"/v1/models/{name}/predict", params=params,  # type: ignore[no-any-return]
                          json=body)

    def explain(self, name: str, rows: list[dict[str, Any]], top_k: int = 10,
                deidentify: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {"rows": rows, "top_k": top_k}
        if not deidentify:
            body["deidentify"] = False
        return self._call("POST", f"/v1/models/{name}/explain", json=body)  # type: ignore[no-any-return]

    def predict_csv(self, name: str, path: Path | str, *, id_column: str | None = None) -> dict[str, Any]:
        params = {"id_column": id_column} if id_column else None
        return self._call("POST", f"/v1/models/{name}/predict/csv", params=params,  # type: ignore[no-any-return]
                          content=Path(path).read_bytes(), headers={"Content-Type": "text/csv"})

    def predict_file(self, name: str, *paths: Path | str, explain: bool = False,
                     version: str | int | None = None, **options: str | float) -> dict[str, Any]:
        """Predictions for one uploaded file — an image, or an ECG recording given as its WFDB
        header and data files (or an EDF, a CSV, a .zip of a record). ``options`` go to the
        model's reader, e.g. ``sampling_rate=250`` for a CSV without a time column.

        >>> client.predict_file("ecg-arrhythmia-beats", "100.hea", "100.dat")  # doctest: +SKIP
        """
        if not paths:
            raise ValueError("give at least one file")
        params: dict[str, str] = {k: str(v) for k, v in options.items()}
        if version is not None:
            params["version"] = str(version)
        route = "explain" if explain else "predict"
        files = [("file", (Path(p).name, Path(p).read_bytes())) for p in paths]
        return self._call("POST", f"/v1/models/{name}/{route}/file", params=params,  # type: ignore[no-any-return]
                          files=files)

    def predict_fhir(self, name: str, bundle: dict[str, Any] | Path | str, *, version: str | int | None = None,
                     at: str | None = None, explain: bool = True) -> dict[str, Any]:
        """A FHIR R4 RiskAssessment for one patient's Bundle (a dict, or a .json file);
        ``at`` is the prediction time (FHIR dateTime), default now."""
        content = Path(bundle).read_bytes() if isinstance(bundle, Path | str) else orjson.dumps(bundle)
        params = {"model": name, "explain": str(explain).lower()}
        params |= {"version": str(version)} if version is not None else {}
        params |= {"at": at} if at is not None else {}
        return self._call("POST", "/fhir/r4/RiskAssessment/$predict", params=params,  # type: ignore[no-any-return]
                          content=content, headers={"Content-Type": "application/fhir+json"})

    # ---- keys, audit, jobs ------------------------------------------------------------
    def create_key(self, name: str, role: str) -> dict[str, Any]:
        return self._call("POST", "/v1/keys", json={"name": name, "role": role})  # type: ignore[no-any-return]

    def revoke_key(self, key_id: str) -> None:
        self._call("DELETE", f"/v1/keys/{key_id}")

    def audit(self, n: int = 50, *, action: str | None = None, actor: str | None = None,
              before: int | None = None) -> list[dict[str, Any]]:
        """The last ``n`` matching events, oldest first; ``before`` = the oldest ``seq`` of the
        previous page gives the page before it."""
        params = {"n": n, "action": action, "actor": actor, "before": before}
        return self._call("GET", "/v1/audit",  # type: ignore[no-any-return]
                          params={k: v for k, v in params.items() if v is not None})

    def verify_audit(self) -> dict[str, Any]:
        return self._call("GET", "/v1/audit/verify")  # type: ignore[no-any-return]

    def jobs(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/jobs")  # type: ignore[no-any-return]


def _httpx_of(transport: Any) -> Any:
    """httpx, or its successor httpx2 when the given transport is one of its (Starlette's test
    client uses httpx2 where it is installed; huggingface_hub installs it)."""
    if transport is None or isinstance(transport, httpx.BaseTransport):
        return httpx
    try:
        import httpx2
    except ImportError:
        httpx2 = None
    if httpx2 is not None and isinstance(transport, httpx2.BaseTransport):
        return httpx2
    raise TypeError(f"transport must be an httpx transport; got {type(transport).__name__}")
