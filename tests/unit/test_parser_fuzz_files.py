"""File readers under generated input: whatever an upload holds (a DICOM, PNG, JPEG or NIfTI
image, an .npy or MedMNIST .npz array file, a WFDB record, an EDF or CSV recording, a PhysioNet
stay file), the kind's decoding answers with the project's own input error (a 4xx with a
message) or a result whose arrays hold what they must, never another exception; and a declared
size beyond the limits is refused before it is allocated.

Inputs are arbitrary bytes, valid files built in memory and then mutated (a byte set, bits
flipped, bytes inserted or deleted, the file cut), and valid files rebuilt with random header
fields. A bounded number of examples per reader by default; ``MEDMAAS_FUZZ_EXAMPLES=100000
pytest tests/unit/test_parser_fuzz_files.py`` for a long run (benchmarks/fuzz/PARSERS.md)."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

pytest.importorskip("pydicom")
pytest.importorskip("PIL.Image")
pytest.importorskip("nibabel")
pytest.importorskip("wfdb")
pytest.importorskip("dicomanonymizer")

from tests.image_builders import dicom_bytes, npz_bytes, raster_bytes  # noqa: E402
from tests.signal_builders import edf_bytes, record_files, synthetic_ecg  # noqa: E402
from tests.timeseries_builders import timeseries_dataset  # noqa: E402
from tests.unit.test_parser_fuzz import _outcome  # noqa: E402

from medmaas.bundle.spec import FeatureSpec, ModelSpec, OnnxBinding, OutputSpec  # noqa: E402
from medmaas.exceptions import InvalidInputError, MedmaasError, PayloadTooLargeError  # noqa: E402
from medmaas.kinds.base import Batch  # noqa: E402
from medmaas.kinds.image.io import DEFAULT_MAX_PIXELS, Image, read_image, read_medmnist  # noqa: E402
from medmaas.kinds.image.io.image import MAX_JPEG_SAMPLES_PER_BYTE  # noqa: E402
from medmaas.kinds.image.kind import ImageKind  # noqa: E402
from medmaas.kinds.signal.kind import SignalKind  # noqa: E402
from medmaas.kinds.signal.processing import WINDOW  # noqa: E402
from medmaas.kinds.signal.waveform import MAX_SECONDS, MAX_VALUES, Recording, read_upload  # noqa: E402
from medmaas.kinds.timeseries.codec import MAX_MEASUREMENTS_PER_STAY  # noqa: E402
from medmaas.kinds.timeseries.kind import TimeSeriesKind  # noqa: E402
from medmaas.kinds.timeseries.representation import fit_scaling  # noqa: E402

#: MEDMAAS_FUZZ_EXAMPLES=100000 for a long run
EXAMPLES = int(os.environ.get("MEDMAAS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])
#: readers that cut beats out of what they read (~20 ms an input): fewer in the default run
SLOW = settings(FUZZ, max_examples=EXAMPLES if "MEDMAAS_FUZZ_EXAMPLES" in os.environ else 60)




def mostly(usual: st.SearchStrategy[Any], unusual: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` three times in four: a file with one thing wrong reaches further than one
    with everything wrong."""
    return st.one_of(usual, usual, usual, unusual)


# ---- edits of a valid file --------------------------------------------------------------
edits = st.lists(st.tuples(st.sampled_from(("set", "flip", "insert", "delete", "cut")),
                           st.integers(min_value=0, max_value=2**20), st.binary(min_size=1, max_size=8)),
                 min_size=1, max_size=4)


def _edited(data: bytes, changes: list[tuple[str, int, bytes]], span: int | None = None) -> bytes:
    """``data`` with each change applied at its position (modulo the length, or ``span`` to keep
    them in a header)."""
    out = bytearray(data)
    for op, position, chunk in changes:
        at = position % (min(len(out), span or len(out)) + 1)
        if op == "set" and at < len(out):
            out[at] = chunk[0]
        elif op == "flip" and at < len(out):
            out[at] ^= 1 << (chunk[0] % 8)
        elif op == "insert":
            out[at:at] = chunk
        elif op == "delete":
            del out[at:at + len(chunk)]
        elif op == "cut":
            del out[at:]
    return bytes(out)


# ---- images: DICOM, NIfTI, PNG, JPEG ------------------------------------------------------
def _image_spec(shape: list[int]) -> ModelSpec:
    return ModelSpec(kind="image", task="classification", estimator="cnn",
                     inputs=[FeatureSpec(name="image", type="image", shape=shape)],
                     output=OutputSpec(target="finding", task="classification", classes=["none", "finding"]),
                     onnx=OnnxBinding(inputs={"image": "image"}, input_dtypes={"image": "float32"}))


#: a model for each (channels, spatial dimensions) an image may read as
IMAGE_SPECS = {(1, 2): _image_spec([1, 16, 16]), (3, 2): _image_spec([3, 16, 16]),
               (1, 3): _image_spec([1, 4, 8, 8]), (3, 3): _image_spec([3, 4, 8, 8])}


def _read_image(data: bytes, name: str) -> Image | MedmaasError:
    """``read_image``'s outcome; an image read must be channels-first float32 on the display
    scale within the pixel limit, and must then decode as the server decodes an upload."""
    image = _outcome(lambda: read_image(data, name))
    if isinstance(image, MedmaasError):
        return image
    pixels = image.pixels
    assert isinstance(pixels, np.ndarray) and pixels.dtype == np.float32
    assert pixels.ndim in (3, 4) and pixels.shape[0] in (1, 3) and min(pixels.shape) >= 1
    assert pixels.size <= DEFAULT_MAX_PIXELS
    assert np.isfinite(pixels).all() and pixels.min() >= 0.0 and pixels.max() <= 255.0
    if image.format == "dicom":
        assert any("de-identified" in note for note in image.notes)
    spec = IMAGE_SPECS[(pixels.shape[0], pixels.ndim - 1)]
    batch = _outcome(lambda: ImageKind.decode_files(spec, {name: data}, {}))
    assert isinstance(batch, Batch), f"read as {pixels.shape} but not decoded: {batch}"
    assert batch.n == 1 and batch.feeds["image"].shape == (1, *spec.inputs[0].shape)
    return image


