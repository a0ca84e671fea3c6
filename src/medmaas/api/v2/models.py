"""What each kind of model takes and gives over the Open Inference Protocol.

A contract per kind names the input tensors a model advertises in its metadata, turns the
tensors of a request into the same ``Batch`` the kind's JSON decoding makes (through the kind's
own codec, so every check and warning exists once), and turns the ONNX outputs into output
tensors. Every model that ends in class probabilities gives ``probabilities`` FP32 [n, classes]
and ``label`` BYTES [n] (the decision the /v1 answer names); regression models give ``value``
FP32 [n] and, when calibrated, ``interval`` FP32 [n, 2]. Per-row warnings travel as the
response parameter ``warnings``: a JSON string, one list per row, present only when any row
has one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from medmaas.api.v2.tensors import OutputTensor, Tensor
from medmaas.bundle.spec import FeatureSpec, ModelSpec
from medmaas.exceptions import SchemaError
from medmaas.kinds.base import Batch
from medmaas.kinds.outputs import decisions, scores_from_outputs

PLATFORM = "onnxruntime_onnx"
FLOATS = ("FP32", "FP64")
#: Request parameters every model reads: the binary extension's, and Triton's scheduling
#: hints, which a one-process server has no use for and reads past.
COMMON_PARAMETERS = frozenset({"binary_data_output", "priority", "timeout"})


@dataclass(frozen=True)
class TensorSpec:
    """One tensor in a model's metadata; -1 is a dimension of any size."""

    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "datatype": self.datatype, "shape": self.shape}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


class Contract:
    """The tensors of one kind. Subclasses say what goes in; what comes out is shared."""

    #: request parameters this kind reads besides COMMON_PARAMETERS
    parameters: ClassVar[frozenset[str]] = frozenset()

    def inputs(self, spec: ModelSpec) -> list[TensorSpec]:
        raise NotImplementedError

    def decode(self, spec: ModelSpec, inputs: Mapping[str, Tensor], parameters: Mapping[str, Any]) -> Batch:
        raise NotImplementedError

    def rows(self, inputs: Mapping[str, Tensor]) -> int:
        """How many rows (patients, images, notes) a request holds, for the per-request limit."""
        return max((t.shape[0] for t in inputs.values() if t.shape), default=0)

    def outputs(self, spec: ModelSpec) -> list[TensorSpec]:
        if spec.task == "regression":
            value = TensorSpec("value", "FP32", [-1], {"unit": spec.output.unit} if spec.output.unit else None)
            if spec.extra.get("conformal_q") is None:
                return [value]
            level = 1 - spec.extra.get("conformal_alpha", 0.1)
            return [value, TensorSpec("interval", "FP32", [-1, 2], {"level": level})]
        classes = spec.output.classes or []
        described: dict[str, Any] = {"classes": classes}
        if spec.output.threshold is not None and len(classes) == 2:
            described |= {"positive_class": classes[1], "threshold": spec.output.threshold}
        return [TensorSpec("probabilities", "FP32", [-1, len(classes)], {"classes": classes}),
                TensorSpec("label", "BYTES", [-1], described)]

    def encode(self, spec: ModelSpec, outputs: Mapping[str, np.ndarray],
               batch: Batch) -> tuple[list[OutputTensor], dict[str, Any]]:
        """Output tensors, and the response parameters (warnings) for one batch."""
        scores = scores_from_outputs(spec, outputs)
        if spec.task == "regression":
            tensors = [OutputTensor("value", "FP32", scores.astype(np.float32))]
            q = spec.extra.get("conformal_q")
            if q is not None:
                interval = np.stack([scores - q, scores + q], axis=1).astype(np.float32)
                tensors.append(OutputTensor("interval", "FP32", interval))
        else:
            labels = np.empty(batch.n, dtype=object)
            labels[:] = decisions(spec, scores)
            tensors = [OutputTensor("probabilities", "FP32", scores.astype(np.float32)),
                       OutputTensor("label", "BYTES", labels)]
        return tensors, warnings_parameter(batch.warnings)


def warnings_parameter(warnings: list[list[str]]) -> dict[str, Any]:
    # Parameter values are scalars in the protocol: the per-row lists travel as one JSON string.
    return {"warnings": json.dumps(warnings)} if any(warnings) else {}


