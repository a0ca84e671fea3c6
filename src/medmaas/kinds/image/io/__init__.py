"""Image input: DICOM, NIfTI, PNG and JPEG files in, one display-scale ``Image`` out.

    read_image            sniff the bytes, then one of:
    ├── read_dicom        pydicom; de-identified first (deid), then modality LUT, VOI, polarity
    ├── read_nifti        nibabel; .nii.gz inflated header first, so bombs cost nothing
    └── read_raster       Pillow; PNG and JPEG
    read_medmnist         a MedMNIST .npz data set (images + labels per split)
    read_class_folders    root/<class>/<files>
    read_path_csv         a CSV of path, label
    deidentify_dataset, deidentify_dicom_bytes   the PS3.15 basic profile

Every reader checks the declared size against ``max_pixels`` before decoding, and turns the
libraries' exceptions into ``InvalidInputError`` (422) or ``PayloadTooLargeError`` (413) with
the file name and what is wrong, never patient data.
"""

from __future__ import annotations

from pathlib import Path

from medmaas.exceptions import InvalidInputError
from medmaas.kinds.image.io.deid import deidentify_dataset, deidentify_dicom_bytes
from medmaas.kinds.image.io.dicom import read_dicom, read_dicom_bytes
from medmaas.kinds.image.io.image import DEFAULT_MAX_PIXELS, Image, load_source
from medmaas.kinds.image.io.layout import read_class_folders, read_path_csv
from medmaas.kinds.image.io.nifti import read_nifti, read_nifti_bytes
from medmaas.kinds.image.io.npz import read_medmnist
from medmaas.kinds.image.io.raster import read_raster, read_raster_bytes
from medmaas.kinds.image.io.sniff import describe, sniff_format

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "Image",
    "deidentify_dataset",
    "deidentify_dicom_bytes",
    "read_class_folders",
    "read_dicom",
    "read_image",
    "read_medmnist",
    "read_nifti",
    "read_path_csv",
    "read_raster",
]


def read_image(
    data: bytes | Path, filename: str = "", *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image:
    """Read one image of any supported format, chosen by its bytes, never by its name.

    DICOM files are de-identified before anything else reads them. ``filename`` only names
    the file in error messages.

    >>> import io
    >>> from PIL import Image as PILImage
    >>> buf = io.BytesIO()
    >>> PILImage.new("RGB", (6, 4), (10, 200, 30)).save(buf, "PNG")
    >>> img = read_image(buf.getvalue(), "photo.png")
    >>> img.format, img.pixels.shape
    ('png', (3, 4, 6))
    """
    raw, name = load_source(data, filename)
    if not raw:
        raise InvalidInputError(f"{name}: empty file (0 bytes)")
    kind = sniff_format(raw)
    if kind == "dicom":
        return read_dicom_bytes(raw, name, max_pixels=max_pixels)
    if kind in ("nifti", "gzip"):
        return read_nifti_bytes(raw, name, max_pixels=max_pixels)
    if kind in ("png", "jpeg"):
        return read_raster_bytes(raw, name, max_pixels=max_pixels)
    claimed = _claimed(name)
    raise InvalidInputError(
        f"{name}: not a supported image (DICOM, NIfTI .nii/.nii.gz, PNG or JPEG)"
        + (
            f"; the name says {claimed} but the content is {describe(raw)}"
            if claimed
            else f"; got {describe(raw)}"
        )
    )


def _claimed(name: str) -> str:
    lower = name.lower()
    for suffixes, label in (
        ((".dcm", ".dicom"), "DICOM"),
        ((".nii", ".nii.gz"), "NIfTI"),
        ((".png",), "PNG"),
        ((".jpg", ".jpeg"), "JPEG"),
    ):
        if lower.endswith(suffixes):
            return label
    return ""
