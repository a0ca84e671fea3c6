"""The two deployable text models. Both take ``input_ids`` and ``attention_mask`` and return
class probabilities, so one tokenizer, one request decoder and one explainer serve either:

- ``EncoderClassifier``: the all-MiniLM-L6-v2 encoder, mean pooling (as the encoder was
  trained by sentence-transformers), dropout and a linear layer, fine-tuned end to end;
- ``TfidfLogistic``: the baseline, a fitted scikit-learn TF-IDF + logistic regression over
  WordPiece unigrams and hashed bigrams, rewritten as tensor operations so that it exports to
  the same kind of ONNX graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


def load_encoder(directory: Path) -> nn.Module:
    """The pretrained BERT encoder from local files (eager attention: it exports to ONNX)."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return AutoModel.from_pretrained(str(directory), attn_implementation="eager", local_files_only=True)


class EncoderClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, n_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return torch.softmax(self.head(self.dropout(pooled)), dim=-1)


def term_ids(ids: np.ndarray | torch.Tensor, vocab_size: int, buckets: int) -> Any:
    """Bigram (a, b) → a column after the vocabulary: ``vocab_size + (a·V + b) mod buckets``.
    Works on numpy arrays and tensors alike, so training and the graph hash the same way."""
    return vocab_size + (ids[..., :-1] * vocab_size + ids[..., 1:]) % buckets


class TfidfLogistic(nn.Module):
    """softmax(W · l2(tfidf(terms)) + b) for a padded batch of token ids.

    Each term is counted within its note by comparing every term with every other (T × T, T
    under 2 × 512), so no vocabulary-sized dense matrix is ever built; each occurrence carries
    1/count of its term's value, so a repeated term adds its TF-IDF value once, as in
    scikit-learn."""

    def __init__(self, *, vocab_size: int, buckets: int, idf: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray, ignore_ids: list[int]) -> None:
        super().__init__()
        if coef.shape[0] == 1:  # binary LR keeps one row: P(1) = σ(z) = softmax([0, z])
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        self.vocab_size, self.buckets = vocab_size, buckets
        self.register_buffer("idf", torch.tensor(idf, dtype=torch.float32))
        self.register_buffer("weight", torch.tensor(coef.T, dtype=torch.float32).contiguous())
        self.register_buffer("bias", torch.tensor(intercept, dtype=torch.float32))
        self.register_buffer("ignore", torch.tensor(ignore_ids, dtype=torch.int64))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        content = (attention_mask > 0) & ~(input_ids.unsqueeze(-1) == self.ignore).any(-1)
        terms = torch.cat([input_ids, term_ids(input_ids, self.vocab_size, self.buckets)], dim=1)
        present = torch.cat([content, content[:, :-1] & content[:, 1:]], dim=1).to(torch.float32)
        same = (terms.unsqueeze(2) == terms.unsqueeze(1)).to(torch.float32) * present.unsqueeze(1)
        count = same.sum(-1).clamp_min(1.0)
        value = (1.0 + torch.log(count)) * self.idf[terms] * present  # sublinear tf × idf
        share = present / count
        norm = torch.sqrt((share * value * value).sum(-1, keepdim=True)).clamp_min(1e-12)
        contribution = (share * value / norm).unsqueeze(-1) * self.weight[terms]
        return torch.softmax(contribution.sum(1) + self.bias, dim=-1)