def check_names(inputs: Mapping[str, Tensor], wanted: list[str], optional: tuple[str, ...] = ()) -> None:
    missing = [name for name in wanted if name not in inputs]
    unknown = [name for name in inputs if name not in wanted and name not in optional]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing input(s) {', '.join(map(repr, missing))}")
        if unknown:
            problems.append(f"unknown input(s) {', '.join(map(repr, unknown))}")
        takes = ", ".join(map(repr, [*wanted, *optional]))
        raise SchemaError(f"{'; '.join(problems)}: this model takes {takes} (see GET /v2/models/<name>)")


def check_datatype(tensor: Tensor, allowed: tuple[str, ...]) -> None:
    if tensor.datatype not in allowed:
        raise SchemaError(f"input {tensor.name!r} must be {' or '.join(allowed)}; got {tensor.datatype}")


def rows_of(tensor: Tensor) -> np.ndarray:
    """A per-row input sent as [n] or [n, 1]."""
    if len(tensor.shape) == 1 or (len(tensor.shape) == 2 and tensor.shape[1] == 1):
        return tensor.array.reshape(-1)
    raise SchemaError(f"input {tensor.name!r} must have shape [-1] (one value per row); got {list(tensor.shape)}")


def texts_of(tensor: Tensor) -> list[str]:
    texts = []
    for i, raw in enumerate(tensor.array.reshape(-1)):
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise SchemaError(f"input {tensor.name!r} element {i} is not UTF-8 text (invalid byte at position "
                              f"{exc.start})") from None
    return texts


class TabularContract(Contract):
    """All-numeric models take one matrix ``input`` [n, features] FP32 (or FP64) in the order the
    metadata lists, NaN = not measured; every model also takes one tensor per feature, named by
    the feature, [n] or [n, 1]: FP32/FP64 for numbers, BYTES for categories (empty = not
    recorded)."""

    MATRIX = "input"

    def matrix_form(self, spec: ModelSpec) -> bool:
        return all(f.type == "number" for f in spec.inputs) and spec.feature(self.MATRIX) is None

    def inputs(self, spec: ModelSpec) -> list[TensorSpec]:
        from medmaas.kinds.tabular.codec import number_names

        if self.matrix_form(spec):
            names = number_names(spec)
            return [TensorSpec(self.MATRIX, "FP32", [-1, len(names)],
                               {"columns": names, "missing": "NaN", "also": "one tensor per feature, named by it"})]
        return [TensorSpec(f.name, "FP32" if f.type == "number" else "BYTES", [-1], _feature_parameters(f))
                for f in spec.inputs]

    def decode(self, spec: ModelSpec, inputs: Mapping[str, Tensor], parameters: Mapping[str, Any]) -> Batch:
        from medmaas.kinds.tabular import codec

        if self.matrix_form(spec) and self.MATRIX in inputs:
            check_names(inputs, [self.MATRIX])
            tensor = inputs[self.MATRIX]
            check_datatype(tensor, FLOATS)
            k = len(spec.inputs)
            if len(tensor.shape) != 2 or tensor.shape[1] != k:
                raise SchemaError(f"input {self.MATRIX!r} must have shape [-1, {k}] (rows × the model's {k} "
                                  f"features, in the order the metadata lists); got {list(tensor.shape)}")
            return codec.decode_matrix(spec, tensor.array)
        names = [f.name for f in spec.inputs]
        if self.matrix_form(spec) and not set(inputs) & set(names):
            raise SchemaError(f"unknown input(s) {', '.join(map(repr, inputs))}: this model takes one input "
                              f"{self.MATRIX!r} FP32 [-1, {len(names)}], or one input per feature named by it")
        check_names(inputs, names)
        columns: dict[str, Any] = {}
        for feature in spec.inputs:
            tensor = inputs[feature.name]
            if feature.type == "number":
                check_datatype(tensor, FLOATS)
                columns[feature.name] = rows_of(tensor)
            else:
                check_datatype(tensor, ("BYTES",))
                rows_of(tensor)
                columns[feature.name] = [text or None for text in texts_of(tensor)]
        if self.matrix_form(spec) and len({len(c) for c in columns.values()}) == 1:
            # all numeric: the per-feature tensors are the matrix's columns
            matrix = np.stack([columns[name] for name in codec.number_names(spec)], axis=1)
            return codec.decode_matrix(spec, matrix)
        return codec.decode_columns(spec, columns)


def _feature_parameters(feature: FeatureSpec) -> dict[str, Any]:
    described = {"unit": feature.unit, "categories": feature.categories,
                 "missing": "NaN" if feature.type == "number" else "empty string"}
    return {k: v for k, v in described.items() if v is not None}


