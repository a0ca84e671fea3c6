"""Stored DICOM pixel values to the display scale, the way a viewer's pipeline does it.

PS3.4 Annex N orders the steps: Modality LUT (rescale to Hounsfield units for CT), then VOI
LUT (the window the acquiring site chose), then the polarity (MONOCHROME1 shows high values
dark). Each step is pydicom's own function; this module only picks the attributes each frame
uses (enhanced multi-frame objects keep them in functional groups) and records what it did.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

import numpy as np

from medmaas.kinds.image.io.image import robust_to_display, scale_to_display

if TYPE_CHECKING:
    from pydicom import Dataset

# Attributes the modality and VOI steps read; copied into a per-frame view for enhanced objects.
_PIXEL_KEYWORDS = (
    "PhotometricInterpretation", "BitsAllocated", "BitsStored", "PixelRepresentation",
    "RescaleSlope", "RescaleIntercept", "RescaleType", "ModalityLUTSequence",
    "WindowCenter", "WindowWidth", "VOILUTFunction", "VOILUTSequence",
)  # fmt: skip
_GROUP_SEQUENCES = ("PixelValueTransformationSequence", "FrameVOILUTSequence")


def colour_to_display(
    arr: np.ndarray, photometric: str, ds: Dataset
) -> tuple[np.ndarray, list[str]]:
    """(F, H, W, 3) colour frames to float32 0..255 (F, H, W, 3), converting to RGB first."""
    from pydicom.pixels import apply_color_lut, convert_color_space

    notes: list[str] = []
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)[..., :3]
        notes.append("palette colour lookup table applied")
        maximum = float(np.iinfo(arr.dtype).max)
    else:
        if photometric in ("YBR_FULL", "YBR_FULL_422"):
            arr = convert_color_space(arr, "YBR_FULL", "RGB")
            notes.append(f"converted from {photometric} to RGB")
        maximum = float(2 ** int(ds.get("BitsStored") or 8) - 1)
    if maximum != 255.0:
        notes.append(f"colour values scaled to 0..255 from 0..{maximum:.0f}")
    return scale_to_display(arr, 0.0, maximum), notes


def grey_to_display(arr: np.ndarray, ds: Dataset) -> tuple[np.ndarray, list[str]]:
    """(F, H, W) grey frames to float32 0..255: modality LUT, VOI LUT or window, polarity.

    Enhanced objects may give every frame its own rescale and window; those are applied
    frame by frame. Notes are recorded once, from the first frame group.
    """
    out = np.empty(arr.shape, np.float32)
    notes: list[str] = []
    views = _frame_views(ds, arr.shape[0])
    for index, (frames, view) in enumerate(views):
        out[frames], step_notes = _one_view(arr[frames], view, ds)
        if index == 0:
            notes += step_notes
    if len(views) > 1:
        notes.append("rescale and window taken frame by frame from the functional groups")
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        out = np.float32(255.0) - out
        notes.append("MONOCHROME1 inverted so that higher values are brighter")
    return out, notes


def _one_view(arr: np.ndarray, view: Any, ds: Dataset) -> tuple[np.ndarray, list[str]]:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    notes: list[str] = []
    values = arr
    if view.get("ModalityLUTSequence"):
        values = apply_modality_lut(arr, view)
        notes.append("modality LUT applied")
    elif "RescaleSlope" in view and "RescaleIntercept" in view:
        slope, intercept = float(view.RescaleSlope), float(view.RescaleIntercept)
        if math.isfinite(slope) and math.isfinite(intercept) and slope != 0:
            values = apply_modality_lut(arr, view)
            hu = str(ds.get("Modality", "")) == "CT" or str(view.get("RescaleType", "")) == "HU"
            target = "Hounsfield units" if hu else "modality values"
            notes.append(f"rescaled to {target} (slope {slope:g}, intercept {intercept:g})")
        else:
            # A slope of 0 or a non-finite number maps every pixel to one value or to NaN:
            # the stored values show the image, a broken rescale would not.
            notes.append(f"the stored rescale (slope {slope:g}, intercept {intercept:g}) is not "
                         "usable and was not applied")
    has_lut = bool(view.get("VOILUTSequence"))
    has_window = view.get("WindowCenter") is not None and view.get("WindowWidth") is not None
    if has_lut or has_window:
        try:
            shown = apply_voi_lut(values, view, index=0, prefer_lut=True)
            lo, hi = _voi_range(view, has_lut)
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise ValueError("the window's output range is empty or not finite")
            notes.append(_voi_note(view, has_lut))
            return scale_to_display(shown, lo, hi), notes
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, NotImplementedError,
                OverflowError, ZeroDivisionError, struct.error):
            # A malformed window (width 0, unknown function) should not make a readable image
            # unreadable: fall back to the file's own intensity range, and say so.
            notes.append("the stored window could not be applied")
    shown, note = robust_to_display(np.asarray(values))
    notes.append(note)
    return shown, notes


def _voi_range(view: Any, has_lut: bool) -> tuple[float, float]:
    """The output range of the VOI step, found by running pydicom's function on probes.

    A window maps everything below it to its minimum and above it to its maximum; a LUT's
    range is that of its entries (the descriptor's bit depth often overstates it).
    """
    from pydicom.pixels import apply_voi, apply_windowing

    if has_lut:
        descriptor = view.VOILUTSequence[0].LUTDescriptor
        entries = int(descriptor[0]) or 2**16
        first = int(descriptor[1])
        probe = np.arange(first, first + entries, dtype=np.int64)
        out = apply_voi(probe, view, index=0)
    else:
        out = apply_windowing(np.array([-1e300, 1e300]), view, index=0)
    return float(np.min(out)), float(np.max(out))


def _voi_note(view: Any, has_lut: bool) -> str:
    if has_lut:
        return "VOI LUT applied"
    centre, width = view["WindowCenter"], view["WindowWidth"]
    count = centre.VM
    c = float(centre.value[0] if count > 1 else centre.value)
    w = float(width.value[0] if width.VM > 1 else width.value)
    extra = f" (first of {count} windows)" if count > 1 else ""
    return f"windowed at center {c:g} width {w:g}{extra}"


def _frame_views(ds: Dataset, frames: int) -> list[tuple[slice, Any]]:
    """Pair frame ranges with the data set view holding their rescale and window attributes.

    Plain objects: one view, the data set itself. Enhanced objects: top level, then shared
    functional groups, then each frame's own groups, the later overriding the earlier.
    """
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not shared and not per_frame:
        return [(slice(None), ds)]
    base = _view(ds, [shared[0]] if shared else [])
    if (
        not per_frame
        or len(per_frame) != frames
        or not any(_has_groups(item) for item in per_frame)
    ):
        return [(slice(None), base)]
    return [(slice(i, i + 1), _view(base, [per_frame[i]])) for i in range(frames)]


def _has_groups(item: Any) -> bool:
    return any(item.get(name) for name in _GROUP_SEQUENCES)


def _view(source: Any, groups: list[Any]) -> Any:
    from pydicom import Dataset

    view = Dataset()
    # apply_voi reads the byte order of OW LUT data from the file meta.
    view.file_meta = source.file_meta
    for keyword in _PIXEL_KEYWORDS:
        if keyword in source:
            view[keyword] = source[keyword]
    for item in groups:
        for name in _GROUP_SEQUENCES:
            if item.get(name):
                for elem in item[name][0]:
                    view[elem.tag] = elem
    return view


def spacing(ds: Dataset, frames: int) -> tuple[tuple[float, ...] | None, list[str]]:
    """Millimetres per pixel (row, column), with the slice spacing first for volumes."""
    notes: list[str] = []
    measures = _measures(ds)
    pixel = measures.get("PixelSpacing") or ds.get("PixelSpacing")
    if not pixel and ds.get("ImagerPixelSpacing"):
        pixel = ds.ImagerPixelSpacing
        notes.append("spacing is at the detector plane (Imager Pixel Spacing)")
    try:
        if not pixel or len(pixel) < 2:
            return None, []
        row, col = float(pixel[0]), float(pixel[1])
        if frames == 1:
            return (row, col), notes
        between = (
            measures.get("SpacingBetweenSlices")
            or ds.get("SpacingBetweenSlices")
            or measures.get("SliceThickness")
            or ds.get("SliceThickness")
        )
        offsets = ds.get("GridFrameOffsetVector")
        if between is None and offsets is not None and len(offsets) > 1:
            between = abs(float(offsets[1]) - float(offsets[0]))
        if between is None:
            return None, []
        return (float(between), row, col), notes
    except (TypeError, ValueError):
        return None, []


def _measures(ds: Dataset) -> Any:
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and shared[0].get("PixelMeasuresSequence"):
        return shared[0].PixelMeasuresSequence[0]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and per_frame[0].get("PixelMeasuresSequence"):
        return per_frame[0].PixelMeasuresSequence[0]
    return {}
