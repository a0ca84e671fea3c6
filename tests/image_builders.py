"""Tiny image data sets made in memory: a bright blob (class "finding") or only noise."""

from __future__ import annotations

import numpy as np

from medmaas.kinds.image.dataset import ImageDataset, images_sha256


def blob_images(n: int, size: int, spatial_dims: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 1, size, size[, size]) uint8 images; half carry a bright square somewhere."""
    rng = np.random.default_rng(seed)
    shape = (n, 1, *([size] * spatial_dims))
    images = rng.normal(70, 20, size=shape).clip(0, 255)
    y = np.arange(n) % 2
    side = max(3, size // 4)
    for i in np.flatnonzero(y):
        corner = rng.integers(0, size - side, size=spatial_dims)
        images[(i, 0, *(slice(c, c + side) for c in corner))] = 220
    return images.astype(np.uint8), y.astype(np.int64)


def blob_dataset(n: int = 96, size: int = 16, spatial_dims: int = 2, seed: int = 0,
                 with_splits: bool = False) -> ImageDataset:
    images, y = blob_images(n, size, spatial_dims, seed)
    split = None
    if with_splits:
        split = np.array(["train"] * n, dtype=object)
        split[-n // 5:] = "test"
        split[-2 * n // 5:-n // 5] = "val"
    return ImageDataset(name="blobs", task="classification", target_name="finding", source="memory",
                        content_sha256=images_sha256(images, y), classes=("none", "blob"),
                        images=images, y=y, split=split)


def dicom_bytes(rows: int = 8, columns: int = 8, *, bits: int = 16, samples: int = 1,
                photometric: str | None = None, frames: int | None = None,
                transfer_syntax: str = "1.2.840.10008.1.2.1", pixel_bytes: bytes | None = None,
                raw: dict[str, bytes | int | None] | None = None, seed: int = 0) -> bytes:
    """A small CT-like DICOM file, written in memory with pydicom: random pixels, rescale to
    Hounsfield units, and the patient identifiers de-identification must remove.

    ``pixel_bytes`` replaces the Pixel Data value (encapsulated as one fragment for compressed
    transfer syntaxes; by default random pixels, at most 64 Ki samples of them); ``raw`` sets elements by keyword after the rest: bytes are written
    verbatim with the dictionary VR, valid or not; an int sets the value; None removes it.
    """
    import io

    import pydicom
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import RawDataElement
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.tag import Tag
    from pydicom.uid import UID, CTImageStorage

    from medmaas.kinds.image.io.dicomfile import quiet

    rng = np.random.default_rng(seed)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    meta.TransferSyntaxUID = UID(transfer_syntax)
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "MRN-0042", "19700101"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.2", "1.2.826.0.1.3680043.8.498.3"
    ds.Modality = "CT"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, samples
    ds.PhotometricInterpretation = photometric or ("RGB" if samples == 3 else "MONOCHROME2")
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, max(bits - 1, 0), 0
    if samples == 3:
        ds.PlanarConfiguration = 0
    if frames is not None:
        ds.NumberOfFrames = frames
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    if pixel_bytes is None:  # at most 64 Ki samples are made: a bigger image is only declared
        count = min(rows * columns * samples * (frames or 1), 1 << 16)
        dtype = np.uint8 if bits <= 8 else np.uint16
        pixel_bytes = rng.integers(0, 200 if bits <= 8 else 3000, size=count, dtype=dtype).tobytes()
    if meta.TransferSyntaxUID.is_compressed:
        pixel_bytes = pydicom.encaps.encapsulate([pixel_bytes.ljust(2, b"\0")])
    ds.PixelData = pixel_bytes
    ds["PixelData"].VR = "OW" if bits > 8 and not meta.TransferSyntaxUID.is_compressed else "OB"
    for keyword, value in (raw or {}).items():
        tag = Tag(tag_for_keyword(keyword))
        if value is None:
            if tag in ds:
                del ds[tag]
        elif isinstance(value, bytes):
            ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(value), value, 0, False, True)
        else:
            setattr(ds, keyword, value)
    ds.preamble = b"\0" * 128
    # Declared as already in the file's encoding, the writer writes raw elements as they are
    # rather than converting (and refusing) the invalid ones.
    syntax = meta.TransferSyntaxUID
    ds.set_original_encoding(syntax.is_implicit_VR, syntax.is_little_endian, ds._character_set)
    buffer = io.BytesIO()
    with quiet():
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def raster_bytes(mode: str = "L", fmt: str = "PNG", size: tuple[int, int] = (6, 5), seed: int = 0,
                 **save: object) -> bytes:
    """A small PNG or JPEG of random pixels in Pillow ``mode`` (width, height = ``size``)."""
    import io

    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    colour = mode in ("RGB", "RGBA", "CMYK", "P")
    pixels = rng.integers(0, 255, size=(size[1], size[0], 3) if colour else (size[1], size[0]), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).convert(mode).save(buffer, fmt, **save)
    return buffer.getvalue()


def npz_bytes(compressed: bool = False, **arrays: np.ndarray) -> bytes:
    """An .npz (a zip of .npy arrays) in memory, as ``np.savez`` writes it."""
    import io

    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()
