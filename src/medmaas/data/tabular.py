"""From a table as read to a validated TabularDataset: target, task, feature types, warnings.

Everything a user could trip over is decided here, once, with a message that names the column
or row: a misspelt target, a class too small for cross-validation, an identifier column that
would let a model memorise patients, an infinite value. What is fixed silently (a constant
column dropped, rows without a target dropped) is said in ``dataset.warnings``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import pandas as pd

from medmaas.data._features import prepare_feature
from medmaas.data._target import check_class_sizes, prepare_target
from medmaas.data._text import clean_text_series, is_text_dtype
from medmaas.data.dataset import ColumnInfo, TabularDataset, Task, frame_sha256
from medmaas.exceptions import DataError, InvalidInputError

_TASKS = ("classification", "regression")
_SHOWN_ROWS = 5


def build_tabular_dataset(
    frame: pd.DataFrame,
    target: str,
    *,
    name: str,
    source: str,
    task: Task | None = None,
    min_rows_per_fold: int = 1,
    cv_folds: int = 5,
    drop: Iterable[str] = (),
) -> TabularDataset:
    """Validate a table and split it into typed features and an encoded target.

    Args:
        frame: the table as read (``read_table``) or built in memory; it is not modified.
        target: the column to predict.
        name, source: recorded in the dataset (and the model card).
        task: "classification" or "regression"; inferred from the target when None.
        min_rows_per_fold: rows each fold must hold, of each class for classification.
        cv_folds: the cross-validation folds the data must support.
        drop: columns to leave out (e.g. ones that leak the outcome).

    Features are numeric (numbers, also stored as text; yes/no and true/false as 1/0) or
    categorical (text). Classes are strings; a binary target's positive class is last, so
    ``y == 1`` means positive. Row numbers in messages count data rows from 1.

    >>> frame = pd.DataFrame({"age": [" 50", "61", "NA", "45"] * 3,
    ...                       "smoker": ["yes", "no", "no", "yes"] * 3,
    ...                       "outcome": ["alive", "dead", "alive", "dead"] * 3})
    >>> ds = build_tabular_dataset(frame, "outcome", name="demo", source="memory", cv_folds=3)
    >>> ds.classes, ds.y.tolist()[:4], [c.type for c in ds.columns]
    (('alive', 'dead'), [0, 1, 0, 1], ['numeric', 'numeric'])
    """
    _check_arguments(frame, task, cv_folds, min_rows_per_fold)
    content_sha256 = frame_sha256(frame)
    names = _column_names(frame)
    _require_column(target, names, what="target column")
    drop = list(drop)
    for column in drop:
        _require_column(column, names, what="column to drop")
    if target in drop:
        raise DataError(f"the target '{target}' cannot also be a column to drop")

    # Positions become 1-based row numbers of the table as given, kept through row filtering so
    # that every later message points at the row the user sees in their file.
    table = frame.set_axis(names, axis=1).reset_index(drop=True)
    table.index = table.index + 1
    warnings: list[str] = [f"dropped column '{c}' as requested" for c in drop]

    target_column = table[target]
    if is_text_dtype(target_column):
        target_column = clean_text_series(target_column)
    missing = target_column.isna()
    if missing.any():
        rows = ", ".join(str(r) for r in table.index[missing][:_SHOWN_ROWS])
        more = ", ..." if missing.sum() > _SHOWN_ROWS else ""
        warnings.append(
            f"dropped {int(missing.sum())} row{'s' if missing.sum() != 1 else ''} whose target "
            f"'{target}' is missing (rows {rows}{more})"
        )
        table = table.loc[~missing]
        target_column = target_column.loc[~missing]
    needed = cv_folds * min_rows_per_fold
    if len(table) < needed:
        after = " with a target value" if missing.any() else ""
        raise DataError(
            f"the table has {len(table)} row{'s' if len(table) != 1 else ''}{after}; "
            f"{cv_folds}-fold cross-validation needs at least {needed}"
        )

    prepared = prepare_target(target_column, task, table.index)
    if prepared.task == "classification":
        check_class_sizes(prepared, cv_folds, min_rows_per_fold)
    warnings.extend(prepared.notes)

    features: dict[str, pd.Series] = {}
    infos: list[ColumnInfo] = []
    for column in names:
        if column == target or column in drop:
            continue
        feature = prepare_feature(column, table[column], table.index)
        warnings.extend(feature.notes)
        if feature.values is not None and feature.info is not None:
            features[column] = feature.values
            infos.append(feature.info)
    if not features:
        raise DataError(
            f"no feature columns are left besides the target '{target}'; "
            + ("; ".join(w for w in warnings if w.startswith("dropped column")) or "none given")
        )

    X = pd.DataFrame(features).reset_index(drop=True)
    y = prepared.encoded().reset_index(drop=True).rename(target)
    return TabularDataset(
        name=name,
        task=prepared.task,
        target_name=target,
        source=source,
        content_sha256=content_sha256,
        classes=prepared.classes,
        warnings=warnings,
        X=X,
        y=y,
        columns=tuple(infos),
    )


def _check_arguments(frame: object, task: object, cv_folds: object, min_rows: object) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    if task is not None and task not in _TASKS:
        raise InvalidInputError(
            f"task must be 'classification', 'regression' or None; got {task!r}"
        )
    if not isinstance(cv_folds, int) or isinstance(cv_folds, bool) or cv_folds < 2:
        raise InvalidInputError(f"cv_folds must be an integer of at least 2; got {cv_folds!r}")
    if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 1:
        raise InvalidInputError(f"min_rows_per_fold must be a positive integer; got {min_rows!r}")
    if frame.shape[0] == 0:
        raise DataError("the table has no rows")
    if frame.shape[1] == 0:
        raise DataError("the table has no columns")


def _column_names(frame: pd.DataFrame) -> list[str]:
    # Names are kept as given (spaces, unicode, case); only non-text names (0, 1, ...) become
    # text, because the bundle's input schema names its fields with strings.
    names = [c if isinstance(c, str) else str(c) for c in frame.columns]
    seen: dict[str, int] = {}
    for position, column in enumerate(names, start=1):
        if not column.strip():
            raise DataError(f"column {position} has no name")
        if column in seen:
            raise DataError(
                f"column name '{column}' appears more than once (columns {seen[column]} and "
                f"{position}); names must be unique"
            )
        seen[column] = position
    return names


def _require_column(column: str, names: Sequence[str], *, what: str) -> None:
    if column in names:
        return
    raise DataError(f"{what} '{column}' is not in the table; {_suggest(column, names)}")


def _suggest(column: str, names: Sequence[str]) -> str:
    """'did you mean ...' from case-insensitive and close matches, else the columns there are."""
    folded = {n.casefold().strip(): n for n in names}
    close = [folded[k] for k in difflib.get_close_matches(column.casefold().strip(), folded, n=3)]
    if close:
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    shown = ", ".join(f"'{n}'" for n in names[:20]) + (", ..." if len(names) > 20 else "")
    return f"the columns are {shown}"
