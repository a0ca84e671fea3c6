"""The TF-IDF + logistic-regression baseline over WordPiece unigrams and hashed bigrams.

Its terms come from the encoder's tokenizer, not from a regular expression, so the exported
graph needs no string operators and a request is tokenized once whichever model serves it.
On the Druglib side-effect reviews this matches word uni+bigram TF-IDF (5-fold macro-F1 0.497
vs 0.498)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medmaas.kinds.text.networks import term_ids
from medmaas.kinds.text.tokens import Encoded

BUCKETS = 2**18
C_GRID = (1.0, 4.0, 16.0)


def term_counts(encoded: Encoded, vocab_size: int, ignore_ids: list[int]) -> Any:
    """Sparse (n, vocab + buckets) counts of each note's unigrams and bigrams."""
    import scipy.sparse as sp

    ids, mask = encoded.ids, encoded.mask
    content = (mask > 0) & ~np.isin(ids, ignore_ids)
    rows_u, cols_u = np.nonzero(content)
    pair_ok = content[:, :-1] & content[:, 1:]
    rows_b, pos_b = np.nonzero(pair_ok)
    bigrams = term_ids(ids, vocab_size, BUCKETS)[rows_b, pos_b]
    rows = np.concatenate([rows_u, rows_b])
    cols = np.concatenate([ids[rows_u, cols_u], bigrams])
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), vocab_size + BUCKETS))


@dataclass
class FittedBag:
    """The fitted pipeline over the ``columns`` (terms) seen in training. Terms never seen
    are ignored, as a vectorizer's vocabulary ignores unknown words; it also keeps L-BFGS to
    the few thousand parameters that can move instead of 2^18 × classes."""

    pipeline: Any
    columns: np.ndarray
    width: int
    C: float
    cv_macro_f1: float
    cv_folds: list[float]

    def predict_proba(self, counts: Any) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(counts[:, self.columns]), dtype=np.float64)

    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """idf and coefficients over every column (0 for unseen terms: no weight, no norm), intercept."""
        tfidf, logistic = self.pipeline.named_steps.values()
        idf = np.zeros(self.width)
        idf[self.columns] = tfidf.idf_
        coef = np.zeros((logistic.coef_.shape[0], self.width))
        coef[:, self.columns] = logistic.coef_
        return idf, coef, logistic.intercept_


def _pipeline(C: float, seed: int) -> Any:
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([("tfidf", TfidfTransformer(sublinear_tf=True)),
                     ("logistic", LogisticRegression(C=C, max_iter=3000, class_weight="balanced",
                                                     random_state=seed))])


def fit_bag(counts: Any, y: np.ndarray, *, folds: int, seed: int) -> FittedBag:
    """Choose C by stratified k-fold macro-F1, then refit on all of ``counts``."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    columns = np.flatnonzero(counts.getnnz(axis=0))
    width = counts.shape[1]
    counts = counts[:, columns]
    folds = max(2, min(folds, int(np.bincount(y).min())))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    best: tuple[float, float, list[float]] | None = None
    for C in C_GRID:
        scores = []
        for train_idx, test_idx in splitter.split(counts, y):
            model = _pipeline(C, seed).fit(counts[train_idx], y[train_idx])
            scores.append(float(f1_score(y[test_idx], model.predict(counts[test_idx]), average="macro")))
        if best is None or np.mean(scores) > best[0]:
            best = (float(np.mean(scores)), C, scores)
    assert best is not None
    return FittedBag(pipeline=_pipeline(best[1], seed).fit(counts, y), columns=columns, width=width, C=best[1],
                     cv_macro_f1=best[0], cv_folds=best[2])
