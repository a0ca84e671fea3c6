"""Word attributions by occlusion through the ONNX graph (serving has no torch): each word is
left out in turn (its tokens hidden by the attention mask) and the drop in the probability of
the predicted class is that word's contribution. Positive: the word pushed toward the answer."""

from __future__ import annotations

from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.exceptions import SchemaError
from medmaas.kinds.base import Batch, InferenceFn
from medmaas.kinds.outputs import scores_from_outputs
from medmaas.kinds.text.export import IDS, MASK

#: notes with more words are explained over their first MAX_WORDS words
MAX_WORDS = 256
#: each note explained costs one forward pass per word: a request explains at most this many
MAX_EXPLAINED_NOTES = 20


def word_groups(words: list[int | None], mask: np.ndarray) -> list[np.ndarray]:
    """Token positions of each word, in order (special and padding tokens belong to none)."""
    groups: dict[int, list[int]] = {}
    for position, word in enumerate(words[:len(mask)]):
        if word is not None and mask[position]:
            groups.setdefault(word, []).append(position)
    return [np.array(p) for _, p in sorted(groups.items())][:MAX_WORDS]


def occlusion(run: InferenceFn, spec: ModelSpec, ids: np.ndarray, mask: np.ndarray,
              groups: list[np.ndarray]) -> tuple[np.ndarray, int, float]:
    """(contribution per group, predicted class, its probability) for one note."""
    masks = np.repeat(mask[None, :], len(groups) + 1, axis=0)
    for row, positions in enumerate(groups, start=1):
        masks[row, positions] = 0
    feeds = {IDS: np.repeat(ids[None, :], len(masks), axis=0), MASK: masks}
    scores = scores_from_outputs(spec, run(feeds))
    threshold = spec.output.threshold
    # Explain the class that was answered: a binary model decides at its threshold, not at 0.5.
    predicted = int(scores[0, 1] >= threshold) if threshold is not None and scores.shape[1] == 2 \
        else int(scores[0].argmax())
    return scores[0, predicted] - scores[1:, predicted], predicted, float(scores[0, predicted])


def explain_batch(spec: ModelSpec, run: InferenceFn, batch: Batch, top_k: int) -> list[dict[str, Any]]:
    if batch.n > MAX_EXPLAINED_NOTES:
        raise SchemaError(f"explain takes at most {MAX_EXPLAINED_NOTES} notes per request (one model call per "
                          f"word of each); got {batch.n}: predict without explain, or send fewer notes")
    classes = spec.output.classes or []
    out = []
    for i, record in enumerate(batch.records):
        ids, mask = batch.feeds[IDS][i], batch.feeds[MASK][i]
        groups = word_groups(record["words"], mask)
        contribution, predicted, probability = occlusion(run, spec, ids, mask, groups)
        offsets = record["offsets"]
        words = [{"word": record["text"][offsets[g[0]][0]:offsets[g[-1]][1]],
                  "start": int(offsets[g[0]][0]), "end": int(offsets[g[-1]][1]),
                  "contribution": round(float(c), 6)} for g, c in zip(groups, contribution, strict=True)]
        ranked = sorted(words, key=lambda w: -abs(w["contribution"]))[:top_k]
        out.append({"method": "occlusion: each word left out in turn; the drop in P(predicted class)",
                    "note": record["text"],
                    "class": classes[predicted] if classes else predicted,
                    "probability": round(probability, 6), "top_words": ranked,
                    "words_explained": len(groups)})
    return out
