"""Transmission security and abuse limits: HTTPS with TLS 1.2 or newer only, security headers on
every answer, and per-key rate limits (429 with Retry-After) on every protocol."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from medmaas.security.ratelimit import RateLimiter

pytestmark = pytest.mark.integration

ROW = {"rows": [{"mean radius": 14.0}]}


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@contextmanager
def _https_server(home: Path, cert: Path, key: Path) -> Iterator[tuple[int, str, Any]]:
    from medmaas.api.app import build_state, create_app
    from medmaas.cli.serve import uvicorn_server
    from medmaas.settings import Settings

    settings = Settings(home=home, tls_certfile=cert, tls_keyfile=key)
    state = build_state(settings)
    plaintext, _ = state.keys.create("tls", "clinician", created_by="test")
    server = uvicorn_server(create_app(settings, state=state), settings, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1], plaintext, server
    finally:
        server.should_exit = True
        thread.join(10)
        state.close()
        state.registry.close()


def _client_context(cert: Path, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = version
    return context


def test_https_serves_tls_1_2_and_1_3_and_refuses_older(home: Path, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with _https_server(home, cert, key) as (port, api_key, server):
        assert server.config.ssl.minimum_version == ssl.TLSVersion.TLSv1_2
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with httpx.Client(verify=_client_context(cert, version)) as client:
                answer = client.get(f"https://localhost:{port}/v1/models",
                                    headers={"Authorization": f"Bearer {api_key}"})
            assert answer.status_code == 200
            assert answer.headers["strict-transport-security"].startswith("max-age=")
        for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            try:
                with warnings.catch_warnings():  # asking for the deprecated versions is the point
                    warnings.simplefilter("ignore", DeprecationWarning)
                    context = _client_context(cert, version)
                context.set_ciphers("ALL:@SECLEVEL=0")  # let the client offer what it may
            except (ValueError, ssl.SSLError):
                continue  # this OpenSSL cannot even offer the old version: nothing to refuse
            with pytest.raises((httpx.ConnectError, ssl.SSLError)):
                httpx.get(f"https://localhost:{port}/livez", verify=context)


def test_serve_refuses_half_or_missing_tls_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.test_cli import run

    cert, _ = _self_signed(tmp_path)
    code, _, err = run(capsys, tmp_path / "h", "serve", "--tls-cert", str(cert))
    assert code == 1 and "--tls-key" in err
    code, _, err = run(capsys, tmp_path / "h", "serve", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "no.pem"))
    assert code == 1 and "no file at" in err
    (tmp_path / "bad.pem").write_text("not a key")
    code, _, err = run(capsys, tmp_path / "h", "serve", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "bad.pem"))
    assert code == 1 and "cannot use the TLS certificate and key" in err


def _limited(home: Path) -> Any:
    from tests.conftest import serve

    return serve(home, rate_limit_per_s=1.0, rate_limit_burst=3)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_each_key_gets_its_burst_then_429_with_retry_after_in_each_protocols_shape(home: Path) -> None:
    v2_body = {"inputs": [{"name": "mean radius", "shape": [1, 1], "datatype": "FP32", "data": [14.0]}]}
    calls = {
        "rest": lambda c, k: c.post("/v1/models/wdbc/predict", json=ROW, headers=_bearer(k)),
        "control": lambda c, k: c.get("/v1/models", headers=_bearer(k)),
        "v2": lambda c, k: c.post("/v2/models/wdbc/infer", json=v2_body, headers=_bearer(k)),
        "fhir": lambda c, k: c.post("/fhir/r4/RiskAssessment/$predict?model=wdbc", json={}, headers=_bearer(k)),
    }
    for client, _keys in _limited(home):
        # one fresh key per protocol, so each starts with a full bucket
        state = client.app.fastapi.state.medmaas
        for protocol, call in calls.items():
            key = state.keys.create(f"limited-{protocol}", "clinician", created_by="test")[0]
            first = [call(client, key) for _ in range(3)]
            assert all(r.status_code != 429 for r in first), (protocol, [r.status_code for r in first])
            refused = call(client, key)
            assert refused.status_code == 429, (protocol, refused.text)
            assert int(refused.headers["retry-after"]) >= 1
            if protocol == "fhir":
                assert refused.json()["resourceType"] == "OperationOutcome"
                assert refused.json()["issue"][0]["code"] == "throttled"
            else:
                assert "rate limit" in refused.json()["error"]
            # another key is not held back by this one
            other = state.keys.create(f"other-{protocol}", "clinician", created_by="test")[0]
            assert call(client, other).status_code != 429


def test_a_refused_caller_gets_through_again_once_its_bucket_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    with pytest.raises(Exception, match="retry in 0.5 s") as refused:
        limiter.check("a")
    assert refused.value.retry_after_s == pytest.approx(0.5)
    limiter.check("b")  # buckets are per key
    now[0] = 0.5
    limiter.check("a")
    now[0] = 10.0
    limiter.check("a")
    limiter.check("a")
    assert RateLimiter(rate=0, burst=1).enabled is False


def test_every_answer_carries_the_security_headers(api: Any) -> None:
    client, keys = api
    answers = [
        client.get("/livez"),
        client.get("/v1/models", headers=_bearer(keys["clinician"])),
        client.get("/v1/models"),  # 401
        client.post("/v1/models/wdbc/predict", json=ROW, headers=_bearer(keys["clinician"])),
        client.post("/v1/models/wdbc/predict", content=b"{", headers=_bearer(keys["clinician"])),
        client.get("/fhir/r4/metadata", headers=_bearer(keys["clinician"])),
        client.get("/v2/models/nope", headers=_bearer(keys["clinician"])),
    ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert len(answer.headers["x-request-id"]) == 32
        assert "strict-transport-security" not in answer.headers  # plain HTTP: HSTS means nothing