def _nifti(data: np.ndarray, *, gz: bool = False, two: bool = False) -> bytes:
    import nibabel as nib

    raw = (nib.Nifti2Image if two else nib.Nifti1Image)(data, np.eye(4)).to_bytes()
    return gzip.compress(raw) if gz else raw


_rng = np.random.default_rng(0)
IMAGE_FILES = {
    "ct.dcm": dicom_bytes(), "mono8.dcm": dicom_bytes(bits=8), "rgb.dcm": dicom_bytes(bits=8, samples=3),
    "frames.dcm": dicom_bytes(frames=3), "implicit.dcm": dicom_bytes(transfer_syntax="1.2.840.10008.1.2"),
    "jpeg.dcm": dicom_bytes(bits=8, transfer_syntax="1.2.840.10008.1.2.4.50",
                            pixel_bytes=raster_bytes("L", "JPEG", size=(8, 8))),
    "grey.png": raster_bytes("L"), "rgba.png": raster_bytes("RGBA"), "palette.png": raster_bytes("P"),
    "deep.png": raster_bytes("I;16"), "bits.png": raster_bytes("1"),
    "grey.jpg": raster_bytes("L", "JPEG"), "rgb.jpg": raster_bytes("RGB", "JPEG"),
    "cmyk.jpg": raster_bytes("CMYK", "JPEG"), "progressive.jpg": raster_bytes("RGB", "JPEG", progressive=True),
    "volume.nii": _nifti(_rng.random((5, 6, 4)).astype(np.float32)),
    "slice.nii": _nifti(_rng.integers(0, 900, (6, 5)).astype(np.int16)),
    "volume2.nii": _nifti(_rng.random((4, 4, 3)), two=True),
    "volume.nii.gz": _nifti(_rng.integers(0, 255, (5, 6, 4)).astype(np.uint8), gz=True),
}
IMAGE_NAMES = ("scan.dcm", "photo.png", "photo.jpg", "volume.nii.gz", "upload", "")


@FUZZ
@given(st.sampled_from((b"", b"\0" * 128 + b"DICM", b"\x02\x00", b"\x08\x00", b"\x89PNG\r\n\x1a\n",
                        b"\xff\xd8\xff", b"\x1f\x8b")),
       st.binary(max_size=600), st.sampled_from(IMAGE_NAMES))
def test_image_upload_on_arbitrary_bytes_behind_each_signature(signature: bytes, body: bytes, name: str) -> None:
    _read_image(signature + body, name)


@FUZZ
@given(st.sampled_from(sorted(IMAGE_FILES)), edits)
def test_image_upload_on_a_valid_file_with_bytes_changed(base: str, changes: list[tuple[str, int, bytes]]) -> None:
    _read_image(_edited(IMAGE_FILES[base], changes), base)


def _ds(*texts: str) -> st.SearchStrategy[bytes]:
    """Raw values for a DS or IS element: numbers DICOM allows, and ones it does not."""
    return mostly(st.sampled_from([t.encode().ljust(len(t) + len(t) % 2) for t in texts]),
                  st.sampled_from([b"nan ", b"inf ", b"-inf", b"1e308 ", b"-1e308", b"1e-300", b"abc ", b"", b"1\\2 ",
                                   b"0 "]))


PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR", "YBR_ICT",
               "ARGB", "XYZ")
SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
            "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5",
            "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.100")
sizes = st.one_of(st.integers(min_value=0, max_value=12), st.sampled_from([255, 4096, 40000, 65535]))


@st.composite
def dicom_attributes(draw: st.DrawFn) -> dict[str, Any]:
    """Arguments of ``dicom_bytes`` with image attributes that may contradict each other or
    the pixel data: sizes, bit depths, colour spaces, frames, windows, transfer syntaxes."""
    raw: dict[str, bytes | int | None] = {}
    optional = {
        "BitsStored": st.integers(0, 40), "HighBit": st.integers(0, 40), "PixelRepresentation": st.integers(0, 2),
        "PlanarConfiguration": st.integers(0, 2), "NumberOfFrames": _ds("1", "2", "3", "-1", "2147483647"),
        "RescaleSlope": _ds("1", "-1", "0.5"), "RescaleIntercept": _ds("-1024", "0"),
        "WindowCenter": _ds("40", "600", "40\\400"), "WindowWidth": _ds("400", "1600", "400\\2000"),
        "VOILUTFunction": st.sampled_from([b"LINEAR", b"SIGMOID ", b"LINEAR_EXACT", b"FOO "]),
        "PhotometricInterpretation": st.sampled_from([p.encode().ljust(len(p) + len(p) % 2) for p in PHOTOMETRIC]),
        "Rows": st.none(), "Columns": st.none(), "BitsAllocated": st.none(), "SamplesPerPixel": st.none(),
        "PixelData": st.none(),
    }
    for keyword in draw(st.lists(st.sampled_from(sorted(optional)), max_size=3, unique=True)):
        raw[keyword] = draw(optional[keyword])
    return {"rows": draw(mostly(st.integers(1, 12), sizes)), "columns": draw(mostly(st.integers(1, 12), sizes)),
            "bits": draw(mostly(st.sampled_from([8, 16]), st.sampled_from([1, 12, 32, 64]))),
            "samples": draw(mostly(st.sampled_from([1, 3]), st.sampled_from([0, 2, 4]))),
            "transfer_syntax": draw(mostly(st.just(SYNTAXES[0]), st.sampled_from(SYNTAXES))),
            "photometric": draw(mostly(st.none(), st.sampled_from(PHOTOMETRIC))),
            "pixel_bytes": draw(mostly(st.none(), st.binary(max_size=700))), "raw": raw}


