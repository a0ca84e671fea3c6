"""card.json: the model card, validated by pydantic and rendered to Markdown for people."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MetricValue(BaseModel):
    """A point estimate with its bootstrap 95% confidence interval on the hold-out split."""

    model_config = ConfigDict(extra="forbid")

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


class CandidateResult(BaseModel):
    """One candidate's cross-validation score on the training split."""

    name: str
    metric: str
    mean: float
    std: float
    fit_seconds: float


class SubgroupResult(BaseModel):
    """Hold-out metrics within one subgroup (e.g. sex = 0), so disparities are visible."""

    variable: str
    group: str
    n: int
    metrics: dict[str, MetricValue]


class Evaluation(BaseModel):
    split: str = Field(description="how the hold-out split was drawn")
    n_train: int
    n_test: int
    metrics: dict[str, MetricValue]
    calibration: dict[str, list[float]] = Field(default_factory=dict, description="mean_predicted, fraction_positive, count per bin")
    confusion_matrix: list[list[int]] | None = None
    threshold: float | None = None
    subgroups: list[SubgroupResult] = Field(default_factory=list)


class VariantResult(BaseModel):
    """An ONNX file of the same model (e.g. int8) compared with model.onnx on the hold-out split."""

    name: str
    file: str
    metrics: dict[str, float | None] = Field(description="the variant's hold-out metrics")
    reference_metrics: dict[str, float | None] = Field(description="model.onnx on the same images")
    max_probability_difference: float
    latency_ms: dict[str, float] = Field(description="median ms per call, variant, by batch size")
    reference_latency_ms: dict[str, float] = Field(description="median ms per call, model.onnx")
    served: bool = Field(description="whether the server runs this variant instead of model.onnx")
    reason: str


class ModelCard(BaseModel):
    """Everything a reviewer needs to decide whether a model may be used, and for what."""

    name: str
    kind: str
    task: str
    intended_use: str
    out_of_scope: str = (
        "Not a certified medical device. Not for use as the sole basis of a clinical decision; "
        "not validated outside the population summarised under training data."
    )
    training_data: dict[str, Any]
    estimator: str
    candidates: list[CandidateResult] = Field(default_factory=list)
    evaluation: Evaluation
    global_importance: dict[str, float] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict, description="kind-specific facts: network, training run, preprocessing")
    variants: list[VariantResult] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    benchmarks: list[str] = Field(default_factory=list, description="published results on the same public data set, and ours with the command that measured them")
    references: list[str] = Field(default_factory=list)
    plots: list[str] = Field(default_factory=list, description="PNG files inside the bundle")
    trained_by: str
    trained_at: str
    approved_by: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
