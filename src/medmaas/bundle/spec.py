"""spec.json: what a model takes and gives, validated by pydantic, never eval'd."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

# 2: numeric features may travel as one packed float32 matrix (OnnxBinding.packed).
# 3: image inputs (FeatureSpec.shape), ONNX variants (int8) and the served file (OnnxBinding.serve).
SPEC_FORMAT = 3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureSpec(_Strict):
    """One input field of a model as a caller sees it."""

    name: str
    type: Literal["number", "string", "image", "signal"]
    unit: str | None = None
    description: str | None = None
    # Observed in training; values outside are accepted but flagged, not silently trusted.
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None
    # Missing values are imputed as in training; `required` features must be present.
    required: bool = False
    fhir: dict[str, str] | None = Field(default=None, description="e.g. {'system': 'http://loinc.org', 'code': '2339-0'}")
    shape: list[int] | None = Field(default=None, description="image inputs: [channels, *spatial size] of one sample; signal inputs: samples per window")


class OutputSpec(_Strict):
    """What a prediction holds."""

    target: str
    task: Literal["classification", "regression"]
    classes: list[str] | None = None
    positive_class: str | None = None
    threshold: float | None = Field(default=None, description="decision threshold on P(positive) for binary models")
    unit: str | None = None


class OnnxBinding(_Strict):
    """How request fields map onto the ONNX graph's inputs and outputs."""

    inputs: dict[str, str] = Field(description="feature name -> its own ONNX input [n, 1]")
    packed: dict[str, list[str]] = Field(
        default_factory=dict,
        description="ONNX input -> the features that are its columns, in order: one float32 "
                    "matrix [n, k] (one tensor per request instead of one per feature)")
    input_dtypes: dict[str, Literal["float32", "float64", "string", "int64"]]
    label_output: str | None = None
    probability_output: str | None = None
    value_output: str | None = None
    variants: dict[str, str] = Field(
        default_factory=dict,
        description="other ONNX files of the same model, e.g. {'int8': 'model.int8.onnx'}; the "
                    "model card compares their quality and speed with model.onnx")
    serve: str = Field(default="model.onnx", description="the ONNX file the server runs: model.onnx "
                       "or one of the variants, chosen at training from the card's comparison")

    @model_validator(mode="after")
    def _served_file_is_known(self) -> OnnxBinding:
        if self.serve != "model.onnx" and self.serve not in self.variants.values():
            raise ValueError(f"onnx.serve {self.serve!r} is neither model.onnx nor a variant")
        for file in self.variants.values():
            if "/" in file or "\\" in file or not file.endswith(".onnx"):
                raise ValueError(f"ONNX variant {file!r} must be a plain .onnx file name in the bundle")
        return self


class ExplainSpec(_Strict):
    method: Literal["shap-permutation", "occlusion", "none"] = "shap-permutation"
    background: str | None = Field(default=None, description="path inside the bundle of the background sample (JSON)")
    global_importance: dict[str, float] = Field(default_factory=dict)


class ModelSpec(_Strict):
    """spec.json of a bundle."""

    format: int = SPEC_FORMAT
    kind: str
    task: Literal["classification", "regression"]
    estimator: str = Field(description="the candidate chosen by cross-validation")
    inputs: list[FeatureSpec]
    output: OutputSpec
    onnx: OnnxBinding
    explain: ExplainSpec = ExplainSpec()
    versions: dict[str, str] = Field(default_factory=dict, description="medmaas and library versions at training")
    extra: dict[str, Any] = Field(default_factory=dict, description="kind-specific settings")
    # Per-process memo for a kind's serving side (e.g. a decoding plan); never serialised.
    _memo: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _every_feature_bound_once(self) -> ModelSpec:
        bound = list(self.onnx.inputs) + [f for cols in self.onnx.packed.values() for f in cols]
        names = [f.name for f in self.inputs]
        if sorted(bound) != sorted(names):
            raise ValueError("onnx binding must bind every input feature exactly once")
        return self

    def memo(self, key: str, build: Any) -> Any:
        """``build()`` once per loaded spec, then the same object (specs are immutable)."""
        # Straight to pydantic's private-attribute dict: ``self._memo`` goes through
        # BaseModel.__getattr__, which costs more than the rest of a one-row decode.
        memo = self.__pydantic_private__["_memo"]  # type: ignore[index]
        value = memo.get(key)
        if value is None:
            value = memo[key] = build()
        return value

    def feature(self, name: str) -> FeatureSpec | None:
        for f in self.inputs:
            if f.name == name:
                return f
        return None