@FUZZ
@given(dicom_attributes())
def test_dicom_upload_with_random_image_attributes(attributes: dict[str, Any]) -> None:
    data = dicom_bytes(**attributes)
    result = _read_image(data, "scan.dcm")
    rows, columns, samples = attributes["rows"], attributes["columns"], attributes["samples"]
    if rows * columns * samples > DEFAULT_MAX_PIXELS and samples in (1, 3) and not attributes["raw"]:
        assert isinstance(result, PayloadTooLargeError)  # refused from the header, before decoding


def _png(width: int, height: int, depth: int, colour: int, interlace: int, body: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    palette = chunk(b"PLTE", bytes(range(48))) if colour == 3 else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + palette + chunk(b"IDAT", body) + chunk(b"IEND", b"")


dimensions = st.one_of(st.integers(min_value=0, max_value=20), st.sampled_from([8001, 65535, 2**31 - 1, 2**32 - 1]))


#: samples per pixel of each PNG colour type
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


@FUZZ
@given(mostly(st.integers(1, 20), dimensions), mostly(st.integers(1, 20), dimensions),
       st.sampled_from([1, 2, 4, 8, 16, 3]), st.sampled_from([0, 2, 3, 4, 6, 1, 7]), mostly(st.just(0), st.integers(1, 2)),
       st.binary(max_size=400), st.sampled_from(["rows", "rows", "compressed", "raw"]))
def test_png_upload_with_random_header_fields(width: int, height: int, depth: int, colour: int, interlace: int,
                                              pixels: bytes, body: str) -> None:
    row = -(-width * depth * PNG_CHANNELS.get(colour, 1) // 8)
    if body == "rows" and row <= 4096:  # as many bytes as the header says, each row after its filter byte
        pixels = b"".join(b"\0" + (pixels * (row // max(1, len(pixels)) + 1))[:row] for _ in range(min(height, 64)))
    result = _read_image(_png(width, height, depth, colour, interlace, pixels if body == "raw" else zlib.compress(pixels)),
                         "photo.png")
    if width * height > DEFAULT_MAX_PIXELS:  # refused from the header, before Pillow decodes anything
        assert isinstance(result, PayloadTooLargeError)


JPEG = raster_bytes("RGB", "JPEG", size=(16, 8))
SOF = JPEG.index(b"\xff\xc0")


#: mostly small (decoded), sometimes past the limit when squared (refused before decoding); a
#: truncated JPEG decodes whatever size it declares, so sizes just within the limit cost seconds
jpeg_sides = st.integers(0, 64) | st.integers(0, 64) | st.integers(0, 64) | st.sampled_from([4620, 8192, 65535])


def _declared_by_pillow(data: bytes) -> int | None:
    """The samples a JPEG's header declares as Pillow reads it (None: no header Pillow reads;
    -1: past Pillow's own bomb limit)."""
    import warnings

    from PIL import Image as PILImage

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with PILImage.open(io.BytesIO(data), formats=["JPEG"]) as image:
                bands = len(image.getbands())
                return image.size[0] * image.size[1] * (bands if bands > 1 else 1)
    except PILImage.DecompressionBombError:
        return -1
    except Exception:  # not a header Pillow reads: the reader's answer is an input error
        return None


@FUZZ
@given(jpeg_sides, jpeg_sides, edits)
def test_jpeg_upload_with_random_declared_size(height: int, width: int, changes: list[tuple[str, int, bytes]]) -> None:
    data = _edited(JPEG[:SOF + 5] + struct.pack(">HH", height, width) + JPEG[SOF + 9:], changes, span=SOF + 12)
    result = _read_image(data, "photo.jpg")
    declared = _declared_by_pillow(data)  # the edits may have changed the size, or the markers before it
    if declared == -1 or (declared or 0) > DEFAULT_MAX_PIXELS:
        assert isinstance(result, PayloadTooLargeError)  # refused from the header, before decoding
    elif (declared or 0) > MAX_JPEG_SAMPLES_PER_BYTE * len(data):  # more than its bytes can hold
        assert isinstance(result, InvalidInputError) and "truncated or crafted" in str(result)


# ---- arrays: .npy uploads, MedMNIST .npz --------------------------------------------------
def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


plain_arrays = hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=4, max_side=6))
object_arrays = st.lists(st.none() | st.integers() | st.text(max_size=4), max_size=5).map(
    lambda values: np.array([*values, None], dtype=object))


@FUZZ
@given(plain_arrays | object_arrays)
def test_npy_upload_is_refused_as_an_image_whatever_it_holds(array: np.ndarray) -> None:
    result = _read_image(_npy(array), "images.npy")
    assert isinstance(result, InvalidInputError) and "not a supported image" in str(result)


def _check_medmnist(result: Any) -> None:
    if isinstance(result, MedmaasError):
        return
    assert "train" in result
    for images, labels in result.values():
        assert images.dtype == np.uint8 and images.ndim in (3, 4) and len(images) >= 1
        assert labels.dtype == np.int64 and labels.shape == (len(images),) and (labels >= 0).all()


image_arrays = hnp.arrays(st.sampled_from([np.uint8, np.uint8, np.float32, np.int64]),
                          hnp.array_shapes(min_dims=1, max_dims=5, max_side=5))
label_arrays = hnp.arrays(st.sampled_from([np.int64, np.uint8, np.int8, np.float64, np.bool_]),
                          hnp.array_shapes(min_dims=1, max_dims=2, max_side=5))


@st.composite
def medmnist_arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """The arrays of a MedMNIST .npz: images and labels per split that mostly agree, and
    sometimes differ in dtype, shape, count or presence, or are pickled objects."""
    arrays = {}
    for split in ("train", "val", "test"):
        if split != "train" and draw(st.booleans()):
            continue
        n = draw(st.integers(1, 5))
        shape = draw(st.sampled_from([(5, 5), (5, 5, 3), (3, 4, 4), (4, 4, 1)]))
        arrays[f"{split}_images"] = draw(mostly(hnp.arrays(np.uint8, (n, *shape)), image_arrays))
        labels = hnp.arrays(np.int64, st.sampled_from([(n,), (n, 1)]), elements=st.integers(0, 9))
        arrays[f"{split}_labels"] = draw(mostly(labels, label_arrays | object_arrays))
    for key in draw(st.lists(st.sampled_from(sorted(arrays)), max_size=1)):
        del arrays[key]
    return arrays


@FUZZ
@given(medmnist_arrays(), st.booleans())
def test_medmnist_reader_on_random_arrays(arrays: dict[str, np.ndarray], compressed: bool) -> None:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, allow_pickle=True, **arrays)
    result = _outcome(lambda: read_medmnist(buffer.getvalue()))
    _check_medmnist(result)
    if any(a.dtype.hasobject for a in arrays.values()) and isinstance(result, MedmaasError):
        assert "pickle" in str(result) or "needs train_images" in str(result)


NPZ_FILES = [npz_bytes(compressed, train_images=_rng.integers(0, 255, (4, 5, 5), dtype=np.uint8),
                       train_labels=np.array([[0], [1], [0], [1]]),
                       test_images=_rng.integers(0, 255, (2, 5, 5, 3), dtype=np.uint8), test_labels=np.array([0, 1]))
             for compressed in (False, True)]


@FUZZ
@given(st.sampled_from(NPZ_FILES), edits)
def test_medmnist_reader_on_a_valid_file_with_bytes_changed(base: bytes, changes: list[tuple[str, int, bytes]]) -> None:
    _check_medmnist(_outcome(lambda: read_medmnist(_edited(base, changes))))


# ---- recordings: WFDB, EDF, CSV, archives --------------------------------------------------
SIGNAL_SPEC = ModelSpec(
    kind="signal", task="classification", estimator="cnn",
    inputs=[FeatureSpec(name="beat", type="signal", shape=[WINDOW]), FeatureSpec(name="rhythm", type="signal", shape=[5])],
    output=OutputSpec(target="beat_class", task="classification", classes=["N", "S", "V"]),
    onnx=OnnxBinding(inputs={"beat": "beat", "rhythm": "rhythm"}, input_dtypes={"beat": "float32", "rhythm": "float32"}),
    extra={"lead": "MLII"})


def _read_recording(files: dict[str, bytes], options: dict[str, str] | None = None) -> Recording | MedmaasError:
    """``read_upload``'s outcome; a recording read must be a (samples, leads) array within the
    limits, named and in units lead by lead, and must then decode (or be refused) as the server
    decodes an upload: beats of 128 finite samples, five finite RR features each."""
    options = options or {}
    try:
        rate = float(options["sampling_rate"]) if options.get("sampling_rate") else None
    except ValueError:  # the upload's option is refused before any file is read
        assert isinstance(_outcome(lambda: SignalKind.decode_files(SIGNAL_SPEC, files, options)), MedmaasError)
        return InvalidInputError("sampling_rate is not a number")
    recording = _outcome(lambda: read_upload(files, sampling_rate=rate))
    if isinstance(recording, MedmaasError):
        return recording
    signals = recording.signals
    assert isinstance(signals, np.ndarray) and signals.ndim == 2 and min(signals.shape) >= 1
    assert signals.shape[1] == len(recording.leads) == len(recording.units)
    assert all(isinstance(lead, str) and lead for lead in recording.leads)
    assert np.isfinite(recording.fs) and recording.fs > 0
    assert recording.seconds <= MAX_SECONDS and signals.size <= MAX_VALUES
    batch = _outcome(lambda: SignalKind.decode_files(SIGNAL_SPEC, files, options))
    if isinstance(batch, Batch):
        assert batch.n >= 1 and batch.feeds["beat"].shape == (batch.n, WINDOW)
        assert batch.feeds["rhythm"].shape == (batch.n, 5)
        assert np.isfinite(batch.feeds["beat"]).all() and np.isfinite(batch.feeds["rhythm"]).all()
    return recording


RECORD = record_files(seconds=4)
HEADER_LINES = RECORD["rec.hea"].decode().splitlines()
TEXTS = ("", "0", "-1", "1", "2", "7", "16", "212", "80", "360", "1e3", "0.0001", "nan", "abc", "x", "+", "/",
         "99999999999999999999", "16x0", "16x2", "16+24", "16:3", "200(0)/mV", "0/uV", "~", ".", "#", "MLII")
tokens = st.sampled_from(TEXTS) | st.text(st.sampled_from("0123456789+-x:./()e ~#aV"), max_size=10)


@SLOW
@given(st.integers(0, len(HEADER_LINES) - 1), st.integers(0, 9), tokens, st.lists(tokens, max_size=3),
       st.sampled_from(["", "# a comment", "  # an indented comment"]), edits, st.booleans())
def test_wfdb_upload_with_header_fields_replaced(line: int, field: int, token: str, extra: list[str], comment: str,
                                                 changes: list[tuple[str, int, bytes]], change_data: bool) -> None:
    lines = [part.split() for part in HEADER_LINES]
    fields = lines[line]
    fields[field % len(fields)] = token
    lines[line] = [*fields, *extra] if line else fields
    header = "\n".join(" ".join(f for f in part if f) for part in lines[:1] + ([[comment]] if comment else []) + lines[1:])
    data = _edited(RECORD["rec.dat"], changes) if change_data else RECORD["rec.dat"]
    _read_recording({"rec.hea": header.encode(), "rec.dat": data})


formats = st.sampled_from(["16", "212", "8", "80", "24", "32", "61", "160", "310", "311", "516", "0", "1", "99"])


@st.composite
def wfdb_headers(draw: st.DrawFn) -> str:
    """A record line and signal lines whose every number and name is drawn: signal counts that
    do or do not match the lines, rates, lengths, formats, frames, offsets, gains."""
    n_signals = draw(st.integers(0, 4) | st.sampled_from([100, 99999]))
    rate = draw(st.sampled_from(["360", "", "0", "1e9", "1000000000", "0.001", "360/2", "360(0)", ".", "500.5"]))
    length = draw(st.sampled_from(["", "0", "1", "1080", "3600", "100000000", "99999999999999"]))
    name = draw(st.sampled_from(["rec", "a" * 300, "rec/2", "r-1"]))
    lines = [f"{name} {n_signals} {rate} {length}".rstrip()]
    for _ in range(draw(st.integers(0, 5))):
        file = draw(st.sampled_from(["rec.dat", "rec.dat", "other.dat", "~", "rec.hea", "a" * 300 + ".dat"]))
        fmt = draw(formats) + draw(st.sampled_from(["", "x2", "x0", "x100000", ":3"])) + draw(
            st.sampled_from(["", "+24", "+99999"]))
        rest = draw(st.lists(tokens, max_size=7))
        lines.append(" ".join([file, fmt, *rest]))
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["#c", "  # c", ""])))
    return "\n".join(lines) + "\n"


