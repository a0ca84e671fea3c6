"""Read a NIfTI-1 or NIfTI-2 volume (.nii or .nii.gz) into an ``Image`` with nibabel.

A .nii.gz is inflated by hand, header first: the header says how many bytes the volume needs,
so a gzip bomb (a few KB that inflate to gigabytes) is refused or cut off after at most that
many bytes, never inflated whole.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from medmaas._optional import optional_import
from medmaas.exceptions import InvalidInputError, MedmaasError
from medmaas.kinds.image.io.image import (
    DEFAULT_MAX_PIXELS,
    Image,
    check_declared_size,
    load_source,
    robust_to_display,
)
from medmaas.kinds.image.io.sniff import GZIP_SIGNATURE, describe, nifti_header_kind

_HEADER_BYTES = 540  # a NIfTI-2 header; NIfTI-1's 348 fit inside


class _Gunzip:
    """Inflate gzip data on demand, never more than asked for (zlib's ``max_length``)."""

    def __init__(self, data: bytes, name: str) -> None:
        self._name = name
        self._obj = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        self._pending = data

    def read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        try:
            while size > 0 and self._pending:
                before = len(self._pending)
                chunk = self._obj.decompress(self._pending, size)
                self._pending = self._obj.unconsumed_tail
                chunks.append(chunk)
                size -= len(chunk)
                if self._obj.eof:  # a member ended: go on only into a further gzip member
                    rest = self._obj.unused_data
                    self._pending = rest if rest.startswith(GZIP_SIGNATURE) else b""
                    self._obj = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
                elif not chunk and len(self._pending) == before:
                    break
        except zlib.error:
            raise InvalidInputError(f"{self._name}: corrupt gzip data") from None
        return b"".join(chunks)


def read_nifti(data: bytes | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Read a single-file NIfTI image as display-scale float32 pixels (0..255).

    2D images come back as (1, H, W); 3D volumes as (1, D, H, W), reoriented to the closest
    RAS+ orientation and with the slice axis first. 4D series are refused unless they hold
    one volume. Intensities are scaled by scl_slope/scl_inter, then robustly to 0..255.

    >>> img = read_nifti(Path("anatomical.nii"))   # doctest: +SKIP
    >>> img.pixels.shape, img.spacing              # doctest: +SKIP
    ((1, 25, 41, 33), (2.0, 2.0, 2.0))
    """
    raw, name = load_source(data)
    return read_nifti_bytes(raw, name, max_pixels=max_pixels)


def read_nifti_bytes(raw: bytes, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """``read_nifti`` on bytes already in memory, with the name to use in messages."""
    nib = optional_import("nibabel", "imaging")
    gunzip = _Gunzip(raw, name) if raw.startswith(GZIP_SIGNATURE) else None
    head = gunzip.read(_HEADER_BYTES) if gunzip else raw[:_HEADER_BYTES]
    kind = nifti_header_kind(head)
    if kind is None:
        got = "gzip data whose content is not a NIfTI header" if gunzip else describe(raw)
        raise InvalidInputError(
            f"{name}: not a NIfTI file: no NIfTI-1 or NIfTI-2 header; got {got}"
        )
    if kind == "pair":
        raise InvalidInputError(
            f"{name}: this is the header of a .hdr/.img pair; send a single-file .nii or .nii.gz"
        )
    klass = nib.Nifti1Image if kind == "nifti1" else nib.Nifti2Image
    try:
        header = klass.header_class.from_fileobj(io.BytesIO(head), check=True)
        shape = tuple(int(d) for d in header.get_data_shape())
        dtype = header.get_data_dtype()
        declared = int(header.get_data_offset())
        offset = max(declared, int(header.sizeof_hdr) + 4)
    except Exception as exc:  # nibabel's HeaderDataError and friends
        raise InvalidInputError(f"{name}: invalid NIfTI header ({type(exc).__name__})") from None
    spatial = _spatial_shape(shape, name)
    check_declared_size(name, spatial, max_pixels, what="voxels")
    if dtype.kind not in "biuf":
        raise InvalidInputError(
            f"{name}: NIfTI data type {dtype} is not supported; expected integer or float voxels"
        )
    need = offset + int(np.prod(shape)) * dtype.itemsize
    body = head + gunzip.read(need - len(head)) if gunzip else raw
    if len(body) < need:
        raise InvalidInputError(
            f"{name}: truncated NIfTI: the header declares {need} bytes, the file holds "
            f"{len(body)}" + (" once inflated" if gunzip else "")
        )
    if declared < offset:
        # vox_offset 0 in a single file means "right after the header" to nib.load, but
        # from_bytes takes it literally and would read the header as voxels: spell it out.
        header.set_data_offset(offset)
        body = header.binaryblock + body[len(header.binaryblock) :]
    try:
        image = _to_image(nib, klass.from_bytes(body[:need]), spatial)
    except MedmaasError:
        raise
    except Exception as exc:  # nibabel and numpy errors on inconsistent files
        raise InvalidInputError(
            f"{name}: could not read the NIfTI voxels ({type(exc).__name__})"
        ) from None
    # The loaded image's header has its scaling folded into the data proxy; the parsed
    # header still says what it was.
    slope, inter = header.get_slope_inter()
    if slope is not None and (slope, inter or 0.0) != (1.0, 0.0):
        image.notes.insert(0, f"scaled by scl_slope {slope:g} and scl_inter {inter or 0.0:g}")
    return image


def _spatial_shape(shape: tuple[int, ...], name: str) -> tuple[int, ...]:
    """The 2D or 3D shape to read: trailing length-1 axes dropped, series refused."""
    if any(d < 1 for d in shape):
        raise InvalidInputError(f"{name}: NIfTI declares an empty shape {shape}")
    dims = list(shape)
    while len(dims) > 3 and dims[-1] == 1:
        dims.pop()
    if len(dims) == 4:
        raise InvalidInputError(
            f"{name}: 4D NIfTI with {dims[3]} volumes: send one volume "
            f"(shape {' x '.join(map(str, shape))})"
        )
    if len(dims) > 4:
        raise InvalidInputError(
            f"{name}: {len(dims)}D NIfTI (shape {' x '.join(map(str, shape))}): send one "
            "2D image or 3D volume"
        )
    if len(dims) < 2:
        raise InvalidInputError(f"{name}: 1D NIfTI (shape {shape[0]}): send an image or volume")
    return tuple(dims)


def _to_image(nib: Any, img: Any, spatial: tuple[int, ...]) -> Image:
    notes: list[str] = []
    if len(spatial) == 3 and spatial[2] > 1:
        # Closest canonical only permutes and flips axes (no resampling), so scans from
        # scanners that store different orientations reach the model the same way round.
        img = nib.as_closest_canonical(nib.funcs.squeeze_image(img))
        notes.append("reoriented to the closest RAS+ orientation")
        data = np.asarray(img.get_fdata(dtype=np.float32))
        zooms = [float(z) for z in img.header.get_zooms()[:3]]
        pixels = data.transpose(2, 1, 0)
        notes.append("axes reordered from nibabel's (x, y, z) to (z, y, x): slices first")
        where: tuple[float, ...] = (zooms[2], zooms[1], zooms[0])
    else:
        data = np.asarray(img.get_fdata(dtype=np.float32)).reshape(spatial[:2])
        zooms = [float(z) for z in img.header.get_zooms()[:2]]
        pixels = data.T
        if len(spatial) == 3:
            notes.append("a single-slice volume read as a 2D image")
        notes.append("axes reordered from nibabel's (x, y) to (y, x): rows first")
        where = (zooms[1], zooms[0])
    shown, note = robust_to_display(pixels)
    notes.append(note)
    return Image(
        np.ascontiguousarray(shown[np.newaxis], dtype=np.float32),
        "nifti",
        spacing=where,
        notes=notes,
    )
