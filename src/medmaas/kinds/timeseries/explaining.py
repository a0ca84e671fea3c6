"""Which variables and which hours drove a stay's risk: occlusion through the ONNX graph
(serving has no torch). A part of the stay is treated as never measured — its rows removed,
the representation rebuilt, so the model sees the earlier value carried forward or the
training mean, exactly as for a stay where nobody measured it — and the change in the
explained class's probability is that part's contribution. Positive: it raised the risk.

Three views, each one model call per part, all in one batch per stay:
- each variable's measurements removed (the ranked list);
- each 6-hour segment's measurements removed (when in the stay it mattered);
- each measured (variable, hour) cell removed: the heat map, also drawn as a PNG when
  matplotlib is installed (the training extra); without it the answer simply has no PNG.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.exceptions import SchemaError
from medmaas.kinds.base import Batch, InferenceFn
from medmaas.kinds.outputs import scores_from_outputs
from medmaas.kinds.timeseries.codec import decode_row, model_feeds, scaling_of
from medmaas.kinds.timeseries.stays import Stay

SEGMENT_HOURS = 6
#: each stay costs one model call per measured (variable, hour) cell, up to ~1,800
MAX_EXPLAINED_STAYS = 20
#: stays per ONNX call while occluding: a GRU over 48 hours of 512 stays takes ~20 MB
CALL_ROWS = 512
#: rows of the PNG heat map: the variables with the largest total contribution
PNG_ROWS = 16


def _target(spec: ModelSpec, proba: np.ndarray) -> int:
    """The class explained: the positive one of a binary model (the risk), else the answer."""
    return 1 if proba.shape[0] == 2 else int(np.argmax(proba))


def _probabilities(spec: ModelSpec, run: InferenceFn, stay: Stay, keeps: list[np.ndarray]) -> np.ndarray:
    """P(class) for the stay with each ``keep`` mask applied to its measurements: (len(keeps), k)."""
    counts = np.array([int(k.sum()) for k in keeps], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    chosen = np.concatenate(keeps) if keeps else np.zeros(0, bool)
    index = np.tile(np.arange(stay.n_measurements), len(keeps))[chosen]
    statics = np.repeat(stay.statics[None], len(keeps), axis=0)
    parts = []
    for start in range(0, len(keeps), CALL_ROWS):
        stop = min(start + CALL_ROWS, len(keeps))
        rows = index[offsets[start]:offsets[stop]]
        feeds = model_feeds(scaling_of(spec), spec.extra["inputs"], offsets[start:stop + 1] - offsets[start],
                            stay.times[rows], stay.variables[rows], stay.values[rows], statics[start:stop])
        parts.append(scores_from_outputs(spec, run(feeds)))
    return np.concatenate(parts)


def occlusion(spec: ModelSpec, run: InferenceFn, stay: Stay, *, cells: bool = True) -> dict[str, Any]:
    """The stay's probability and contributions per variable, per segment and per cell."""
    scaling = scaling_of(spec)
    hours, names = scaling.hours, scaling.variables
    measured = np.unique(stay.variables)
    hour = np.clip(np.floor(stay.times), 0, hours - 1).astype(np.int64)
    segments = [(a, min(a + SEGMENT_HOURS, hours)) for a in range(0, hours, SEGMENT_HOURS)]
    cell_ids = np.unique(stay.variables.astype(np.int64) * hours + hour) if cells else np.zeros(0, np.int64)
    everything = np.ones(stay.n_measurements, bool)
    keeps = [everything]
    keeps += [stay.variables != v for v in measured]
    keeps += [(hour < a) | (hour >= b) for a, b in segments]
    keeps += [(stay.variables.astype(np.int64) * hours + hour) != c for c in cell_ids]
    proba = _probabilities(spec, run, stay, keeps)
    target = _target(spec, proba[0])
    change = proba[0, target] - proba[1:, target]
    by_variable, change = change[:len(measured)], change[len(measured):]
    by_segment, by_cell = change[:len(segments)], change[len(segments):]
    heatmap = np.zeros((len(names), hours))
    heatmap.flat[cell_ids] = by_cell
    return {"target": target, "probability": float(proba[0, target]), "measured": measured,
            "by_variable": by_variable, "segments": segments, "by_segment": by_segment, "heatmap": heatmap,
            "counts": np.bincount(stay.variables, minlength=len(names))}


