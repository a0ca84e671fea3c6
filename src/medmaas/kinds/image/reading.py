"""Training sources of the image kind into an ``ImageDataset``: a MedMNIST ``.npz``, a folder
of class folders, or a CSV of path,label. Files are read with the serving readers (DICOM
de-identified as it is parsed) and conformed with the serving ``conform``, so training and
serving see the same pixels."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medmaas.exceptions import DataError, InvalidInputError
from medmaas.kinds.base import Progress, no_progress
from medmaas.kinds.image.conform import conform
from medmaas.kinds.image.dataset import ImageDataset, images_sha256

DEFAULT_SIZE_2D = 64
DEFAULT_SIZE_3D = 32


def read_image_dataset(source: Path, *, name: str, target: str = "label", image_size: int | None = None,
                       class_names: Sequence[str] | None = None, positive_class: str | None = None,
                       progress: Progress = no_progress) -> ImageDataset:
    """Read ``source`` (a ``.npz`` file, a class-folder tree, or a ``.csv``) into a dataset.

    ``class_names`` names MedMNIST's integer labels in order; ``positive_class`` makes that
    class index 1, the one a binary model's probability is about.
    """
    source = Path(source)
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_file() and source.suffix.lower() == ".npz":
        images, y, split, classes = _from_medmnist(source, class_names)
    else:
        from medmaas.kinds.image.io import read_class_folders, read_path_csv

        listing = read_path_csv(source) if source.is_file() else read_class_folders(source)
        images, y, classes, warnings = _from_files(listing, image_size, progress)
        split = None
        if class_names:
            raise InvalidInputError("class names come from the folder names or the CSV's labels; "
                                    "--classes applies to MedMNIST .npz files only")
    if image_size is not None and split is not None:
        images = _resize_all(images, image_size)
    if positive_class is not None:
        y, classes = _make_positive(y, classes, positive_class)
    counts = np.bincount(y, minlength=len(classes))
    if len(classes) < 2 or (counts[:len(classes)] == 0).any():
        raise DataError(f"{source.name}: need images of at least two classes; counts {dict(zip(classes, counts.tolist(), strict=False))}")
    dataset = ImageDataset(name=name, task="classification", target_name=target, source=source.name,
                           content_sha256=images_sha256(images, y), classes=tuple(classes),
                           images=images, y=y, split=split)
    if split is None:
        dataset.warnings.extend(warnings)
    return dataset


def _from_medmnist(path: Path, class_names: Sequence[str] | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    from medmaas.kinds.image.io import read_medmnist

    parts = read_medmnist(path)
    images, labels, split = [], [], []
    for part, (x, y) in parts.items():
        # (n, H, W, 3) colour -> channels first; grey images and volumes gain a channel axis.
        x = np.moveaxis(x, -1, 1) if x.ndim == 4 and x.shape[-1] == 3 else x[:, None]
        images.append(x)
        labels.append(y.astype(np.int64))
        split += [part] * len(y)
    shapes = {x.shape[1:] for x in images}
    if len(shapes) != 1:
        raise DataError(f"{path.name}: splits hold images of different shapes {sorted(shapes)}")
    y_all = np.concatenate(labels)
    n_classes = int(y_all.max()) + 1
    classes = list(class_names) if class_names else [str(i) for i in range(n_classes)]
    if len(classes) < n_classes:
        raise InvalidInputError(f"{path.name} has labels 0..{n_classes - 1} but {len(classes)} class "
                                f"names were given ({', '.join(classes)})")
    return np.concatenate(images), y_all, np.array(split), classes


def _from_files(listing: list[tuple[Path, str]], image_size: int | None, progress: Progress
                ) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    from medmaas.kinds.image.io import read_image

    decoded = []
    for i, (path, label) in enumerate(listing):
        try:
            decoded.append((read_image(path), label))
        except InvalidInputError as exc:
            raise DataError(str(exc)) from None
        if i % 20 == 0:
            progress(f"reading images ({i + 1}/{len(listing)})", (i + 1) / len(listing))
    dims = Counter(img.spatial_dims for img, _ in decoded)
    if len(dims) > 1:
        raise DataError(f"the images mix 2D and 3D ({dict(dims)}); train one kind of input per model")
    spatial_dims = next(iter(dims))
    channels = Counter(img.pixels.shape[0] for img, _ in decoded).most_common(1)[0][0]
    size = image_size or (DEFAULT_SIZE_2D if spatial_dims == 2 else DEFAULT_SIZE_3D)
    if spatial_dims == 2:
        median = int(np.median([min(img.pixels.shape[1:]) for img, _ in decoded]))
        size = image_size or min(size, median)
    shape = [channels, *([size] * spatial_dims)]
    warnings, converted = [], 0
    images = []
    for img, _ in decoded:
        pixels = img.pixels
        if pixels.shape[0] != channels:
            converted += 1
            pixels = (np.repeat(pixels, 3, axis=0) if channels == 3 else pixels.mean(axis=0, keepdims=True))
        images.append(conform(pixels, shape)[0])
    if converted:
        warnings.append(f"{converted} image(s) had a different channel count and were converted to "
                        f"{channels} channel(s), the majority of the data set")
    classes = sorted({label for _, label in listing})
    y = np.array([classes.index(label) for _, label in listing], dtype=np.int64)
    return np.stack(images).astype(np.float32), y, classes, warnings


def _resize_all(images: np.ndarray, size: int) -> np.ndarray:
    shape = [images.shape[1], *([size] * (images.ndim - 2))]
    if list(images.shape[1:]) == shape:
        return images
    return np.stack([conform(np.asarray(x, np.float32), shape)[0] for x in images])


def _make_positive(y: np.ndarray, classes: list[str], positive: str) -> tuple[np.ndarray, list[str]]:
    if positive not in classes:
        raise InvalidInputError(f"positive class {positive!r} is not one of {', '.join(classes)}")
    if len(classes) != 2:
        raise InvalidInputError("a positive class applies to binary tasks only")
    if classes.index(positive) == 1:
        return y, classes
    return 1 - y, [classes[1], classes[0]]
