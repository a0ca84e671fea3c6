"""The target column: its task, its class labels and which class is the positive one.

Getting the positive class right matters more than it looks: sensitivity, PPV, ROC curves and
the probability a clinician sees are all "of the positive class". A binary target therefore
puts its positive class last (index 1), chosen from what the labels mean ("malignant" over
"benign", "ckd" over "notckd", 1 over 0), not from where they fall alphabetically.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from medmaas.data._text import clean_text_series, format_number, is_text_dtype, parse_numbers
from medmaas.data.dataset import Task
from medmaas.exceptions import DataError

#: Labels that mean "absent / normal / negative" (compared case-insensitively).
NEGATIVE_LABELS: frozenset[str] = frozenset(
    {
        "0", "no", "n", "false", "f", "negative", "neg", "absent", "notpresent", "not present",
        "normal", "notckd", "benign", "b", "healthy", "control", "alive", "survived", "none",
        "nondiabetic", "non-diabetic",
    }
)  # fmt: skip
#: Labels that mean "present / abnormal / positive".
POSITIVE_LABELS: frozenset[str] = frozenset(
    {
        "1", "yes", "y", "true", "t", "positive", "pos", "present", "abnormal", "malignant",
        "m", "ckd", "disease", "diseased", "case", "dead", "died", "death", "deceased", "event",
        "diabetic",
    }
)  # fmt: skip
_NEGATION = re.compile(r"^(?:not|non|no)[\s_\-]*", re.IGNORECASE)

#: A numeric target with more distinct values than this is a regression target ...
MAX_CLASSES_INTEGER = 20
#: ... or more than this when some values are fractional (3.7 is a measurement, not a label).
MAX_CLASSES_FRACTIONAL = 10


@dataclass
class Target:
    """The prepared target: labels per row (or floats), the task, the class order, messages."""

    task: Task
    values: pd.Series  # labels (str) for classification, float64 for regression
    classes: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def encoded(self) -> pd.Series:
        """Class indices 0..k-1 (int64) for classification; the floats for regression."""
        if self.task == "regression":
            return self.values.astype("float64")
        index = {label: i for i, label in enumerate(self.classes)}
        return self.values.map(index).astype("int64")


def positive_class(labels: Sequence[str]) -> str | None:
    """The positive one of two labels by meaning, or None when their meaning does not say.

    >>> positive_class(["benign", "malignant"]), positive_class(["ckd", "notckd"])
    ('malignant', 'ckd')
    >>> positive_class(["B", "M"]), positive_class(["0", "1"]), positive_class(["red", "blue"])
    ('M', '1', None)
    """
    a, b = labels
    fa, fb = a.casefold(), b.casefold()
    if (fa in NEGATIVE_LABELS) != (fb in NEGATIVE_LABELS):
        return b if fa in NEGATIVE_LABELS else a
    if (fa in POSITIVE_LABELS) != (fb in POSITIVE_LABELS):
        return a if fa in POSITIVE_LABELS else b
    # "notckd" / "ckd", "non-smoker" / "smoker": the label that is not negated is positive.
    if _NEGATION.sub("", fa) == fb:
        return b
    if _NEGATION.sub("", fb) == fa:
        return a
    return None


def order_classes(labels: Sequence[str], numeric: bool) -> tuple[str, ...]:
    """Stable class order: binary targets end with the positive class; others are sorted.

    Numeric labels sort by value ("2" before "10"); a binary target whose labels say nothing
    about which is positive keeps sorted order, so its last label is the positive class.

    >>> order_classes(["yes", "no"], numeric=False)
    ('no', 'yes')
    >>> order_classes(["10", "2", "1"], numeric=True)
    ('1', '2', '10')
    """
    if numeric:
        ordered = sorted(labels, key=float)
    else:
        ordered = sorted(labels, key=lambda label: (label.casefold(), label))
    if len(ordered) == 2 and not numeric:
        positive = positive_class(ordered)
        if positive is not None:
            ordered = [label for label in ordered if label != positive] + [positive]
    return tuple(ordered)


def order_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """``order_classes`` for labels read as text: numerically when every label is a number.

    >>> order_labels(["10", "9", "2"])
    ('2', '9', '10')
    """
    return order_classes(labels, numeric=all(_is_number(v) for v in labels))


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def prepare_target(series: pd.Series, task: Task | None, row_of: pd.Index) -> Target:
    """Decide the task and turn a target column (missing values already dropped) into labels.

    ``row_of`` maps positions to the 1-based row numbers of the table as given, for messages.

    >>> t = prepare_target(pd.Series(["no", "yes", "yes"]), None, pd.Index([1, 2, 3]))
    >>> t.task, t.classes, t.encoded().tolist()
    ('classification', ('no', 'yes'), [0, 1, 1])
    """
    column = series.name
    numbers, is_numeric = _as_numbers(series)
    if is_numeric:
        inf = np.isinf(numbers.to_numpy())
        if inf.any():
            row = row_of[int(np.argmax(inf))]
            raise DataError(f"target '{column}' has an infinite value in row {row}")

    if task is None:
        task = _infer_task(numbers, is_numeric)
        inferred = True
    else:
        inferred = False

    if task == "regression":
        if not is_numeric:
            bad = numbers.isna()
            position = int(np.argmax(bad.to_numpy()))
            raise DataError(
                f"regression target '{column}' must be numeric; got "
                f"{series.iloc[position]!r} in row {row_of[position]}"
            )
        if numbers.nunique() < 2:
            raise DataError(
                f"regression target '{column}' has the same value in every row; there is "
                "nothing to predict"
            )
        notes = []
        if inferred:
            notes.append(
                f"task inferred as regression: target '{column}' is numeric with "
                f"{numbers.nunique()} distinct values (pass task='classification' to override)"
            )
        return Target("regression", numbers.astype("float64"), notes=notes)

    if is_numeric:
        labels = numbers.map(format_number)
    else:
        labels = clean_text_series(series.astype(object) if not is_text_dtype(series) else series)
        labels = labels.map(str)
    classes = order_classes(list(labels.unique()), numeric=is_numeric)
    notes = []
    if inferred:
        notes.append(
            f"task inferred as classification: target '{column}' has {len(classes)} classes"
            + (" (pass task='regression' to override)" if is_numeric else " and is not numeric")
        )
    if len(classes) == 2:
        how = (
            ""
            if is_numeric or positive_class(classes)
            else " (by sorted order: the labels do not say)"
        )
        notes.append(f"positive class: '{classes[1]}' (class 1){how}; '{classes[0]}' is class 0")
    notes.extend(_case_clashes(classes, column))
    return Target("classification", labels, classes, notes)


def check_class_sizes(target: Target, cv_folds: int, min_rows_per_fold: int) -> None:
    """Raise DataError unless there are two classes, each large enough for stratified CV.

    >>> t = Target("classification", pd.Series(["a", "a", "b"]), ("a", "b"))
    >>> check_class_sizes(t, 2, 1)
    Traceback (most recent call last):
    ...
    medmaas.exceptions.DataError: class 'b' of target 'None' has 1 row; 2-fold cross-validation needs at least 2
    """
    column = target.values.name
    if len(target.classes) < 2:
        only = f" ('{target.classes[0]}')" if target.classes else ""
        raise DataError(
            f"target '{column}' has only one class{only}; classification needs at least two"
        )
    needed = cv_folds * min_rows_per_fold
    counts = target.values.value_counts()
    for label in target.classes:
        n = int(counts.get(label, 0))
        if n < needed:
            per_fold = f" ({min_rows_per_fold} per fold)" if min_rows_per_fold > 1 else ""
            raise DataError(
                f"class '{label}' of target '{column}' has {n} row{'s' if n != 1 else ''}; "
                f"{cv_folds}-fold cross-validation needs at least {needed}{per_fold}"
            )


def _as_numbers(series: pd.Series) -> tuple[pd.Series, bool]:
    if pd.api.types.is_bool_dtype(series.dtype):
        # True/False targets are labels, not quantities; "true" is then the positive class.
        return pd.Series(np.nan, index=series.index, dtype="float64"), False
    if pd.api.types.is_numeric_dtype(series.dtype):
        return pd.to_numeric(series).astype("float64"), True
    if not is_text_dtype(series):
        return pd.Series(np.nan, index=series.index, dtype="float64"), False
    numbers, bad = parse_numbers(clean_text_series(series))
    return numbers, not bad.any()


def _infer_task(numbers: pd.Series, is_numeric: bool) -> Task:
    if not is_numeric:
        return "classification"
    distinct = numbers.nunique()
    fractional = bool((numbers % 1 != 0).any())
    limit = MAX_CLASSES_FRACTIONAL if fractional else MAX_CLASSES_INTEGER
    return "regression" if distinct > limit else "classification"


def _case_clashes(classes: Sequence[str], column: object) -> list[str]:
    seen: dict[str, str] = {}
    notes = []
    for label in classes:
        other = seen.setdefault(label.casefold(), label)
        if other != label:
            notes.append(
                f"target '{column}' has classes '{other}' and '{label}' that differ only in "
                "case; they are treated as different classes"
            )
    return notes