def explain_batch(spec: ModelSpec, run: InferenceFn, batch: Batch, top_k: int) -> list[dict[str, Any]]:
    if batch.n > MAX_EXPLAINED_STAYS:
        raise SchemaError(f"explain takes at most {MAX_EXPLAINED_STAYS} stays per request (one model call per "
                          f"measured variable-hour of each); got {batch.n}: predict without explain, or send fewer")
    classes = spec.output.classes or []
    names = scaling_of(spec).variables
    out = []
    for i, record in enumerate(batch.records):
        stay = decode_row(spec, i, {k: v for k, v in record.items() if k in ("measurements", "statics")})[0]
        result = occlusion(spec, run, stay)
        variables = [{"variable": names[v], "contribution": round(float(c), 6),
                      "measurements": int(result["counts"][v])}
                     for v, c in zip(result["measured"], result["by_variable"], strict=True)]
        ranked = sorted(variables, key=lambda item: -abs(item["contribution"]))[:top_k]
        item: dict[str, Any] = {
            "method": ("occlusion: a variable's measurements, a 6-hour segment's or one variable-hour's are "
                       "treated as not measured; the fall in P(explained class) is their contribution "
                       "(positive: they raised it)"),
            "explained_class": classes[result["target"]] if classes else result["target"],
            "probability": round(result["probability"], 6),
            "top_variables": ranked,
            "segments": [{"hours": [a, b], "contribution": round(float(c), 6)}
                         for (a, b), c in zip(result["segments"], result["by_segment"], strict=True)],
            "heatmap": {"variables": list(names), "hours": scaling_of(spec).hours,
                        "contribution": np.round(result["heatmap"], 6).tolist()},
        }
        png = heatmap_png(result["heatmap"], names, title=f"Contribution to P({item['explained_class']})")
        if png is not None:
            item["heatmap_png"] = base64.b64encode(png).decode("ascii")
        out.append(item)
    return out


def global_importance(spec: ModelSpec, run: InferenceFn, batch: Batch) -> dict[str, float]:
    """Mean |contribution| of each variable over the stays of ``batch`` (variables only: one
    call per variable per stay), largest first."""
    names = scaling_of(spec).variables
    total = np.zeros(len(names))
    for i, record in enumerate(batch.records):
        stay = decode_row(spec, i, {k: v for k, v in record.items() if k in ("measurements", "statics")})[0]
        measured = np.unique(stay.variables)
        keeps = [np.ones(stay.n_measurements, bool)] + [stay.variables != v for v in measured]
        proba = _probabilities(spec, run, stay, keeps)
        target = _target(spec, proba[0])
        total[measured] += np.abs(proba[0, target] - proba[1:, target])
    mean = total / max(batch.n, 1)
    order = np.argsort(-mean, kind="stable")
    return {names[j]: round(float(mean[j]), 6) for j in order if mean[j] > 0}


def heatmap_png(heatmap: np.ndarray, names: tuple[str, ...], title: str) -> bytes | None:
    """The variables × hours contributions as a PNG (the strongest rows), or None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    strength = np.abs(heatmap).sum(axis=1)
    rows = [j for j in np.argsort(-strength, kind="stable")[:PNG_ROWS] if strength[j] > 0]
    if not rows:
        rows = list(range(min(PNG_ROWS, len(names))))
    limit = float(np.abs(heatmap[rows]).max()) or 1e-6
    # The object API (no pyplot): no global backend or state, safe in a server thread.
    fig = Figure(figsize=(10, 0.35 * len(rows) + 1.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(heatmap[rows], aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                      interpolation="nearest", extent=(0, heatmap.shape[1], len(rows), 0))
    ax.set_yticks(np.arange(len(rows)) + 0.5, [names[j] for j in rows])
    ax.set_xticks(np.arange(0, heatmap.shape[1] + 1, SEGMENT_HOURS))
    ax.set_xlabel("hours since ICU admission")
    ax.set_title(title + ": red raised it, blue lowered it")
    fig.colorbar(image, ax=ax, label="change in probability")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
