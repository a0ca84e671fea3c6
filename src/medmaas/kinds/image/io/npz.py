"""Read a MedMNIST-style .npz data set: images and integer labels per split.

An .npz is a zip of .npy arrays. ``np.load`` can unpickle object arrays, which runs code from
the file, so pickles are always refused (``allow_pickle=False``); member sizes are checked from
the zip directory before anything is inflated.
"""

from __future__ import annotations

import io
import lzma
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from medmaas.exceptions import InvalidInputError, MedmaasError, PayloadTooLargeError

SPLITS = ("train", "val", "test")

#: Largest uncompressed array accepted in an .npz (the 64^3 AdrenalMNIST3D train split is 0.3 GB).
MAX_NPZ_BYTES = 2 * 1024**3


def read_medmnist(path: Path | bytes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return ``{"train": (images, labels), "val": ..., "test": ...}`` from a MedMNIST .npz.

    Images are uint8, (N, H, W), (N, H, W, 3) or (N, D, H, W); labels are int64 (N,), one
    class per image. "train" is required, "val" and "test" are returned when present.

    >>> splits = read_medmnist(Path("breastmnist.npz"))   # doctest: +SKIP
    >>> splits["train"][0].shape, splits["train"][1][:3]  # doctest: +SKIP
    ((546, 28, 28), array([1, 1, 1]))
    """
    if isinstance(path, str | os.PathLike):
        path = Path(path)
    name = path.name if isinstance(path, Path) else "data set"
    try:
        raw = path.read_bytes() if isinstance(path, Path) else bytes(path)
    except OSError:
        raise InvalidInputError(f"{name}: cannot read the file") from None
    if raw.startswith(b"\x93NUMPY"):
        raise InvalidInputError(
            f"{name}: a single .npy array, not an .npz with train_images and train_labels"
        )
    if not raw.startswith(b"PK"):
        raise InvalidInputError(f"{name}: not an .npz file (a zip of .npy arrays)")
    try:
        _check_sizes(raw, name)
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            return _splits(archive, name)
    except MedmaasError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise _pickled(name) from None
        raise InvalidInputError(f"{name}: malformed .npz ({exc})") from None
    except (
        zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, KeyError,
        NotImplementedError, RuntimeError,
    ) as exc:  # fmt: skip
        # zipfile raises NotImplementedError for unknown compression methods and versions,
        # RuntimeError for encrypted members, and passes on its decompressors' errors.
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"{name}: corrupt .npz ({detail})") from None


def _pickled(name: str) -> InvalidInputError:
    return InvalidInputError(
        f"{name}: holds pickled object arrays, which could run code when loaded; "
        "refused (store images and labels as plain numeric arrays)"
    )


def _check_sizes(raw: bytes, name: str) -> None:
    """Refuse, from the zip directory and each array's header, what would take more memory
    than the file holds: ``np.load`` allocates the shape an .npy header declares before it
    reads a byte of data."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for info in archive.infolist():
            if info.file_size > MAX_NPZ_BYTES:
                raise PayloadTooLargeError(
                    f"{name}: member {info.filename!r} inflates to {info.file_size:,} bytes, "
                    f"over the limit of {MAX_NPZ_BYTES:,}"
                )
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                shape, dtype = _npy_header(member, f"{name}: member {info.filename!r}")
            if dtype.hasobject:
                raise _pickled(name)
            declared = math.prod(shape) * dtype.itemsize
            if declared > info.file_size:
                raise InvalidInputError(
                    f"{name}: member {info.filename!r} declares a {dtype} array of shape "
                    f"{shape} ({declared:,} bytes) but holds {info.file_size:,} bytes"
                )


def _npy_header(member: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an .npy header declares, read without reading the data."""
    from numpy.lib import format as npy

    version = npy.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = npy.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = npy.read_array_header_2_0(member)
    else:
        raise InvalidInputError(
            f"{where}: .npy format version {version[0]}.{version[1]} is not supported "
            "(numpy writes 1.0 or 2.0 for numeric arrays)"
        )
    return tuple(int(d) for d in shape), dtype


def _splits(archive: np.lib.npyio.NpzFile, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    keys = set(archive.files)
    if not {"train_images", "train_labels"} <= keys:
        found = ", ".join(sorted(keys)) or "nothing"
        raise InvalidInputError(
            f"{name}: a MedMNIST .npz needs train_images and train_labels; found {found}"
        )
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in SPLITS:
        image_key, label_key = f"{split}_images", f"{split}_labels"
        if image_key not in keys and label_key not in keys:
            continue
        if image_key not in keys or label_key not in keys:
            missing = image_key if image_key not in keys else label_key
            raise InvalidInputError(f"{name}: split {split!r} lacks {missing}")
        images = _images(archive[image_key], f"{name}: {image_key}")
        labels = _labels(archive[label_key], f"{name}: {label_key}")
        if len(images) != len(labels):
            raise InvalidInputError(
                f"{name}: split {split!r} has {len(images)} images but {len(labels)} labels"
            )
        out[split] = (images, labels)
    return out


def _images(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype != np.uint8:
        raise InvalidInputError(f"{where} must be uint8 (0..255); got {arr.dtype}")
    if arr.ndim not in (3, 4) or arr.shape[0] == 0:
        raise InvalidInputError(
            f"{where} must be (N, H, W), (N, H, W, 3) or (N, D, H, W) with N >= 1; "
            f"got shape {arr.shape}"
        )
    return arr


def _labels(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidInputError(
            f"{where} must hold one class per image, shape (N,) or (N, 1); got shape "
            f"{arr.shape} (multi-label data sets are not supported)"
        )
    if arr.dtype.kind not in "iu":
        raise InvalidInputError(f"{where} must be integer class indices; got {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise InvalidInputError(f"{where} must be class indices >= 0; got {int(arr.min())}")
    return arr.astype(np.int64)