class ImageContract(Contract):
    """``image`` [n, channels, *spatial] FP32 (or UINT8), on the display scale 0..255 as PNGs and
    windowed DICOMs are; other spatial sizes are resampled as /v1 does, with a warning."""

    def inputs(self, spec: ModelSpec) -> list[TensorSpec]:
        from medmaas.kinds.image.codec import input_shape

        return [TensorSpec(spec.inputs[0].name, "FP32", [-1, *input_shape(spec)],
                           {"scale": "0..255, channels first", "also": "UINT8"})]

    def decode(self, spec: ModelSpec, inputs: Mapping[str, Tensor], parameters: Mapping[str, Any]) -> Batch:
        from medmaas.kinds.image.codec import decode_array

        name = spec.inputs[0].name
        check_names(inputs, [name])
        tensor = inputs[name]
        check_datatype(tensor, ("FP32", "UINT8", "FP64"))
        return decode_array(spec, tensor.array, where=f"input {name!r}")


class TextContract(Contract):
    """``text`` BYTES [n]: one UTF-8 note per row, de-identified before the model reads it
    unless the request parameter ``deidentify`` is false (which needs "text:identified")."""

    parameters = frozenset({"deidentify"})

    def inputs(self, spec: ModelSpec) -> list[TensorSpec]:
        from medmaas.kinds.text.codec import TEXT_FIELD

        return [TensorSpec(TEXT_FIELD, "BYTES", [-1], {"encoding": "UTF-8"})]

    def decode(self, spec: ModelSpec, inputs: Mapping[str, Tensor], parameters: Mapping[str, Any]) -> Batch:
        from medmaas.kinds.text.codec import TEXT_FIELD, decode_rows

        check_names(inputs, [TEXT_FIELD])
        tensor = inputs[TEXT_FIELD]
        check_datatype(tensor, ("BYTES",))
        rows_of(tensor)
        return decode_rows(spec, [{TEXT_FIELD: t} for t in texts_of(tensor)],
                           deidentify=deidentify(parameters))


def deidentify(parameters: Mapping[str, Any]) -> bool:
    value = parameters.get("deidentify", True)
    if not isinstance(value, bool):
        raise SchemaError(f"parameter 'deidentify' must be true or false; got {value!r}")
    return value


class SignalContract(Contract):
    """``signal`` FP32 (or FP64) [samples]: one lead of one recording in mV (NaN = a gap), with
    the request parameters ``sampling_rate`` (Hz, required), ``lead`` and ``units``. One output
    row per beat found: ``probabilities``, ``label`` and ``sample`` (the R peak's sample index);
    the rhythm summary and the recording's warnings are response parameters (JSON strings)."""

    parameters = frozenset({"sampling_rate", "lead", "units"})

    def rows(self, inputs: Mapping[str, Tensor]) -> int:
        return 1  # one recording; its length is limited by duration (kinds.signal.waveform)

    def inputs(self, spec: ModelSpec) -> list[TensorSpec]:
        return [TensorSpec("signal", "FP32", [-1], {"unit": "mV", "request_parameters":
                                                    "sampling_rate (Hz, required), lead, units"})]

    def outputs(self, spec: ModelSpec) -> list[TensorSpec]:
        return [*super().outputs(spec), TensorSpec("sample", "INT64", [-1], {"of": "each beat's R peak"})]

    def decode(self, spec: ModelSpec, inputs: Mapping[str, Tensor], parameters: Mapping[str, Any]) -> Batch:
        from medmaas.kinds.signal.codec import decode_samples

        check_names(inputs, ["signal"])
        tensor = inputs["signal"]
        check_datatype(tensor, FLOATS)
        if len(tensor.shape) != 1:
            raise SchemaError(f"input 'signal' must have shape [-1] (the samples of one lead); got "
                              f"{list(tensor.shape)}")
        if "sampling_rate" not in parameters:
            raise SchemaError("request parameter 'sampling_rate' (Hz) is required with the samples, e.g. "
                              '"parameters": {"sampling_rate": 360}')
        lead, units = parameters.get("lead"), parameters.get("units", "mV")
        for name, value in (("lead", lead), ("units", units)):
            if value is not None and not isinstance(value, str):
                raise SchemaError(f"parameter {name!r} must be a string; got {value!r}")
        return decode_samples(spec, tensor.array, parameters.get("sampling_rate"), lead=lead, units=units,
                              where="input 'signal'")

    def encode(self, spec: ModelSpec, outputs: Mapping[str, np.ndarray],
               batch: Batch) -> tuple[list[OutputTensor], dict[str, Any]]:
        from medmaas.kinds.signal.rhythm import summarise

        tensors, _ = super().encode(spec, outputs, batch)
        facts = batch.records[0]  # one recording per request: every beat shares its facts
        peaks = np.asarray(facts["peaks"], dtype=np.int64)
        tensors.append(OutputTensor("sample", "INT64", peaks))
        labels = tensors[1].array.tolist()
        summary = summarise(labels, peaks, facts["sampling_rate"], spec.output.classes or [])
        parameters = {"summary": json.dumps(summary), "lead": facts["lead"]}
        if facts["notes"]:
            parameters["warnings"] = json.dumps(list(facts["notes"]))
        return tensors, parameters


