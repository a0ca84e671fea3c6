"""spec.json: what a model takes and gives, validated by pydantic, never eval'd."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

# 2: numeric features may travel as one packed float32 matrix (OnnxBinding.packed).
# 3: image inputs (FeatureSpec.shape), ONNX variants (int8) and the served file (OnnxBinding.serve).
SPEC_FORMAT = 3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FhirCode(_Strict):
    system: str = Field(description="e.g. http://loinc.org or http://snomed.info/sct")
    code: str
    display: str | None = None


class FhirSource(_Strict):
    """Where a feature comes from in a FHIR R4 Bundle: the same mapping builds the training
    table (``medmaas train --fhir``) and each served request, so the two cannot disagree."""

    resource: Literal["Patient", "Observation", "Condition"]
    #: Observation or Condition: any of these codes (an Observation's component codes count too:
    #: systolic blood pressure is a component of the blood-pressure panel)
    codes: list[FhirCode] = Field(default_factory=list)
    #: Patient only: age in years at the prediction time, or administrative sex
    attribute: Literal["age", "sex"] | None = None
    #: the UCUM unit the model was trained in; quantities in other units are converted
    unit: str | None = None
    #: how the observations in the look-back window become one value; ``present`` (Conditions):
    #: 1 when the condition is active at the prediction time, else 0
    aggregation: Literal["last", "first", "min", "max", "mean", "count", "present"] = "last"
    #: days before the prediction time that count; None: the whole record
    lookback_days: float | None = Field(default=None, gt=0)
    #: coded values (sex, or an Observation's valueCodeableConcept code) -> the feature's value
    values: dict[str, float | str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FhirSource:
        if self.resource == "Patient":
            if self.attribute is None:
                raise ValueError("a Patient source needs attribute 'age' or 'sex'")
        elif not self.codes:
            raise ValueError(f"an {self.resource} source needs at least one code")
        if self.resource == "Condition" and self.aggregation not in ("present", "count"):
            raise ValueError("a Condition source aggregates by 'present' or 'count'")
        if self.resource == "Observation" and self.aggregation == "present":
            raise ValueError("'present' is for Conditions; an Observation source counts with 'count'")
        return self


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
    fhir: FhirSource | None = Field(default=None, description="where the feature is read from a FHIR R4 Bundle")
    shape: list[int] | None = Field(default=None, description="image inputs: [channels, *spatial size] of one sample; signal inputs: samples per window")


class OutputSpec(_Strict):
    """What a prediction holds."""

    target: str
    task: Literal["classification", "regression"]
    classes: list[str] | None = None
    positive_class: str | None = None
    threshold: float | None = Field(default=None, description="decision threshold on P(positive) for binary models")
    unit: str | None = None
    fhir: FhirCode | None = Field(default=None, description="the outcome's code in a FHIR RiskAssessment "
                                  "(e.g. SNOMED 419620001 death)")


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