@SLOW
@given(wfdb_headers(), st.sampled_from(["record", "random", "none"]), st.binary(max_size=3000))
def test_wfdb_upload_with_random_headers(header: str, data: str, random: bytes) -> None:
    files = {"rec.hea": header.encode(), "other.dat": random[:100]}
    if data != "none":
        files["rec.dat"] = RECORD["rec.dat"] if data == "record" else random
    _read_recording(files)


SIGNAL, _, _ = synthetic_ecg(seconds=4, fs=250)
EDF = edf_bytes(np.stack([SIGNAL, SIGNAL * 0.5], axis=1), 250, labels=["MLII", "V5"])
EDF_TEXTS = st.sampled_from(["", "0", "1", "-1", "4", "2", "250", "256", "768", "1e308", "nan", "inf", "abc", "0.5",
                             "99999999", "-32768", "32767", "EDF+C", "EDF+D", "EDF Annotations", "uV", "1 2"])


@SLOW
@given(st.dictionaries(st.sampled_from(["version", "header_bytes", "reserved", "records", "duration", "signals"]),
                       EDF_TEXTS, max_size=3),
       st.dictionaries(st.sampled_from(["label", "dimension", "physical_min", "physical_max", "digital_min",
                                        "digital_max", "samples"]), st.lists(EDF_TEXTS, min_size=2, max_size=2),
                       max_size=3),
       st.integers(-600, 600))
