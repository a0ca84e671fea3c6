"""The SHAP background stored in a bundle: cluster centroids, never individual patients.

A bundle travels further than the training data (it is copied to servers, shared with
reviewers), so it must not carry patient rows. K-means centroids of the standardised numeric
features, with the most common category of each cluster, summarise the data for the masker
without reproducing any one record.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medmaas.data.dataset import ColumnInfo

MAX_CENTROIDS = 20
MIN_CLUSTER_SIZE = 5


def summarise(X: pd.DataFrame, columns: tuple[ColumnInfo, ...], seed: int = 0) -> list[dict[str, Any]]:
    """Centroid records in raw feature units; each cluster pools at least a handful of rows."""
    from sklearn.cluster import KMeans

    numeric = [c.name for c in columns if c.type == "numeric"]
    categorical = [c.name for c in columns if c.type == "categorical"]
    k = max(1, min(MAX_CENTROIDS, len(X) // MIN_CLUSTER_SIZE))
    num = X[numeric].apply(pd.to_numeric, errors="coerce") if numeric else pd.DataFrame(index=X.index)
    filled = num.fillna(num.median()).fillna(0.0)
    scale = filled.std().replace(0, 1.0).fillna(1.0)
    if numeric and k > 1:
        z = ((filled - filled.mean()) / scale).to_numpy()
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(z)
    else:
        labels = np.zeros(len(X), dtype=int)
    records = []
    for cluster in np.unique(labels):
        members = labels == cluster
        if members.sum() < MIN_CLUSTER_SIZE and len(X) >= MIN_CLUSTER_SIZE:
            continue  # too small to be a summary rather than a person
        record: dict[str, Any] = {}
        for name in numeric:
            record[name] = round(float(filled.loc[members, name].mean()), 6)
        for name in categorical:
            values = X.loc[members, name].dropna()
            record[name] = str(values.mode().iloc[0]) if len(values) else None
        records.append(record)
    return records