class TimeseriesContract(Contract):
    """An ICU stay as its measurements, the rows of a PhysioNet 2012 file: ``time`` FP32 (hours
    since admission), ``parameter`` BYTES (e.g. "HR"; descriptors such as "Age" at time 0) and
    ``value`` FP32, one element per measurement; an optional ``stay`` INT64 of the same length
    sends several stays at once. One output row per stay, in order of first appearance, with
    ``stay`` echoing its id (0 when none was sent)."""

    def inputs(self, spec: ModelSpec) -> list[TensorSpec]:
        return [TensorSpec("time", "FP32", [-1], {"unit": "hours since ICU admission"}),
                TensorSpec("parameter", "BYTES", [-1]),
                TensorSpec("value", "FP32", [-1]),
                TensorSpec("stay", "INT64", [-1], {"optional": True})]

    def outputs(self, spec: ModelSpec) -> list[TensorSpec]:
        return [*super().outputs(spec), TensorSpec("stay", "INT64", [-1])]

    def rows(self, inputs: Mapping[str, Tensor]) -> int:
        stay = inputs.get("stay")
        return 1 if stay is None else len(np.unique(stay.array))

    def decode(self, spec: ModelSpec, inputs: Mapping[str, Tensor], parameters: Mapping[str, Any]) -> Batch:
        from medmaas.kinds.timeseries.codec import decode_rows

        check_names(inputs, ["time", "parameter", "value"], optional=("stay",))
        check_datatype(inputs["time"], FLOATS)
        check_datatype(inputs["value"], FLOATS)
        check_datatype(inputs["parameter"], ("BYTES",))
        times, values = rows_of(inputs["time"]).tolist(), rows_of(inputs["value"]).tolist()
        rows_of(inputs["parameter"])
        names = texts_of(inputs["parameter"])
        if "stay" in inputs:
            check_datatype(inputs["stay"], ("INT64", "INT32"))
            stays = rows_of(inputs["stay"]).astype(np.int64).tolist()
        else:
            stays = [0] * len(times)
        if not len(times) == len(names) == len(values) == len(stays):
            raise SchemaError("inputs 'time', 'parameter', 'value' (and 'stay') need one element per measurement; "
                              f"got {len(times)}, {len(names)}, {len(values)}" + (f", {len(stays)}" if "stay" in inputs else ""))
        grouped: dict[int, list[dict[str, Any]]] = {}
        for stay, t, p, v in zip(stays, times, names, values, strict=True):
            grouped.setdefault(stay, []).append({"time": t, "parameter": p, "value": v})
        return decode_rows(spec, [{"measurements": m, "id": stay} for stay, m in grouped.items()])

    def encode(self, spec: ModelSpec, outputs: Mapping[str, np.ndarray],
               batch: Batch) -> tuple[list[OutputTensor], dict[str, Any]]:
        tensors, parameters = super().encode(spec, outputs, batch)
        ids = np.array([record["id"] for record in batch.records], dtype=np.int64)
        return [*tensors, OutputTensor("stay", "INT64", ids)], parameters


CONTRACTS: dict[str, Contract] = {
    "tabular": TabularContract(), "image": ImageContract(), "text": TextContract(),
    "signal": SignalContract(), "timeseries": TimeseriesContract(),
}


def contract_for(spec: ModelSpec) -> Contract:
    contract = CONTRACTS.get(spec.kind)
    if contract is None:
        raise SchemaError(f"{spec.kind} models are not served over the V2 protocol yet; send JSON rows to "
                          "/v1/models/<name>/predict")
    return contract
