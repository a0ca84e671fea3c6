"""Image models over HTTP: arrays and uploaded files in, probabilities and heat maps out;
every kind of bad file refused with a 4xx that says why, and nothing recorded for it."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tests.image_builders import blob_images

pytestmark = pytest.mark.integration

SHARED = Path(os.environ.get("MEDMAAS_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
DICOM = SHARED / "imaging" / "dicom"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` × ``height`` grey pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def _dicom(name: str) -> bytes:
    path = DICOM / name
    if not path.exists():
        pytest.skip(f"shared imaging data not found at {DICOM}")
    return path.read_bytes()


def _predict_events(client: Any, keys: dict[str, str]) -> list[dict[str, Any]]:
    return client.get("/v1/audit?n=200&action=model.predict", headers=_auth(keys["auditor"])).json()


def test_json_arrays_predict_with_probabilities_and_sets(api: Any) -> None:
    client, keys = api
    images, y = blob_images(4, 16, seed=5)
    rows = [{"image": image.tolist()} for image in images]
    response = client.post("/v1/models/blobs/predict", headers=_auth(keys["clinician"]), json={"rows": rows})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 4
    for item in predictions:
        assert set(item["probabilities"]) == {"none", "blob"}
        assert sum(item["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert item["prediction_set"]
    # A 2D array without its channel axis is accepted for a one-channel model.
    plain = client.post("/v1/models/blobs/predict", headers=_auth(keys["clinician"]),
                        json={"rows": [{"image": images[0, 0].tolist()}]})
    assert plain.json()["predictions"][0]["probabilities"] == predictions[0]["probabilities"]


def test_png_upload_is_resized_predicted_audited_and_explained(api: Any) -> None:
    client, keys = api
    images, _ = blob_images(2, 32, seed=7)
    data = _png(images[1, 0])
    response = client.post("/v1/models/blobs/predict/file?filename=scan.png", headers=_auth(keys["clinician"]),
                           content=data, )
    assert response.status_code == 200, response.text
    item = response.json()["predictions"][0]
    assert item["input"]["source"] == "png"
    assert item["warnings"] == ["resized from 32×32 to 16×16"]
    event = _predict_events(client, keys)[0]
    assert event["input_sha256"] == hashlib.sha256(data).hexdigest()

    explained = client.post("/v1/models/blobs/explain/file", headers=_auth(keys["clinician"]),
                            files={"file": ("scan.png", data, "image/png")})
    assert explained.status_code == 200, explained.text
    explanation = explained.json()["predictions"][0]["explanation"]
    heatmap = np.asarray(explanation["heatmap"])
    assert heatmap.shape == (16, 16) and np.isfinite(heatmap).all()
    assert explanation["explained_class"] == "blob"
    overlay = Image.open(io.BytesIO(base64.b64decode(explanation["overlay_png"])))
    assert overlay.format == "PNG" and overlay.size[0] >= 224


def test_explain_needs_the_explain_permission(api: Any) -> None:
    client, keys = api
    data = _png(blob_images(1, 16)[0][0, 0])
    refused = client.post("/v1/models/blobs/explain/file", headers=_auth(keys["auditor"]), content=data)
    assert refused.status_code == 403


def test_a_ct_dicom_is_deidentified_windowed_and_predicted(api: Any) -> None:
    client, keys = api
    data = _dicom("pydicom__CT_small.dcm")
    response = client.post("/v1/models/blobs/predict/file", headers=_auth(keys["clinician"]),
                           content=data, params={"filename": "ct.dcm"})
    assert response.status_code == 200, response.text
    item = response.json()["predictions"][0]
    assert item["input"]["source"] == "dicom" and item["input"]["modality"] == "CT"
    assert any("Hounsfield" in note for note in item["input"]["notes"])
    text = response.text
    for identifier in ("CompressedSamples^CT1", "1CT1"):  # the file's PatientName and PatientID
        assert identifier not in text


@pytest.mark.parametrize(("make", "status", "words"), [
    (lambda: _dicom("pydicom__CT_small.dcm")[:20_000], 422, "truncated"),
    (lambda: _dicom("pydicom__rtplan.dcm"), 422, "no pixel data"),
    (lambda: _dicom("pydicom-data__US1_UNCR.dcm"), 422, "1-channel"),
    (lambda: _dicom("pydicom-data__emri_small.dcm"), 422, "2D images"),
    (lambda: _png_declaring(40_000, 40_000), 413, "40000"),
    (lambda: b"patient,age\nJohn,54\n", 422, ""),
    (lambda: b"", 422, "empty"),
], ids=["truncated-dicom", "no-pixel-data", "rgb-to-grey-model", "volume-to-2d-model",
        "decompression-bomb", "text-renamed-dcm", "empty"])
def test_bad_files_get_a_clear_4xx_and_nothing_is_recorded(api: Any, make: Any, status: int, words: str) -> None:
    client, keys = api
    before = len(_predict_events(client, keys))
    response = client.post("/v1/models/blobs/predict/file?filename=upload.dcm",
                           headers=_auth(keys["clinician"]), content=make())
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert words.lower() in message.lower()
    assert "Traceback" not in message
    assert len(_predict_events(client, keys)) == before


@pytest.mark.parametrize(("image", "words"), [
    (np.zeros((3, 16, 16)).tolist(), "1-channel"),
    (np.zeros((1, 4, 16, 16)).tolist(), "2D images"),
    (np.full((1, 16, 16), 300.0).tolist(), "0..255"),
    ([[1, 2], [3]], "rectangular"),
    ("not an image", "nested list"),
])
def test_bad_arrays_get_422_naming_the_row(api: Any, image: Any, words: str) -> None:
    client, keys = api
    response = client.post("/v1/models/blobs/predict", headers=_auth(keys["clinician"]),
                           json={"rows": [{"image": image}]})
    assert response.status_code == 422, response.text
    assert words in response.json()["error"] and "row 0" in response.json()["error"]


def test_tabular_models_refuse_file_uploads(api: Any) -> None:
    client, keys = api
    response = client.post("/v1/models/wdbc/predict/file", headers=_auth(keys["clinician"]), content=b"x")
    assert response.status_code == 422
    assert "JSON rows" in response.json()["error"]