def test_edf_upload_with_random_header_fields(fields: dict[str, str], signal_fields: dict[str, list[str]],
                                              extra_bytes: int) -> None:
    data = edf_bytes(np.stack([SIGNAL, -SIGNAL], axis=1), 250, labels=["MLII", "V5"], fields=fields,
                     signal_fields=signal_fields)
    data = data[:extra_bytes] if extra_bytes < 0 else data + bytes(extra_bytes)
    _read_recording({"rec.edf": data})


def _archive(kind: str, files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    if kind.endswith(".zip"):
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(f"record/{name}", data)
        return out.getvalue()
    with tarfile.open(fileobj=out, mode={"r.tar": "w", "r.tar.gz": "w:gz", "r.tar.xz": "w:xz"}[kind]) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"record/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


CSV = ("time,MLII\n" + "\n".join(f"{i / 250:.4f},{v:.4f}" for i, v in enumerate(SIGNAL))).encode()
UPLOADS = {"wfdb": RECORD, "edf": {"rec.edf": EDF}, "csv": {"ecg.csv": CSV},
           **{kind: {kind: _archive(kind, RECORD)} for kind in ("r.zip", "r.tar", "r.tar.gz", "r.tar.xz")}}


@SLOW
@given(st.sampled_from(sorted(UPLOADS)), st.integers(0, 1), edits, st.sampled_from([256, 1024, 2**30]))
def test_signal_upload_of_a_valid_recording_with_bytes_changed(kind: str, which: int,
                                                               changes: list[tuple[str, int, bytes]], span: int) -> None:
    files = dict(UPLOADS[kind])
    name = sorted(files)[which % len(files)]
    files[name] = _edited(files[name], changes, span=span)
    _read_recording(files)


SIGNAL_NAMES = ("rec.hea", "rec.edf", "ecg.csv", "ecg.txt", "", "r.zip", "r.tar", "r.tar.gz", "r.tgz", "r.tar.xz",
                "rec.dat", "scan.bin")


@FUZZ
@given(st.sampled_from(SIGNAL_NAMES), st.sampled_from([b"", b"0       ", b"PK\x03\x04", b"\x1f\x8b", b"\xfd7zXZ"]),
       st.binary(max_size=600), st.sampled_from(["", "250", "0", "-1", "nan", "1e309"]))
def test_signal_upload_on_arbitrary_bytes_under_each_name(name: str, signature: bytes, body: bytes, rate: str) -> None:
    _read_recording({name: signature + body}, {"sampling_rate": rate} if rate else {})


cells = st.sampled_from(["", "nan", "inf", "-inf", "1e308", "1e309", "abc", "0x1", '"3"', "True", "#N/A", "1,2"])


@SLOW
@given(st.lists(st.sampled_from(["time", "MLII", "V1 uV", "", "t", "Time ", "0", "II"]), min_size=1, max_size=4),
       st.integers(0, 800), st.sampled_from([0.004, 0.004, 250.0, 1e-9]),
       st.lists(st.tuples(st.integers(0, 800), cells), max_size=2),
       mostly(st.just("250"), st.sampled_from(["", "abc", "0"])), st.sampled_from(["ecg.csv", "ecg.txt", ""]))
def test_csv_signal_upload_with_generated_columns(columns: list[str], rows: int, step: float,
                                                  odd: list[tuple[int, str]], rate: str, name: str) -> None:
    table = [[f"{i * step:.6g}" if c.strip().lower() in ("time", "t") else f"{SIGNAL[i % len(SIGNAL)]:.4f}"
              for c in columns] for i in range(rows)]
    for row, cell in odd:
        if row < rows:
            table[row][row % len(columns)] = cell
    text = "\n".join([",".join(columns), *(",".join(r) for r in table)])
    _read_recording({name: text.encode()}, {"sampling_rate": rate} if rate else {})


# ---- PhysioNet 2012 stay files ----------------------------------------------------------
def _timeseries_spec() -> ModelSpec:
    ds = timeseries_dataset(n=40)
    scaling = fit_scaling(ds.variable_names, ds.variables, ds.values, ds.statics, 48)
    names = list(scaling.variables)
    return ModelSpec(kind="timeseries", task="classification", estimator="ensemble",
                     inputs=[FeatureSpec(name=n, type="number") for n in names],
                     output=OutputSpec(target="In-hospital_death", task="classification", classes=["survived", "died"]),
                     onnx=OnnxBinding(inputs={}, packed={"values": names}, input_dtypes=dict.fromkeys(names, "float32")),
                     extra={"inputs": "hourly+summaries", "representation": scaling.as_json(), "missing_value": -1.0})


STAY_SPEC = _timeseries_spec()


def _read_stay(data: bytes) -> Batch | MedmaasError:
    """The stay file upload's outcome; a stay read must give finite feeds for one stay whose
    measurements lie within the model's window."""
    batch = _outcome(lambda: TimeSeriesKind.decode_files(STAY_SPEC, {"132539.txt": data}, {}))
    if isinstance(batch, Batch):
        assert batch.n == 1 and all(np.isfinite(v).all() and len(v) == 1 for v in batch.feeds.values())
        times = [m["time"] for m in batch.records[0]["measurements"]]
        assert all(0 <= t <= 48 for t in times) and times == sorted(times)
        assert len(times) <= MAX_MEASUREMENTS_PER_STAY
    return batch


@FUZZ
@given(st.text(max_size=400) | st.binary(max_size=400))
def test_stay_file_upload_on_arbitrary_text_and_bytes(content: str | bytes) -> None:
    _read_stay(content.encode() if isinstance(content, str) else content)


clock = st.builds("{:02d}:{:02d}".format, st.integers(0, 60), st.integers(0, 59))
odd_times = st.sampled_from(["-01:00", "9999:59", "1.5", "-0", "nan", "inf", "1e308", "", "24:60", "٣:00", "1_0"])
parameters = st.sampled_from(["HR", "hr", " MAP ", "Age", "Gender", "Weight", "ICUType", "Height", "RecordID",
                              "Lactate", "Urine", "Foo", "", " "])
numbers = st.floats(allow_nan=False, allow_infinity=False).map(repr)
odd_values = st.sampled_from(["-1", "nan", "inf", "1e309", "abc", "", "True", "0x1", "١٢"])
rows = st.tuples(clock, parameters, numbers).map(",".join)
odd_rows = st.tuples(clock | odd_times, parameters, numbers | odd_values).map(",".join) | st.text(max_size=20)


@FUZZ
@given(mostly(st.just("Time,Parameter,Value"), st.sampled_from(["time,parameter,value,unit", "Time,Parameter",
                                                                 "\ufeffTime,Parameter,Value", ""])),
       st.lists(rows, max_size=40), st.lists(st.tuples(st.integers(0, 40), odd_rows), max_size=2),
       st.sampled_from(["\n", "\r\n", "\r", "\u2028"]))
def test_stay_file_upload_with_generated_rows(header: str, lines: list[str], odd: list[tuple[int, str]],
                                              newline: str) -> None:
    for at, line in odd:
        lines.insert(at, line)
    _read_stay(newline.join([header, *lines]).encode())


# ---- regressions: each input broke a reader before it was fixed -------------------------
def _zip_with_method(method: int) -> bytes:
    data = npz_bytes(train_images=np.zeros((2, 3, 3), np.uint8), train_labels=np.array([0, 1]))
    # the compression method sits at byte 8 of each local header and byte 10 of each central entry
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = out.find(signature)
        while at != -1:
            out[at + offset:at + offset + 2] = struct.pack("<H", method)
            at = out.find(signature, at + 4)
    return bytes(out)


def _npy_header_bomb() -> bytes:
    from numpy.lib import format as npy

    header = io.BytesIO()
    npy.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6, 10)})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("train_images.npy", header.getvalue() + bytes(100))
        archive.writestr("train_labels.npy", _npy(np.array([0, 1])))
    return out.getvalue()


