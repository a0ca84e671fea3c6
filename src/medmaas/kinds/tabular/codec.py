"""Serving side of the tabular kind: JSON rows in, ONNX feeds; ONNX outputs, JSON out.

Needs only numpy and the bundle's spec. The request contract: every feature is present in
every row; ``null`` means *not measured* and is imputed as in training (with a warning); a field
the model does not know is refused, so a typo never silently becomes a missing value.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, overload

import numpy as np

from medmaas.bundle.spec import FeatureSpec, ModelSpec
from medmaas.exceptions import SchemaError
from medmaas.kinds.base import Batch

# Re-exported: callers of the tabular codec find the answer builders where they always were.
from medmaas.kinds.outputs import encode_outputs, scores_from_outputs  # noqa: F401

MISSING_CATEGORY = ""


def _number(feature: FeatureSpec, value: Any, row: int, notes: list[str]) -> float:
    if value is None:
        notes.append(f"'{feature.name}' not given; imputed as in training")
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(f"row {row}: field '{feature.name}' must be a number; got {value!r}")
    if not math.isfinite(value):
        raise SchemaError(f"row {row}: field '{feature.name}' must be a finite number; got {value!r}")
    lo, hi = feature.minimum, feature.maximum
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        notes.append(f"'{feature.name}' = {value} is outside the training range [{lo:g}, {hi:g}]")
    return float(value)


def _category(feature: FeatureSpec, value: Any, row: int, notes: list[str]) -> str:
    if value is None:
        notes.append(f"'{feature.name}' not given; treated as not recorded")
        return MISSING_CATEGORY
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SchemaError(f"row {row}: field '{feature.name}' must be text; got {value!r}")
    text = value if isinstance(value, str) else f"{value:g}"
    text = text.strip()
    if feature.categories is not None and text not in feature.categories:
        notes.append(f"'{feature.name}' = {text!r} was not seen in training; treated as unknown")
    return text


class _Plan:
    """What decoding needs from a spec, worked out once per loaded model."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.names = [f.name for f in spec.inputs]
        self.known = frozenset(self.names)
        packed = {f for cols in spec.onnx.packed.values() for f in cols}
        # Every numeric feature is a column of one float matrix; packed inputs are slices of it.
        self.numbers = [f for f in spec.inputs if f.type == "number"]
        self.number_names = [f.name for f in self.numbers]
        # Always a tuple, even for one feature (itemgetter of one name returns the bare value).
        getter = itemgetter(*self.number_names) if self.number_names else None
        self.get_numbers: Any = ((lambda row: (getter(row),)) if len(self.number_names) == 1
                                 else getter)
        self.column = column = {name: j for j, name in enumerate(self.number_names)}
        self.lo = np.array([-np.inf if f.minimum is None else f.minimum for f in self.numbers])
        self.hi = np.array([np.inf if f.maximum is None else f.maximum for f in self.numbers])
        self.bounds = list(zip(self.lo.tolist(), self.hi.tolist(), strict=True))
        self.texts = [f for f in spec.inputs if f.type == "string"]
        self.text_categories = [frozenset(f.categories) if f.categories is not None else None
                                for f in self.texts]
        self.packed = [(name, [column[f] for f in cols]) for name, cols in spec.onnx.packed.items()]
        self.single = [(f.name, spec.onnx.inputs[f.name], spec.onnx.input_dtypes[f.name],
                        column.get(f.name)) for f in spec.inputs if f.name not in packed]
        # A full-width packed input in feature order is the matrix itself: no copy.
        self.identity = [(name, idx == list(range(len(self.numbers)))) for name, idx in self.packed]

    def feeds(self, numbers: np.ndarray, texts: Mapping[str, list[str]]) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        matrix32 = numbers.astype(np.float32)
        for (name, idx), (_, whole) in zip(self.packed, self.identity, strict=True):
            feeds[name] = matrix32 if whole else np.ascontiguousarray(matrix32[:, idx])
        for feature, onnx_name, dtype, j in self.single:
            if dtype == "string":
                feeds[onnx_name] = np.array(texts[feature], dtype=object).reshape(-1, 1)
            else:
                feeds[onnx_name] = np.ascontiguousarray(numbers[:, [j]], dtype=np.dtype(dtype))
        return feeds


def _plan(spec: ModelSpec) -> _Plan:
    return spec.memo("tabular.codec", lambda: _Plan(spec))  # type: ignore[no-any-return]


def feeds_from_columns(spec: ModelSpec, numbers: np.ndarray, texts: Mapping[str, list[str]]) -> dict[str, np.ndarray]:
    """ONNX feeds from the numeric features as matrix columns (in spec order) and the text ones."""
    return _plan(spec).feeds(numbers, texts)


