"""Small labelled note sets for the text kind's tests: words that carry the class, mixed with
filler, in English and without identifiers (so de-identification leaves them as they are)."""

from __future__ import annotations

import numpy as np

from medmaas.kinds.text.dataset import TextDataset, texts_sha256

SIGNS = {
    "none": ["no side effects at all", "nothing noticeable", "felt completely normal", "no problems"],
    "severe": ["severe vomiting", "terrible migraine for days", "rash all over and swelling",
               "had to stop taking it", "went to the emergency room"],
}
FILLER = ["after the first week", "while taking it in the morning", "with food", "since I started",
          "for my blood pressure", "as the doctor said", "during the second month"]


def note_dataset(n: int = 120, seed: int = 0, classes: tuple[str, ...] = ("none", "severe")) -> TextDataset:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(classes)
    texts = []
    for label in y:
        words = list(rng.choice(SIGNS[classes[label]], size=2)) + list(rng.choice(FILLER, size=2))
        rng.shuffle(words)
        texts.append(". ".join(words).capitalize() + ".")
    return TextDataset(name="notes", task="classification", target_name="side_effects", source="synthetic",
                       content_sha256=texts_sha256(texts, y), classes=classes, texts=texts, y=y)
