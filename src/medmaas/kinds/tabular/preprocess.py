"""Preprocessing as a scikit-learn ColumnTransformer, so it exports into the ONNX graph.

Numeric features: median imputation, then standardisation. Categorical features: missing
becomes the empty string (its own category: in clinical data, *not measured* often carries
information), then one-hot with unknown categories ignored. Optional univariate feature
selection keeps the k most associated features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medmaas.data.dataset import ColumnInfo

MISSING_CATEGORY = ""


def safe_names(columns: tuple[ColumnInfo, ...]) -> dict[str, str]:
    """Feature name -> ONNX-safe input name (f000, f001, ...). Names users chose can hold
    spaces or unicode; graph input names should not."""
    return {c.name: f"f{i:03d}" for i, c in enumerate(columns)}


def to_model_frame(X: pd.DataFrame, columns: tuple[ColumnInfo, ...]) -> pd.DataFrame:
    """The feature table with safe column names and the dtypes the pipeline and ONNX expect."""
    names = safe_names(columns)
    out = {}
    for c in columns:
        col = X[c.name]
        if c.type == "numeric":
            out[names[c.name]] = pd.to_numeric(col, errors="coerce").astype(np.float32)
        else:
            out[names[c.name]] = col.astype(object).where(col.notna(), MISSING_CATEGORY).astype(str).to_numpy(dtype=object)
    return pd.DataFrame(out)


def build_preprocessor(columns: tuple[ColumnInfo, ...], task: str, select_k: int | None,
                       scale: bool = True) -> Any:
    """Trees get no scaling: they do not need it, and scaling in float32 (ONNX) vs float64
    (scikit-learn) could move a value across a split threshold and break exact parity."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_selection import SelectKBest, f_classif, f_regression
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    names = safe_names(columns)
    numeric = [names[c.name] for c in columns if c.type == "numeric"]
    categorical = [names[c.name] for c in columns if c.type == "categorical"]
    branches = []
    if numeric:
        steps_numeric: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
        if scale:
            steps_numeric.append(("scale", StandardScaler()))
        branches.append(("numeric", Pipeline(steps_numeric), numeric))
    if categorical:
        branches.append(("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    steps: list[tuple[str, Any]] = [("columns", ColumnTransformer(branches, sparse_threshold=0.0))]
    if select_k:
        score = f_classif if task == "classification" else f_regression
        steps.append(("select", SelectKBest(score, k=select_k)))
    return Pipeline(steps)