_NUMBER_TYPES = frozenset({float, int})


def decode_rows(spec: ModelSpec, rows: Sequence[Mapping[str, Any]]) -> Batch:
    """Validate JSON rows against the spec and build the ONNX feeds.

    Clean requests (every field present, numbers inside the training range, known
    categories) take a vectorised path; anything else goes through the row-by-row checks,
    which name the row and field of every problem. Both give the same Batch.
    """
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        raise SchemaError("'rows' must be a list of objects, one per patient")
    if len(rows) == 0:
        raise SchemaError("'rows' is empty; send at least one row")
    plan = _plan(spec)
    return _decode_clean(plan, rows) or _decode_checked(plan, rows)


def _decode_clean(plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> Batch | None:
    """The fast path, or None when any row needs a warning or an error message."""
    known = plan.known
    for row in rows:
        if type(row) is not dict or row.keys() != known:
            return None
    n = len(rows)
    if plan.number_names:
        values = list(map(plan.get_numbers, rows))  # one C-level itemgetter call per row
        # bool is not a number here, and None needs a warning: both leave the fast path.
        if not _NUMBER_TYPES.issuperset(map(type, chain.from_iterable(values))):
            return None
        if n <= _PYTHON_CHECK_ROWS and not all(_inside(row, plan.bounds) for row in values):
            return None
        try:
            numbers = np.array(values, dtype=np.float64).reshape(n, len(plan.number_names))
        except OverflowError:
            return None
    else:
        numbers = np.empty((n, 0), dtype=np.float64)
    if n > _PYTHON_CHECK_ROWS and (
            not np.isfinite(numbers).all() or (numbers < plan.lo).any() or (numbers > plan.hi).any()):
        return None
    texts: dict[str, list[str]] = {}
    for feature, categories in zip(plan.texts, plan.text_categories, strict=True):
        column = [row[feature.name] for row in rows]
        for value in column:
            if type(value) is not str or value != value.strip() or (
                    categories is not None and value not in categories):
                return None
        texts[feature.name] = column
    return Batch(feeds=plan.feeds(numbers, texts), n=n, records=list(rows),
                 warnings=[[] for _ in range(n)])


# Up to this many rows, checking the range in Python beats three numpy reductions (one
# 30-feature row: 2.4 µs against 8 µs); beyond it numpy wins.
_PYTHON_CHECK_ROWS = 2


def _inside(values: tuple[Any, ...], bounds: list[tuple[float, float]]) -> bool:
    """Every value finite and inside its training range (NaN fails the comparisons; an
    integer too large for a float fails ``isfinite`` with OverflowError, caught as outside)."""
    try:
        return all(lo <= v <= hi and math.isfinite(v) for v, (lo, hi) in zip(values, bounds, strict=True))
    except OverflowError:
        return False


def _decode_checked(plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> Batch:
    """Row by row: the reference semantics, with a message naming every problem."""
    names, known = plan.names, plan.known
    numbers = np.empty((len(rows), len(plan.numbers)), dtype=np.float64)
    column = plan.column
    texts: dict[str, list[str]] = {f.name: [] for f in plan.texts}
    warnings: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise SchemaError(f"row {i}: must be an object of field: value; got {type(row).__name__}")
        unknown = [k for k in row if k not in known]
        if unknown:
            raise SchemaError(
                f"row {i}: unknown field(s) {', '.join(map(repr, unknown))}; this model takes: {', '.join(names)}"
            )
        missing = [n for n in names if n not in row]
        if missing:
            raise SchemaError(
                f"row {i}: missing field(s) {', '.join(map(repr, missing))} (send null for a value that was not measured)"
            )
        notes: list[str] = []
        for f in plan.spec.inputs:
            value = row[f.name]
            if f.type == "number":
                numbers[i, column[f.name]] = _number(f, value, i, notes)
            else:
                texts[f.name].append(_category(f, value, i, notes))
            if f.required and value is None:
                raise SchemaError(f"row {i}: field '{f.name}' is required and may not be null")
        warnings.append(notes)
        records.append(dict(row))
    return Batch(feeds=plan.feeds(numbers, texts), n=len(rows), records=records, warnings=warnings)


def number_names(spec: ModelSpec) -> list[str]:
    """The numeric features in spec order: the columns of ``decode_matrix``'s matrix."""
    return _plan(spec).number_names


def decode_matrix(spec: ModelSpec, numbers: np.ndarray) -> Batch:
    """Validate a float matrix (rows × the numeric features in spec order; NaN = not
    measured) for a model whose features are all numeric, and build the ONNX feeds.

    The same contract as JSON rows: a clean matrix (finite, inside the training ranges) is
    fed as it is; otherwise every row goes through the row-by-row checks, so a NaN gets the
    same imputation warning as a JSON null and an infinity the same error.
    """
    plan = _plan(spec)
    if plan.texts:
        raise SchemaError("this model has text features: send one input per feature")
    if numbers.ndim != 2 or numbers.shape[1] != len(plan.number_names):
        raise SchemaError(f"the matrix must have {len(plan.number_names)} columns (the model's features); got "
                          f"shape {list(numbers.shape)}")
    if numbers.shape[0] == 0:
        raise SchemaError("the matrix has no rows; send at least one")
    matrix = _exact(numbers, plan.lo, plan.hi)
    rows = MatrixRows(plan.number_names, matrix)
    if np.isfinite(matrix).all() and not (matrix < plan.lo).any() and not (matrix > plan.hi).any():
        return Batch(feeds=plan.feeds(matrix, {}), n=len(rows), records=rows, warnings=[[] for _ in range(len(rows))])
    names = plan.number_names
    return _decode_checked(plan, [{name: None if v != v else v for name, v in zip(names, row, strict=True)}
                                  for row in _as_sent(numbers, matrix)])


class MatrixRows(Sequence[dict[str, Any]]):
    """The rows of a feature matrix as the JSON records they stand for (NaN as null), made
    when read: only explanations read them, and making 64 of them costs more than the rest of
    decoding the matrix.

    >>> MatrixRows(["a", "b"], np.array([[1.0, np.nan]]))[0]
    {'a': 1.0, 'b': None}
    """

    def __init__(self, names: list[str], matrix: np.ndarray) -> None:
        self.names = names
        self.matrix = matrix

    def __len__(self) -> int:
        return len(self.matrix)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return {name: None if value != value else value
                for name, value in zip(self.names, self.matrix[index].tolist(), strict=True)}


def decode_columns(spec: ModelSpec, columns: Mapping[str, np.ndarray]) -> Batch:
    """Validate one array per feature (numbers as floats with NaN = not measured; text as
    str, with None = not recorded) and build the ONNX feeds, through the JSON rows' checks."""
    plan = _plan(spec)
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise SchemaError("every feature needs one value per row; got "
                          + ", ".join(f"{name!r}: {n}" for name, n in lengths.items()))
    values: dict[str, list[Any]] = {}
    for feature in plan.spec.inputs:
        column = columns[feature.name]
        if feature.type == "number":
            j = plan.column[feature.name]
            sent = np.asarray(column).reshape(-1, 1)
            exact = _exact(sent, plan.lo[j:j + 1], plan.hi[j:j + 1])
            values[feature.name] = [None if row[0] != row[0] else row[0] for row in _as_sent(sent, exact)]
        else:
            values[feature.name] = list(column)
    n = next(iter(lengths.values()), 0)
    return decode_rows(spec, [{name: values[name][i] for name in values} for i in range(n)])


def _exact(numbers: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """float64 values of a float matrix; float32 values that round a training bound are taken
    as that bound. A float32 sent for 28.11 reads 28.110000610...: compared as float64 it would
    be "outside the training range" where the same value in JSON is not."""
    if numbers.dtype != np.float32:
        return np.asarray(numbers, dtype=np.float64)
    matrix = numbers.astype(np.float64)
    for bound in (lo, hi):
        finite = np.isfinite(bound)
        with np.errstate(over="ignore"):  # a bound beyond float32 cannot be hit by a float32
            rounded = np.where(finite, bound, 0).astype(np.float32)
        at = (numbers == rounded) & finite
        if at.any():
            matrix = np.where(at, bound, matrix)
    return matrix


def _as_sent(numbers: np.ndarray, exact: np.ndarray) -> list[list[float]]:
    """The rows as numbers a person wrote: a float32 as its shortest decimal (28.5, not
    28.5000004768), so warnings quote what was sent; values taken as a bound stay the bound."""
    if numbers.dtype != np.float32:
        return exact.tolist()  # type: ignore[no-any-return]
    return [[v64 if float(v32) != v64 else float(str(v32)) for v32, v64 in zip(row32, row64, strict=True)]
            for row32, row64 in zip(numbers, exact.tolist(), strict=True)]


def frame_rows(spec: ModelSpec, frame: Any) -> list[dict[str, Any]]:
    """Rows of an uploaded table (CSV cells arrive as text) with numbers parsed where the spec
    wants numbers; unparsable cells stay text so ``decode_rows`` names them."""
    from medmaas.data.records import frame_to_records

    rows = frame_to_records(frame)
    numeric = {f.name for f in spec.inputs if f.type == "number"}
    for row in rows:
        for key, value in row.items():
            if key in numeric and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    row[key] = float(value.strip())
    return rows
