"""Sentence boundaries for clinical notes, which ConText's scopes end at.

spaCy's rule-based ``sentencizer`` splits at punctuation only, so a list ("Denies fever\nCough
for 3 days") would be one sentence and its negation would run on; PyRuSH, medspaCy's default,
is not used (see ``_medspacy.py``). This splitter also ends a sentence at a line break, unless
the line is hard-wrapped inside a sentence, and caps a sentence's length so that the cost of
ConText (pairs of modifiers and entities) stays bounded on run-on text.
"""

from __future__ import annotations

from typing import Any

#: a sentence longer than this many tokens ends at its next comma ...
SOFT_MAX_TOKENS = 60
#: ... and one this long ends where it is
MAX_TOKENS = 100

_SENTENCE_END = frozenset({".", "!", "?", ";"})
# A line that ends with one of these words or a comma goes on in the next line (a hard wrap):
# "no evidence of\npneumonia" is one sentence, so its negation still reaches "pneumonia".
_CONTINUES = frozenset({
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "no", "nor", "not", "of", "on",
    "or", "the", "to", "with", "without", "denies", "denied", "any", "than", "if", "after",
    "before", "possible", "likely", "history", "h/o", "s/p", ",", "-", "/",
})
_BULLETS = frozenset({"-", "*", "•", "+", "#", "o"})


def _is_list_marker(token: Any) -> bool:
    if token.text in _BULLETS:
        return True
    following = token.nbor(1) if token.i + 1 < len(token.doc) else None
    return bool(token.like_num and following is not None and following.text in {".", ")"})


def _line_break_ends_sentence(previous: Any, token: Any, newlines: int) -> bool:
    """Whether the line break(s) between ``previous`` and ``token`` also end a sentence."""
    if newlines >= 2 or previous.text in _SENTENCE_END or previous.text == ":" or _is_list_marker(token):
        return True
    if previous.lower_ in _CONTINUES:
        return False
    # A line that starts in lower case carries on the sentence above it (in mixed-case notes;
    # in an upper-case note every line starts in upper case and so stands on its own).
    return not token.text[:1].islower()


def _after_abbreviation(period: Any, token: Any) -> bool:
    """"Tylenol p.r.n. pain": the period closes a dotted abbreviation, and the sentence goes on."""
    before = period.nbor(-1) if period.i > 0 else None
    return (period.text == "." and before is not None and "." in before.text
            and not before.whitespace_ and token.text[:1].islower())


def clinical_sentences(doc: Any) -> Any:
    """Mark sentence starts: after . ! ? ; and at line breaks that are not hard wraps."""
    import numpy as np
    from spacy.attrs import SENT_START

    starts = np.full(len(doc), -1, dtype=np.int64)  # 1 starts a sentence, -1 does not
    previous: Any = None  # the last token that is not whitespace
    newlines = 0  # line breaks since ``previous``
    length = 0  # tokens in the sentence so far
    for token in doc:
        if token.is_space:
            newlines += token.text.count("\n")
            continue
        if previous is None:
            start = True
        elif newlines:
            start = _line_break_ends_sentence(previous, token, newlines)
        else:
            start = previous.text in _SENTENCE_END and not _after_abbreviation(previous, token)
        start = start or length >= MAX_TOKENS or (length >= SOFT_MAX_TOKENS and previous.text == ",")
        starts[token.i] = 1 if start else -1
        length = 1 if start else length + 1
        previous = token
        newlines = token.whitespace_.count("\n")
    if len(doc):
        starts[0] = 1
        # One array, not token.is_sent_start = ...: each of those scans the whole document.
        doc.from_array([SENT_START], starts.astype(np.uint64).reshape(-1, 1))
    return doc