def _modality_lut(entries: int, data: bytes) -> bytes:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(dicom_bytes()))
    item = pydicom.Dataset()
    item.LUTDescriptor, item.ModalityLUTType, item.LUTData = [entries, 0, 16], "HU", data
    ds.ModalityLUTSequence = [item]
    del ds.RescaleSlope, ds.RescaleIntercept
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _nested_zip(depth: int) -> bytes:
    data = b"not a record"
    for level in range(depth):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr(f"level{level}.zip", data)
        data = out.getvalue()
    return data


def _corrupt_deflate() -> bytes:
    data = bytearray(_archive("r.zip", RECORD))
    start = data.find(b"PK\x03\x04") + 30 + len("record/rec.dat")
    data[start:start + 4] = b"\xff\xff\xff\xff"  # an invalid deflate block type
    return bytes(data)


Case = tuple[Callable[[], Any], type[MedmaasError] | None, str]
#: name: (the call, the error it raises now (None: it reads), words the message or the notes hold)
REGRESSIONS: dict[str, Case] = {
    "dicom element with an unknown VR (NotImplementedError)": (
        lambda: read_image(dicom_bytes().replace(b"\xe0\x7f\x10\x00OW", b"\xe0\x7f\x10\x00XW"), "scan.dcm"),
        InvalidInputError, "DICOM"),
    "dicom transfer syntax of two values (AttributeError)": (
        lambda: read_image(dicom_bytes().replace(b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.1.2\\1\0", 1), "scan.dcm"),
        InvalidInputError, "Transfer Syntax UID holds 2 values"),
    "dicom without Samples per Pixel (AttributeError)": (
        lambda: read_image(dicom_bytes(raw={"SamplesPerPixel": None}), "scan.dcm"), InvalidInputError,
        "cannot be read without Samples per Pixel"),
    "dicom without Bits Allocated (AttributeError)": (
        lambda: read_image(dicom_bytes(raw={"BitsAllocated": None}), "scan.dcm"), InvalidInputError,
        "cannot be read without Bits Allocated"),
    "dicom with surplus pixel data read as extra frames (a 2D file read as 3D)": (
        lambda: read_image(dicom_bytes(rows=2, columns=1, pixel_bytes=bytes(8)), "scan.dcm"), None, ""),
    "dicom window of NaN width (NaN pixels)": (
        lambda: read_image(dicom_bytes(raw={"WindowCenter": b"-1e308", "WindowWidth": b"nan "}), "scan.dcm"), None,
        "the stored window could not be applied"),
    "dicom modality LUT shorter than its descriptor (struct.error)": (
        lambda: read_image(_modality_lut(0, bytes(8)), "scan.dcm"), InvalidInputError,
        "could not be brought to display values"),
    "nifti of denormal floats (NaN pixels)": (
        lambda: read_image(_nifti(np.linspace(4e-46, 4.4e-44, 48).reshape(8, 6)), "tiny.nii"), None,
        "scaled to 0..255"),
    "npz with an unknown compression method (NotImplementedError)": (
        lambda: read_medmnist(_zip_with_method(99)), InvalidInputError, "corrupt .npz"),
    "npz whose .npy header declares 10 TB (MemoryError)": (
        lambda: read_medmnist(_npy_header_bomb()), InvalidInputError, "declares a uint8 array of shape"),
    "wfdb record name too long for a file name (OSError)": (
        lambda: read_upload({"rec.hea": RECORD["rec.hea"].replace(b"rec ", b"r" * 300 + b" ", 1),
                             "rec.dat": RECORD["rec.dat"]}), None, ""),
    "wfdb byte offset glued to the gain (ValueError)": (
        lambda: read_upload({"rec.hea": b"rec 1 360 1440\nrec.dat 16+1.5(0)/mV 16 0 0 0 0 MLII\n",
                             "rec.dat": RECORD["rec.dat"]}), InvalidInputError, "rec.hea"),
    "wfdb header with an indented comment (read as a signal line, the record refused)": (
        lambda: read_upload({"rec.hea": RECORD["rec.hea"].replace(b"\n", b"\n  # an indented comment\n", 1),
                             "rec.dat": RECORD["rec.dat"]}), None, ""),
    "wfdb header without a length, 100000 samples per frame in a second file (190 GB allocated)": (
        lambda: read_upload({"rec.hea": b"rec 2 360\nrec.dat 16 200 16 0 0 0 0 MLII\nbig.dat 16x100000 200 16 0 0 0 0 V5\n",
                             "rec.dat": bytes(2_000_000), "big.dat": bytes(10)}), PayloadTooLargeError,
        "one request takes at most"),
    "edf declaring 10^7 data records (20 GB allocated)": (
        lambda: read_upload({"rec.edf": edf_bytes(SIGNAL[:, None], 250, fields={"records": "9999999"})}),
        PayloadTooLargeError, "one request takes at most"),
    "edf of two rates declaring 10^8 records (a Python loop per declared sample, ~25 min)": (
        lambda: read_upload({"rec.edf": edf_bytes(np.stack([SIGNAL, SIGNAL], axis=1), 250, fields={"records": "99999999"},
                                                  signal_fields={"samples": ["2", "1"]})[:768] + bytes(600)}),
        InvalidInputError, "sampled at different rates"),
    "edf with an empty physical range (read as zeros)": (
        lambda: read_upload({"rec.edf": edf_bytes(SIGNAL[:, None], 250, signal_fields={"physical_min": ["0"],
                                                                                         "physical_max": ["0"]})}),
        InvalidInputError, "cannot be scaled"),
    "zip whose deflate data is corrupt (zlib.error)": (
        lambda: read_upload({"r.zip": _corrupt_deflate()}), InvalidInputError, "not a readable archive"),
    "zip with an unknown compression method (NotImplementedError)": (
        lambda: read_upload({"r.zip": _zip_with_method(99)}), InvalidInputError, "not a readable archive"),
    "zip within zip within ... 1100 deep (RecursionError)": (
        lambda: read_upload({"r.zip": _nested_zip(1100)}), InvalidInputError, "holds another archive"),
    "stay file of 30000 rows ended by carriage returns (the row limit bypassed)": (
        lambda: TimeSeriesKind.decode_files(STAY_SPEC, {"s.txt": ("Time,Parameter,Value\r" + "00:10,HR,80\r" * 30_000)
                                                         .encode()}, {}), PayloadTooLargeError, "rows, the limit per stay"),
    "recording of one heartbeat (NaN RR features fed to the model)": (
        lambda: SignalKind.decode_files(SIGNAL_SPEC, {"ecg.csv": b"MLII\n" + "\n".join(
            f"{v:.4f}" for v in synthetic_ecg(seconds=2.0, fs=360, rate=40)[0]).encode()}, {"sampling_rate": "360"}),
        InvalidInputError, "one heartbeat was found"),
    "csv of a time column and no lead (IndexError when decoded)": (
        lambda: SignalKind.decode_files(SIGNAL_SPEC, {"ecg.csv": b"time\n0\n0.004\n"}, {}), InvalidInputError,
        "no lead"),
}
#: declared sizes the readers refuse before reading (limits added with the fuzzing)
LIMITS: dict[str, Case] = {
    "wfdb header declaring 7 * 10^12 samples in 2 h": (
        lambda: read_upload({"rec.hea": b"rec 1 1000000000 7000000000000\nrec.dat 516 200 16 0 0 0 0 MLII\n",
                             "rec.dat": bytes(10)}), PayloadTooLargeError, f"one request takes at most {MAX_VALUES:,}"),
    "edf declaring 256 signals of 10^6 samples": (
        lambda: read_upload({"rec.edf": edf_bytes(np.zeros((250, 256)), 250, signal_fields={"samples": ["1000000"] * 256})}),
        PayloadTooLargeError, f"one request takes at most {MAX_VALUES:,}"),
    "tar of 1000 entries": (
        lambda: read_upload({"r.tar.gz": _archive("r.tar.gz", {f"{i}.dat": b"" for i in range(1000)})}),
        PayloadTooLargeError, "holds more than 64 entries"),
}


@pytest.mark.parametrize("case", [*sorted(REGRESSIONS), *sorted(LIMITS)])
def test_inputs_that_broke_a_reader_or_pass_a_limit(case: str) -> None:
    call, error, words = (REGRESSIONS | LIMITS)[case]
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = _outcome(call)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 2**20, f"{peak / 2**20:.0f} MB allocated"
    assert time.perf_counter() - started < 30
    if error is None:
        assert not isinstance(result, MedmaasError), result
        if isinstance(result, Image):
            pixels = result.pixels
            assert np.isfinite(pixels).all() and pixels.max() <= 255 and pixels.ndim == 3
            assert not words or any(words in note for note in result.notes), result.notes
    else:
        assert isinstance(result, error), result
        assert words in str(result)


UNPICKLED: list[str] = []


def _unpickled() -> None:
    UNPICKLED.append("ran")


class _Payload:
    """An object whose unpickling calls ``_unpickled``: what a hostile pickle would do."""

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return _unpickled, ()


@pytest.mark.parametrize("reader", ["image", "medmnist"])
def test_pickles_are_refused_without_being_run(reader: str) -> None:
    array = np.array([_Payload(), None], dtype=object)
    data = _npy(array) if reader == "image" else npz_bytes(train_images=array, train_labels=np.array([0, 1]))
    pickle.loads(pickle.dumps(_Payload()))
    assert UNPICKLED == ["ran"]  # loading the payload runs code
    UNPICKLED.clear()
    result = _outcome(lambda: read_image(data, "images.npy") if reader == "image" else read_medmnist(data))
    assert isinstance(result, InvalidInputError) and UNPICKLED == []
    assert ("not a supported image" if reader == "image" else "pickled object arrays") in str(result)


@pytest.mark.parametrize(("rows", "columns", "frames", "samples"), [
    (65535, 65535, None, 1), (4096, 4096, "1000", 1), (8000, 8000, None, 3), (1, 1, "2147483647", 1)])
def test_a_dicom_declaring_a_huge_image_is_refused_before_decoding(rows: int, columns: int, frames: str | None,
                                                                   samples: int) -> None:
    raw: dict[str, bytes | int | None] = {"NumberOfFrames": frames.encode()} if frames else {}
    data = dicom_bytes(rows, columns, samples=samples, bits=8, raw=raw)
    tracemalloc.start()
    try:
        result = _outcome(lambda: read_image(data, "big.dcm"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(result, PayloadTooLargeError)
    assert str(result).startswith("big.dcm: declares ") and f"over the limit of {DEFAULT_MAX_PIXELS:,}" in str(result)
    assert peak < 64 * 2**20
