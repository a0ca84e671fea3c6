"""Per-image explanations for the service: the occlusion heat map as an array and as a PNG
overlay, for the positive class of a binary model (where is the finding?) or the predicted
class otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.kinds.base import Batch, InferenceFn
from medmaas.kinds.image.codec import feed_name
from medmaas.kinds.image.saliency import (
    Window,
    montage_png,
    occlusion,
    overlay_png,
    png_base64,
    strongest_slice,
)


def explain_batch(spec: ModelSpec, run: InferenceFn, batch: Batch) -> list[dict[str, Any]]:
    feed = feed_name(spec)
    output = spec.onnx.probability_output or "probabilities"
    classes = spec.output.classes or []
    images = batch.feeds[feed]
    baseline = float(spec.extra.get("normalisation", {}).get("mean", 0.0))

    def probabilities(x: np.ndarray) -> np.ndarray:
        return np.asarray(run({feed: x.astype(np.float32)})[output])

    window = Window.for_shape(tuple(images.shape[2:]))
    results = []
    for image, proba in zip(images, probabilities(images), strict=True):  # one pass for the batch
        target = 1 if len(classes) == 2 else int(np.argmax(proba))
        heatmap = occlusion(probabilities, image, target, window, baseline, reference=float(proba[target]))
        item: dict[str, Any] = {
            "method": (f"occlusion ({window.size}-pixel windows, stride {window.stride}, filled with "
                       "the training mean): the fall in probability when a region is hidden"),
            "explained_class": classes[target] if classes else target,
            "heatmap": np.round(heatmap, 5).tolist(),
        }
        if heatmap.ndim == 3:
            index = strongest_slice(heatmap)
            item["overlay_slice"] = index
            item["overlay_png"] = png_base64(overlay_png(image[:, index], heatmap[index]))
            montage, shown = montage_png(image, heatmap)
            item["montage_png"], item["montage_slices"] = png_base64(montage), shown
        else:
            item["overlay_png"] = png_base64(overlay_png(image, heatmap))
        results.append(item)
    return results
