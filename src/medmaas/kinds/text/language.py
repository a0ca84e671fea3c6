"""A cheap check that a note is English: the de-identification rules and the encoder were
built for English, so other languages are processed but flagged."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]{2,}")
MIN_WORDS = 6
MIN_ENGLISH_SHARE = 0.6
#: a word at least this frequent in English text (Zipf scale, 3 = once per million words)
ENGLISH_ZIPF = 2.5


def english_share(text: str) -> float | None:
    """Share of the note's words that are common English words; None for too few words."""
    from wordfreq import zipf_frequency

    words = _WORD.findall(text[:5000].lower())
    if len(words) < MIN_WORDS:
        return None
    return sum(zipf_frequency(w, "en") >= ENGLISH_ZIPF for w in words) / len(words)


def english_warning(text: str) -> str | None:
    share = english_share(text)
    if share is None or share >= MIN_ENGLISH_SHARE:
        return None
    return (f"the note does not look like English ({share:.0%} of its words are English words): "
            "the model and the de-identification rules were built for English, so identifiers may be "
            "missed and the prediction is less reliable")
