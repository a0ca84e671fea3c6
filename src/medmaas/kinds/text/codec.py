"""Requests to token ids and probabilities to answers for text models (serving side: the
bundle's tokenizer.json, numpy and onnxruntime; de-identification needs ``medmaas[text]``).

A note is de-identified before the model reads it, unless the caller was allowed to turn that
off: the model then never sees, and an explanation never shows, an identifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.exceptions import IntegrityError, SchemaError
from medmaas.kinds.base import Batch
from medmaas.kinds.outputs import encode_outputs
from medmaas.kinds.text.export import IDS, MASK
from medmaas.kinds.text.tokens import encode as encode_texts
from medmaas.privacy import MAX_NOTE_CHARS

TEXT_FIELD = "text"
NOT_ENGLISH = ("the note does not look like English: the model and the de-identification rules were built "
               "for English, so identifiers may be missed and the prediction is less reliable")


def tokenizer_of(spec: ModelSpec) -> Any:
    def missing() -> Any:
        raise IntegrityError("text model loaded without its tokenizer (load it with load_bundle)")

    return spec.memo("tokenizer", missing)


def decode_rows(spec: ModelSpec, rows: Any, *, deidentify: bool = True) -> Batch:
    if not isinstance(rows, list) or not rows:
        raise SchemaError("'rows' must be a non-empty list of notes, each {\"text\": \"...\"}")
    texts = [_note(i, row) for i, row in enumerate(rows)]
    warnings: list[list[str]] = [[] for _ in texts]
    # Whatever the training data was, a note is de-identified unless the caller may skip it.
    if deidentify:
        texts, english = _deidentified(texts, warnings)
    else:
        from medmaas.privacy.deid import looks_english

        english = [looks_english(t) for t in texts]
    for is_english, notes in zip(english, warnings, strict=True):
        if not is_english:
            notes.append(NOT_ENGLISH)
    encoded = encode_texts(tokenizer_of(spec), texts)
    limit = spec.extra.get("max_tokens")
    for truncated, notes in zip(encoded.truncated, warnings, strict=True):
        if truncated:
            notes.append(f"the note is longer than the {limit} tokens the model reads; only its beginning was used")
    records = [{"text": t, "offsets": o, "words": w} for t, o, w in
               zip(texts, encoded.offsets, encoded.words, strict=True)]
    return Batch(feeds={IDS: encoded.ids, MASK: encoded.mask}, n=len(texts), records=records, warnings=warnings)


def decode_file(spec: ModelSpec, data: bytes, filename: str = "") -> Batch:
    """One uploaded plain-text note (UTF-8)."""
    label = filename or "the upload"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{label} is not UTF-8 text (invalid byte at position {exc.start}); "
                          "save the note as UTF-8") from None
    return decode_rows(spec, [{TEXT_FIELD: text}])


def encode(spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
    answers = encode_outputs(spec, outputs, batch)
    for answer, record in zip(answers, batch.records, strict=True):
        if "file" in record:  # a folder of notes through the CLI: which note this answer is for
            answer["input"] = {"file": record["file"]}
    return answers


def _note(i: int, row: Any) -> str:
    text = row.get(TEXT_FIELD) if isinstance(row, Mapping) else row
    if not isinstance(text, str):
        raise SchemaError(f"row {i}: field '{TEXT_FIELD}' must be a string; got {type(text).__name__}")
    if not text.strip():
        raise SchemaError(f"row {i}: field '{TEXT_FIELD}' is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise SchemaError(f"row {i}: the note has {len(text)} characters; the limit is {MAX_NOTE_CHARS}")
    if "\x00" in text:
        raise SchemaError(f"row {i}: field '{TEXT_FIELD}' contains a NUL character; send plain text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate such as "\ud800" from a JSON escape
        raise SchemaError(f"row {i}: field '{TEXT_FIELD}' is not valid Unicode (character {exc.start} is a "
                          "lone surrogate)") from None
    return text


def _deidentified(texts: list[str], warnings: list[list[str]]) -> tuple[list[str], list[bool]]:
    """The notes de-identified, and whether each read as English (de-identification checks)."""
    from medmaas.privacy.deid import deidentify
    from medmaas.privacy.deid.engine import ENGLISH_ONLY

    out, english = [], []
    for text, notes in zip(texts, warnings, strict=True):
        result = deidentify(text)
        if result.spans:
            notes.append(f"{len(result.spans)} identifier(s) replaced by their type before the model read the note")
        out.append(result.text)
        english.append(ENGLISH_ONLY not in result.warnings)
    return out, english
