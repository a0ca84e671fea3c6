"""Image input: every shared DICOM and NIfTI file, de-identification, and hostile input.

Real files come from the shared data folder (pydicom's and nibabel's test files, MedMNIST);
everything else is built here in memory or in tmp_path.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import struct
import threading
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")
PIL_Image = pytest.importorskip("PIL.Image")
pytest.importorskip("dicomanonymizer")

from tests.image_builders import dicom_bytes  # noqa: E402

from medmaas.exceptions import InvalidInputError, PayloadTooLargeError  # noqa: E402
from medmaas.kinds.image.io import (  # noqa: E402
    DEFAULT_MAX_PIXELS,
    Image,
    deidentify_dataset,
    deidentify_dicom_bytes,
    read_class_folders,
    read_dicom,
    read_image,
    read_medmnist,
    read_nifti,
    read_path_csv,
    read_raster,
)


def _imaging_root() -> Path | None:
    candidates = []
    if os.environ.get("MEDMAAS_SHARED_DATA"):
        env = Path(os.environ["MEDMAAS_SHARED_DATA"])
        candidates += [env / "imaging", env / "data" / "imaging", env]
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data" / "imaging")
    return next((c for c in candidates if (c / "dicom").is_dir()), None)


ROOT = _imaging_root()
DICOM_DIR = ROOT / "dicom" if ROOT else None
NIFTI_DIR = ROOT / "nifti" if ROOT else None
needs_data = pytest.mark.skipif(ROOT is None, reason="shared imaging data folder not found")

# What each shared file must give: (modality, shape, words the notes must hold), or the error.
DICOM_EXPECT: dict[str, tuple[str, tuple[int, ...], tuple[str, ...]] | str] = {
    "pydicom-data__MR-SIEMENS-DICOM-WithOverlays.dcm": ("MR", (1, 484, 484), ("first of 2 windows",)),
    "pydicom-data__MR2_UNCR.dcm": ("MR", (1, 1024, 1024), ("rescaled", "windowed at center 1000 width 2000")),
    "pydicom-data__OBXXXX1A.dcm": ("US", (3, 600, 800), ("palette colour",)),
    "pydicom-data__RG3_UNCR.dcm": ("CR", (1, 1760, 1760), ("MONOCHROME1 inverted", "windowed at center 550")),
    "pydicom-data__US1_UNCR.dcm": ("US", (3, 480, 640), ()),
    "pydicom-data__emri_small.dcm": ("MR", (1, 10, 64, 64), ("10 frames read as a volume",)),
    "pydicom-data__liver.dcm": ("SEG", (1, 3, 512, 512), ("3 frames",)),
    "pydicom__CT_small.dcm": ("CT", (1, 128, 128), ("Hounsfield units (slope 1, intercept -1024)",)),
    "pydicom__MR_small.dcm": ("MR", (1, 64, 64), ("windowed at center 600 width 1600",)),
    "pydicom__rtdose.dcm": ("RTDOSE", (1, 15, 10, 10), ("15 frames",)),
    "pydicom__rtplan.dcm": "this DICOM object (RT Plan Storage) has no pixel data; send an image",
    "pydicom__rtstruct.dcm": "this DICOM object (RT Structure Set Storage) has no pixel data; send an image",
}  # fmt: skip
NIFTI_EXPECT: dict[str, tuple[tuple[int, ...], tuple[float, ...]] | str] = {
    "nibabel__anatomical.nii": ((1, 25, 41, 33), (2.0, 2.0, 2.0)),
    "nibabel__example4d.nii.gz": "4D NIfTI with 2 volumes: send one volume",
    "nibabel__example_nifti2.nii.gz": "4D NIfTI with 2 volumes: send one volume",
    "nibabel__functional.nii": "4D NIfTI with 20 volumes: send one volume",
}
IDENTIFYING = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientAddress", "OtherPatientIDs",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "ReferringPhysicianName",
    "PerformingPhysicianName", "OperatorsName", "StationName", "StudyDate", "SeriesDate",
    "AcquisitionDate", "ContentDate", "StudyTime", "AccessionNumber", "StudyID", "DeviceSerialNumber",
)  # fmt: skip
UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def _files(folder: Path | None, expect: dict) -> list:
    names = sorted(set(expect) | ({p.name for p in folder.iterdir()} if folder else set()))
    return [pytest.param(n, marks=needs_data) for n in names]


def _shared(folder: Path | None, name: str) -> Path:
    path = folder / name if folder else None
    if path is None or not path.is_file():
        pytest.skip(f"{name} not in the shared data folder")
    return path


def _ct_small() -> Path:
    return _shared(DICOM_DIR, "pydicom__CT_small.dcm")


def _expectation(directory: Path, table: dict, name: str) -> tuple[Path, object]:
    """The shared file and what the test table expects of it (a table entry is required)."""
    path = _shared(directory, name)
    assert name in table, f"add an expectation for new shared file {name}"
    return path, table[name]


def _as_jpeg_dicom(ds: object, **save: object) -> object:
    """``ds`` with its pixels re-encoded as one baseline JPEG fragment."""
    buf = io.BytesIO()
    PIL_Image.fromarray(ds.pixel_array).save(buf, "JPEG", **save)
    ds.PixelData = pydicom.encaps.encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGBaseline8Bit
    return ds


def _check_image(img: Image, shape: tuple[int, ...]) -> None:
    assert img.pixels.dtype == np.float32
    assert img.pixels.shape == shape
    assert np.isfinite(img.pixels).all()
    assert img.pixels.min() >= 0.0 and img.pixels.max() <= 255.0
    assert img.pixels.max() > img.pixels.min(), "a real image is not constant"
    assert img.spatial_dims == len(shape) - 1


# ---------------------------------------------------------------- every shared file


@pytest.mark.parametrize("name", _files(DICOM_DIR, DICOM_EXPECT))
def test_each_shared_dicom_reads_or_is_refused_clearly(name):
    path, expected = _expectation(DICOM_DIR, DICOM_EXPECT, name)
    if isinstance(expected, str):
        with pytest.raises(InvalidInputError) as err:
            read_image(path)
        assert str(err.value) == f"{name}: {expected}"
        return
    modality, shape, words = expected
    img = read_image(path)
    _check_image(img, shape)
    assert img.format == "dicom" and img.modality == modality
    notes = " | ".join(img.notes)
    assert "de-identified" in notes
    for word in words:
        assert word in notes


@pytest.mark.parametrize("name", _files(NIFTI_DIR, NIFTI_EXPECT))
def test_each_shared_nifti_reads_or_is_refused_clearly(name):
    path, expected = _expectation(NIFTI_DIR, NIFTI_EXPECT, name)
    if isinstance(expected, str):
        with pytest.raises(InvalidInputError, match=expected):
            read_image(path)
        return
    shape, spacing = expected
    img = read_image(path.read_bytes(), name)
    _check_image(img, shape)
    assert img.format == "nifti" and img.spacing == spacing
    assert any("(z, y, x)" in n for n in img.notes)
    assert any("percentiles" in n for n in img.notes)


@needs_data
def test_monochrome1_files_are_inverted_after_windowing():
    mono1 = []
    for path in sorted(DICOM_DIR.iterdir()):
        ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
        if ds.get("PhotometricInterpretation") == "MONOCHROME1":
            mono1.append(path)
            assert any("MONOCHROME1 inverted" in n for n in read_dicom(path).notes)
    assert [p.name for p in mono1] == ["pydicom-data__RG3_UNCR.dcm"]
    ds = pydicom.dcmread(mono1[0])
    windowed = pydicom.pixels.apply_voi_lut(ds.pixel_array, ds)
    expected = 255.0 - windowed / (2**ds.BitsStored - 1) * 255.0
    np.testing.assert_allclose(read_dicom(mono1[0]).pixels[0], expected, atol=1e-2)


@needs_data
def test_ct_is_rescaled_to_hounsfield_units_before_display():
    path = _ct_small()
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    lo, hi = np.percentile(hu, (0.5, 99.5))
    expected = np.clip((hu - lo) / (hi - lo) * 255.0, 0, 255)
    img = read_dicom(path)
    np.testing.assert_allclose(img.pixels[0], expected, atol=1e-3)
    assert img.spacing == pytest.approx((0.661468, 0.661468))


@needs_data
def test_a_jpeg_compressed_ycbcr_dicom_reads_as_rgb():
    ds = pydicom.dcmread(_shared(DICOM_DIR, "pydicom-data__US1_UNCR.dcm"))
    rgb = ds.pixel_array
    _as_jpeg_dicom(ds, quality=95)
    ds.PhotometricInterpretation = "YBR_FULL_422"
    img = read_dicom(_to_bytes(ds))
    assert img.pixels.shape == (3, 480, 640)
    assert "converted from YBR_FULL_422 to RGB" in img.notes
    assert np.abs(img.pixels - np.moveaxis(rgb, -1, 0)).mean() < 4.0


@needs_data
def test_enhanced_multiframe_takes_rescale_window_and_spacing_from_functional_groups():
    ds = pydicom.dcmread(_shared(DICOM_DIR, "pydicom-data__emri_small.dcm"))
    stored = ds.pixel_array.astype(np.float64)

    def item(**attributes):
        out = pydicom.Dataset()
        for keyword, value in attributes.items():
            setattr(out, keyword, value)
        return out

    measures = item(PixelSpacing=[0.5, 0.6], SpacingBetweenSlices=1.2)
    rescale = item(RescaleSlope=2, RescaleIntercept=-100, RescaleType="US")
    ds.SharedFunctionalGroupsSequence = [
        item(PixelMeasuresSequence=[measures], PixelValueTransformationSequence=[rescale])
    ]
    ds.PerFrameFunctionalGroupsSequence = [
        item(FrameVOILUTSequence=[item(WindowCenter=200 + 50 * i, WindowWidth=400)])
        for i in range(10)
    ]
    img = read_dicom(_to_bytes(ds))
    assert img.pixels.shape == (1, 10, 64, 64) and img.spacing == (1.2, 0.5, 0.6)
    assert "rescaled to modality values (slope 2, intercept -100)" in img.notes
    assert "windowed at center 200 width 400" in img.notes
    for i in (0, 9):  # PS3.3 C.11.2.1.2.1 linear window on the rescaled values
        centre, width = 200 + 50 * i - 0.5, 399.0
        expected = np.clip((stored[i] * 2 - 100 - centre) / width + 0.5, 0, 1) * 255
        np.testing.assert_allclose(img.pixels[0, i], expected, atol=1e-3)


# ---------------------------------------------------------------- de-identification


def _to_bytes(ds) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def _text_values(ds) -> list[tuple[str, str]]:
    return [
        (e.keyword, str(e.value))
        for e in ds.iterall()
        if e.VR not in ("OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ")
    ]


@pytest.mark.parametrize("name", _files(DICOM_DIR, DICOM_EXPECT))
def test_deidentified_bytes_hold_no_original_identifiers(name):
    raw = _shared(DICOM_DIR, name).read_bytes()
    before = pydicom.dcmread(io.BytesIO(raw), force=True)
    out = deidentify_dicom_bytes(raw)
    assert out[128:132] == b"DICM"  # written as a proper DICOM file, preamble zeroed
    assert out[:128] == bytes(128)
    after = pydicom.dcmread(io.BytesIO(out))
    assert after.PatientIdentityRemoved == "YES"
    code = after.DeidentificationMethodCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    assert code.CodeMeaning == "Basic Application Confidentiality Profile"
    method = " ".join(after.DeidentificationMethod)
    assert "Basic Application Confidentiality Profile" in method and "dicom-anonymizer" in method
    assert not [e.tag for e in after.iterall() if e.tag.is_private]
    assert after.SOPClassUID == before.SOPClassUID
    assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
    for keyword in UIDS:
        if keyword in before:
            assert str(after.get(keyword, "")) != str(before[keyword].value)
    kept = _text_values(after)
    for keyword in IDENTIFYING:
        original = str(before.get(keyword) or "").strip()
        if keyword in after:  # emptied or dummied, never the original
            assert (
                str(after[keyword].value).strip() in ("", "00010101", "000000.00", "ANONYMIZED")
                or not original
            )
        if len(original) < 6 or set(original) <= {"0", "."}:
            continue  # too short or a dummy already: it would match by chance
        if original.encode() in out:
            # Only legitimate as part of a longer value the profile keeps (Manufacturer
            # "TOSHIBA_MEC" when the test file's fake institution is "TOSHIBA").
            assert all(value != original for _, value in kept), (keyword, original)
            assert any(original in value and value != original for _, value in kept)


@needs_data
def test_read_dicom_deidentifies_before_decoding(monkeypatch):
    path = _ct_small()
    original = str(pydicom.dcmread(path).PatientName)
    seen: list[tuple[str, str]] = []
    real = pydicom.pixels.decoders.base.Decoder.as_array

    def spy(self, src, **kwargs):
        seen.append((str(src.get("PatientName")), str(src.get("PatientIdentityRemoved"))))
        return real(self, src, **kwargs)

    monkeypatch.setattr(pydicom.pixels.decoders.base.Decoder, "as_array", spy)
    img = read_dicom(path)
    assert original and seen == [("", "YES")]
    assert not any(original in note for note in img.notes)
    seen.clear()
    read_dicom(path, deidentify=False)
    assert seen == [(original, "None")]


@needs_data
def test_pydicom_warnings_that_quote_values_stay_out_of_logs(caplog):
    ds = pydicom.dcmread(_ct_small())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.StudyInstanceUID = "1.2.840.99999.DOE.JOHN"  # invalid UID: pydicom quotes it
        raw = _to_bytes(ds)
    caplog.clear()  # setting the value above logged it, as pydicom does
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_dicom(raw)
        deidentify_dicom_bytes(raw)
    assert "DOE" not in caplog.text
    assert not any("DOE" in str(w.message) for w in caught)


@needs_data
def test_identifiers_nested_in_kept_sequences_are_removed_too():
    ds = pydicom.dcmread(_ct_small())
    item = pydicom.Dataset()
    item.PatientName = "Nested^Secret"
    item.OperatorsName = "Operator^Hidden"
    item.add_new(0x00091001, "LO", "private nested")
    ds.SharedFunctionalGroupsSequence = pydicom.Sequence([item])
    out = deidentify_dicom_bytes(_to_bytes(ds))
    for secret in (b"Nested", b"Secret", b"Operator^Hidden", b"private nested"):
        assert secret not in out


@needs_data
def test_deidentification_is_thread_safe_and_keeps_no_uid_memory():
    from dicomanonymizer import simpledicomanonymizer

    raw = _ct_small().read_bytes()
    results: list[bytes] = []

    def work() -> None:
        for _ in range(5):
            results.append(deidentify_dicom_bytes(raw))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 30 and simpledicomanonymizer.dictionary == {}
    instance_uids = set()
    for out in results:
        ds = pydicom.dcmread(io.BytesIO(out))
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        instance_uids.add(ds.SOPInstanceUID)
    assert len(instance_uids) == 30, "every call draws fresh UIDs"


@needs_data
def test_a_file_the_profile_cannot_process_is_refused_not_passed_on():
    ds = pydicom.dcmread(_ct_small())
    # Acquisition Field Of View Label is a "replace" attribute; as OW the anonymizer has no
    # dummy for it, so the profile cannot be completed.
    ds.add_new(0x001811BB, "OW", b"\x00\x01")
    with pytest.raises(InvalidInputError, match="^odd.dcm: cannot de-identify"):
        deidentify_dicom_bytes(_to_bytes(ds), "odd.dcm")
    with pytest.raises(InvalidInputError, match="cannot de-identify"):
        read_dicom(_to_bytes(ds))


@needs_data
def test_deidentify_dataset_returns_the_same_object():
    ds = pydicom.dcmread(_shared(DICOM_DIR, "pydicom__MR_small.dcm"))
    assert deidentify_dataset(ds) is ds and str(ds.PatientName) == ""


# ---------------------------------------------------------------- hostile or broken DICOM


@needs_data
def test_truncated_dicom_is_a_clear_422():
    raw = _ct_small().read_bytes()
    with pytest.raises(
        InvalidInputError,
        match=r"^scan\.dcm: truncated DICOM: pixel data declares 32768 bytes, file holds \d+$",
    ):
        read_image(raw[: len(raw) // 2], "scan.dcm")
    with pytest.raises(InvalidInputError, match="truncated DICOM"):
        read_dicom(raw[:301])


@needs_data
def test_dicom_without_pixel_data_says_so():
    ds = pydicom.dcmread(_ct_small())
    del ds.PixelData
    with pytest.raises(
        InvalidInputError, match=r"\(CT Image Storage\) has no pixel data; send an image"
    ):
        read_dicom(_to_bytes(ds))


@needs_data
def test_huge_declared_dicom_is_refused_before_decoding(monkeypatch):
    ds = pydicom.dcmread(_ct_small())
    ds.Rows = ds.Columns = 40000

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a refused image")

    monkeypatch.setattr(pydicom.pixels.decoders.base.Decoder, "as_array", no_decoding)
    with pytest.raises(PayloadTooLargeError) as err:
        read_image(_to_bytes(ds), "big.dcm")
    assert str(err.value) == (
        "big.dcm: declares 40000 x 40000 pixels (1,600,000,000), over the limit of "
        "64,000,000; refused before decoding"
    )


@needs_data
def test_undecodable_transfer_syntax_names_it():
    ds = pydicom.dcmread(_ct_small())
    ds.PixelData = pydicom.encaps.encapsulate([b"\x00" * 64])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = pydicom.uid.MPEG2MPML
    with pytest.raises(InvalidInputError, match=r"'MPEG2 Main Profile / Main Level'.*no decoder"):
        read_dicom(_to_bytes(ds))


@needs_data
def test_missing_decoder_package_is_named(monkeypatch):
    ds = _as_jpeg_dicom(pydicom.dcmread(_shared(DICOM_DIR, "pydicom-data__US1_UNCR.dcm")))
    decoder_class = pydicom.pixels.decoders.base.Decoder
    monkeypatch.setattr(decoder_class, "is_available", property(lambda self: False))
    with pytest.raises(InvalidInputError, match=r"JPEG Baseline.*not installed.*gdcm"):
        read_dicom(_to_bytes(ds))


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "scan.dcm", "scan.dcm: empty file"),
        (
            b"patient notes, not an image\n" * 20,
            "scan.dcm",
            "the name says DICOM but the content is text",
        ),
        (np.random.default_rng(0).bytes(4096), "blob.bin", "not a supported image"),
    ],
)
def test_non_images_are_refused_by_content(data, filename, message):
    with pytest.raises(InvalidInputError, match=message):
        read_image(data, filename)


@pytest.mark.parametrize("reader", [read_dicom, read_nifti, read_raster])
def test_every_reader_refuses_empty_and_random_bytes(reader):
    for data in (b"", np.random.default_rng(1).bytes(2048), b"hello world\n" * 50):
        with pytest.raises(InvalidInputError):
            reader(data)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="nothing.dcm: file not found"):
        read_dicom(tmp_path / "nothing.dcm")


# ---------------------------------------------------------------- NIfTI


def _nifti_bytes(data: np.ndarray, zooms=None, slope=None) -> bytes:
    img = nib.Nifti1Image(data, np.eye(4))
    if zooms:
        img.header.set_zooms(zooms)
    raw = bytearray(img.to_bytes())
    if slope is not None:  # nibabel picks its own scaling on save; write the fields directly
        raw[112:120] = struct.pack("<ff", slope, 10.0)
    return bytes(raw)


def test_nifti_2d_3d_and_single_volume_4d():
    rng = np.random.default_rng(2)
    flat = _nifti_bytes(rng.normal(size=(30, 20)).astype(np.float32), zooms=(0.5, 0.7))
    img = read_nifti(flat)
    _check_image(img, (1, 20, 30))
    assert img.spacing == pytest.approx((0.7, 0.5))
    volume = rng.integers(0, 1000, size=(12, 10, 8, 1)).astype(np.int16)
    img = read_image(gzip.compress(_nifti_bytes(volume, zooms=(1, 2, 3, 1))), "vol.nii.gz")
    _check_image(img, (1, 8, 10, 12))
    assert img.spacing == pytest.approx((3.0, 2.0, 1.0))


def test_nifti_scaling_is_applied_and_noted():
    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    img = read_nifti(_nifti_bytes(data, slope=2.0))
    assert "scaled by scl_slope 2 and scl_inter 10" in img.notes
    # a linear scaling does not change the display: same picture as unscaled
    np.testing.assert_allclose(img.pixels, read_nifti(_nifti_bytes(data)).pixels, atol=1e-3)


def test_nifti_with_vox_offset_zero_reads_voxels_after_the_header():
    header = nib.Nifti1Header()
    header.set_data_shape((4, 3, 2))
    header.set_data_dtype(np.uint8)
    header.set_qform(np.eye(4), code=1)  # already RAS+: no reorientation
    voxels = np.arange(24, dtype=np.uint8).reshape((4, 3, 2), order="F")
    raw = header.binaryblock + bytes(4) + voxels.tobytes(order="F")
    assert header["vox_offset"] == 0
    lo, hi = np.percentile(voxels, (0.5, 99.5))
    expected = np.clip((voxels.transpose(2, 1, 0) - lo) / (hi - lo) * 255.0, 0, 255)
    np.testing.assert_allclose(read_nifti(raw).pixels[0], expected, atol=1e-3)


def test_truncated_and_paired_nifti_are_refused():
    raw = _nifti_bytes(np.zeros((16, 16, 16), np.int16))
    with pytest.raises(InvalidInputError, match=r"truncated NIfTI: the header declares 8544 bytes"):
        read_nifti(raw[:5000])
    pair = bytearray(raw[:348])
    pair[344:348] = b"ni1\x00"
    with pytest.raises(InvalidInputError, match="hdr/.img pair"):
        read_image(bytes(pair), "brain.nii")


def _gzip_zeros(megabytes: int, head: bytes = b"") -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [packer.compress(head)]
    block = bytes(1024 * 1024)
    parts += [packer.compress(block) for _ in range(megabytes)]
    return b"".join(parts) + packer.flush()


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 1e6


def test_gzip_bomb_is_refused_without_inflating_it():
    bomb = _gzip_zeros(200)
    assert len(bomb) < 1_000_000

    def read():
        with pytest.raises(InvalidInputError, match="not a NIfTI file"):
            read_image(bomb, "brain.nii.gz")

    assert _peak_mb(read) < 30


def test_gzip_bomb_behind_a_huge_header_is_413_and_a_small_header_stops_inflating():
    huge = nib.Nifti1Header()
    huge.set_data_shape((2000, 2000, 2000))
    huge.set_data_dtype(np.int16)
    bomb = _gzip_zeros(50, huge.binaryblock + bytes(4))

    def refuse():
        with pytest.raises(PayloadTooLargeError, match=r"2000 x 2000 x 2000 voxels"):
            read_nifti(bomb)

    assert _peak_mb(refuse) < 30
    small = nib.Nifti1Header()
    small.set_data_shape((10, 10, 10))
    small.set_data_dtype(np.int16)
    padded = _gzip_zeros(200, small.binaryblock + bytes(4))
    holder: list[Image] = []
    assert _peak_mb(lambda: holder.append(read_nifti(padded))) < 30
    assert holder[0].pixels.shape == (1, 10, 10, 10) and "constant image" in holder[0].notes[-1]


# ---------------------------------------------------------------- PNG and JPEG


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PIL_Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def test_png_modes_reach_the_display_scale():
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    np.testing.assert_array_equal(read_raster(_png(grey)).pixels[0], grey)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    img = read_image(_png(rgb), "photo.png")
    assert img.format == "png" and img.pixels.shape == (3, 20, 30)
    same = np.repeat(grey[..., None], 3, axis=2)
    img = read_raster(_png(same))
    assert (
        img.pixels.shape == (1, 20, 30)
        and "colour channels identical: read as greyscale" in img.notes
    )
    deep = (grey.astype(np.uint16) * 257).astype(np.uint16)
    img = read_raster(_png(deep))
    np.testing.assert_allclose(img.pixels[0], grey, atol=1e-3)
    assert any("16-bit" in n for n in img.notes)
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[...] = (100, 200, 50, 128)
    img = read_raster(_png(rgba))
    np.testing.assert_allclose(img.pixels[:, 0, 0], np.array([100, 200, 50]) * 128 / 255, atol=1e-3)
    assert "alpha channel dropped after compositing on black" in img.notes
    palette = PIL_Image.fromarray(rgb).convert("P")
    buf = io.BytesIO()
    palette.save(buf, "PNG")
    assert read_raster(buf.getvalue()).pixels.shape == (3, 20, 30)


def test_jpeg_reads_and_follows_exif_orientation():
    im = PIL_Image.fromarray(np.random.default_rng(4).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    exif = PIL_Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif)
    img = read_image(buf.getvalue(), "lesion.jpg")
    assert img.format == "jpeg" and img.pixels.shape == (3, 30, 20)
    assert "rotated upright per EXIF orientation 6" in img.notes


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_png_declaring_40000_squared_is_refused_before_decoding():
    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )
    with pytest.raises(PayloadTooLargeError) as err:
        read_image(png, "bomb.png")
    assert str(err.value) == (
        "bomb.png: declares 40000 x 40000 pixels (1,600,000,000), over the limit of "
        "64,000,000; refused before decoding"
    )


def test_jpeg_bombs_are_refused_by_us_or_by_pillow():
    def jpeg_header(side: int) -> bytes:
        sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, side, side, 1) + b"\x01\x11\x00"
        sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
        return b"\xff\xd8" + sof + sos + bytes(16) + b"\xff\xd9"

    with pytest.raises(PayloadTooLargeError, match=r"9000 x 9000 pixels \(81,000,000\)"):
        read_raster(jpeg_header(9000))
    with pytest.raises(PayloadTooLargeError, match=r"4,225,000,000.*decompression-bomb"):
        read_raster(jpeg_header(65000))
    with pytest.raises(PayloadTooLargeError, match="over the limit of 500"):
        read_raster(_png(np.zeros((30, 30), np.uint8)), max_pixels=500)


def test_a_jpeg_declaring_more_than_its_bytes_can_hold_is_refused_before_decoding():
    # A real 16 x 16 JPEG whose frame header is edited to say 8000 x 8000: 333 bytes that
    # libjpeg would decode (the rest filled with grey) to 64 M samples and ~400 MB.
    buf = io.BytesIO()
    PIL_Image.new("L", (16, 16), 128).save(buf, "JPEG")
    raw = bytearray(buf.getvalue())
    sof = raw.find(b"\xff\xc0")
    raw[sof + 5:sof + 9] = struct.pack(">HH", 8000, 8000)
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInputError, match=r"64,000,000 samples in only \d+ bytes.*truncated or crafted"):
            read_raster(bytes(raw))
        assert tracemalloc.get_traced_memory()[1] < 8 << 20
    finally:
        tracemalloc.stop()
    # The same check holds for DICOM's JPEG transfer syntaxes, not for uncompressed pixel data.
    with pytest.raises(InvalidInputError, match="truncated or crafted"):
        read_dicom(dicom_bytes(6000, 6000, bits=8, transfer_syntax=str(pydicom.uid.JPEGBaseline8Bit),
                               pixel_bytes=bytes(raw)))
    # The most compressible real JPEGs, uniform images (~510 samples per byte), are read.
    for mode in ("L", "RGB"):
        flat = io.BytesIO()
        PIL_Image.new(mode, (1500, 1000), 90).save(flat, "JPEG", quality=5)
        assert read_raster(flat.getvalue()).pixels.shape[1:] == (1000, 1500)


def test_truncated_png_is_a_clear_error():
    raw = _png(np.random.default_rng(5).integers(0, 256, (64, 64), dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="truncated or corrupt PNG"):
        read_raster(raw[: len(raw) // 2])


def test_default_limit_is_the_documented_one():
    assert DEFAULT_MAX_PIXELS == 64_000_000


# ---------------------------------------------------------------- MedMNIST


@needs_data
def test_medmnist_shared_files_read_as_documented():
    breast = read_medmnist(ROOT / "breastmnist.npz")
    images, labels = breast["train"]
    assert images.shape == (546, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (546,) and labels.dtype == np.int64 and set(labels) == {0, 1}
    assert breast["val"][0].shape == (78, 28, 28) and breast["test"][0].shape == (156, 28, 28)
    adrenal = read_medmnist((ROOT / "adrenalmnist3d.npz").read_bytes())
    assert adrenal["train"][0].shape == (1188, 28, 28, 28) and adrenal["train"][1].shape == (1188,)


def _npz(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "set.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"train_images": np.zeros((3, 4, 4), np.uint8)}, "needs train_images and train_labels"),
        (
            {"train_images": np.zeros((3, 4, 4), np.uint8), "train_labels": np.zeros(2, np.int64)},
            "3 images but 2 labels",
        ),
        (
            {
                "train_images": np.zeros((3, 4, 4), np.uint8),
                "train_labels": np.zeros((3, 4), np.int64),
            },
            "multi-label",
        ),
        (
            {
                "train_images": np.zeros((3, 4, 4), np.uint8),
                "train_labels": np.zeros(3, np.float32),
            },
            "integer class indices",
        ),
        (
            {"train_images": np.zeros((3, 4, 4), np.uint8), "train_labels": np.array([0, -1, 1])},
            ">= 0",
        ),
        (
            {
                "train_images": np.zeros((3, 4, 4), np.float32),
                "train_labels": np.zeros(3, np.int64),
            },
            "must be uint8",
        ),
        (
            {
                "train_images": np.zeros((3, 4, 4), np.uint8),
                "train_labels": np.array([{"x": 1}] * 3, dtype=object),
            },
            "pickled object arrays",
        ),
        (
            {
                "train_images": np.zeros((3, 4, 4), np.uint8),
                "train_labels": np.zeros(3, np.int64),
                "val_images": np.zeros((1, 4, 4), np.uint8),
            },
            "'val' lacks val_labels",
        ),
    ],
)
def test_medmnist_refusals(tmp_path, arrays, message):
    with pytest.raises(InvalidInputError, match=message):
        read_medmnist(_npz(tmp_path, **arrays))


def test_medmnist_optional_splits_and_non_npz(tmp_path):
    path = _npz(
        tmp_path,
        train_images=np.zeros((2, 3, 3), np.uint8),
        train_labels=np.array([[1], [0]], np.uint8),
    )
    splits = read_medmnist(path)
    assert list(splits) == ["train"] and splits["train"][1].tolist() == [1, 0]
    single = tmp_path / "one.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(InvalidInputError, match="single .npy"):
        read_medmnist(single)
    with pytest.raises(InvalidInputError, match="not an .npz"):
        read_medmnist(b"not a zip at all")


# ---------------------------------------------------------------- folders and CSV


def _write_png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL_Image.fromarray(np.full((8, 8), value, np.uint8)).save(path)


def test_class_folders_are_listed_sorted_without_hidden_files(tmp_path):
    for rel, value in [
        ("malignant/c.png", 3),
        ("benign/b.png", 2),
        ("benign/a.png", 1),
        ("malignant/sub/d.png", 4),
    ]:
        _write_png(tmp_path / rel, value)
    (tmp_path / "benign" / ".DS_Store").write_bytes(b"junk")
    _write_png(tmp_path / ".cache" / "x.png", 9)
    (tmp_path / "README.txt").write_text("not a class")
    pairs = read_class_folders(tmp_path)
    assert [(p.relative_to(tmp_path).as_posix(), c) for p, c in pairs] == [
        ("benign/a.png", "benign"),
        ("benign/b.png", "benign"),
        ("malignant/c.png", "malignant"),
        ("malignant/sub/d.png", "malignant"),
    ]
    assert [read_image(p).pixels[0, 0, 0] for p, _ in pairs] == [1, 2, 3, 4]
    assert read_class_folders(tmp_path) == pairs


def test_class_folder_refusals(tmp_path):
    _write_png(tmp_path / "only" / "a.png", 1)
    with pytest.raises(InvalidInputError, match="at least two class folders"):
        read_class_folders(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="without files: empty"):
        read_class_folders(tmp_path)
    with pytest.raises(InvalidInputError, match="not a folder"):
        read_class_folders(tmp_path / "missing")


def test_path_csv_resolves_relative_paths_and_names_bad_rows(tmp_path):
    data = tmp_path / "data"
    _write_png(data / "img" / "a.png", 1)
    _write_png(tmp_path / "elsewhere" / "b.png", 2)
    csv_path = data / "labels.csv"
    absolute = tmp_path / "elsewhere" / "b.png"
    csv_path.write_text(
        f"\ufeffFilename,Class\nimg/a.png,normal\n../elsewhere/b.png,pneumonia\n{absolute},pneumonia\n\n",
        encoding="utf-8",
    )
    pairs = read_path_csv(csv_path)
    assert [(p.resolve(), label) for p, label in pairs] == [
        ((data / "img" / "a.png").resolve(), "normal"),
        (absolute.resolve(), "pneumonia"),
        (absolute.resolve(), "pneumonia"),
    ]
    csv_path.write_text("path,label\nimg/a.png,normal\nimg/missing.png,normal\n")
    with pytest.raises(
        InvalidInputError, match=r"labels.csv: line 3: file 'img/missing.png' does not exist"
    ):
        read_path_csv(csv_path)
    csv_path.write_text("path,diagnosis\nimg/a.png,normal\n")
    with pytest.raises(
        InvalidInputError, match="no label column; expected one of label, class, target"
    ):
        read_path_csv(csv_path)
    csv_path.write_text("image,target\nimg/a.png,\n")
    with pytest.raises(InvalidInputError, match="line 2: empty 'target'"):
        read_path_csv(csv_path)
