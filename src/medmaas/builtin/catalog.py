"""The built-in models: which shipped data set, which target, and what the card should say."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    file: str
    target: str
    description: str
    intended_use: str
    references: tuple[str, ...]
    drop: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    published: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(str(resources.files("medmaas.builtin") / "data" / self.file))


BUILTINS: tuple[BuiltinModel, ...] = (
    BuiltinModel(
        name="breast-cancer-wdbc",
        file="breast_cancer_wdbc.csv",
        target="diagnosis",
        description="Malignant vs benign breast mass from fine-needle aspirate image features (WDBC).",
        intended_use=(
            "Decision support for cytopathology research: estimate the probability that a breast "
            "mass is malignant from the 30 nuclear features computed from a digitised FNA image."
        ),
        references=(
            "W.N. Street, W.H. Wolberg, O.L. Mangasarian. Nuclear feature extraction for breast tumor "
            "diagnosis. IS&T/SPIE 1993. UCI Machine Learning Repository (CC BY 4.0).",
        ),
        published="97.5% 10-fold accuracy (MSM-T, Street et al. 1993); 0.97-0.98 accuracy typical",
        limitations=("Features come from one institution's image analysis pipeline (University of "
                     "Wisconsin, 1990s); other pipelines produce differently scaled features.",),
    ),
    BuiltinModel(
        name="heart-failure-mortality",
        file="heart_failure.csv",
        target="DEATH_EVENT",
        drop=("time",),
        description="Death during follow-up of patients with heart failure (Faisalabad, 2015).",
        intended_use=(
            "Research on mortality risk stratification in heart failure with reduced ejection "
            "fraction, from clinical and laboratory values at enrolment."
        ),
        references=(
            "D. Chicco, G. Jurman. Machine learning can predict survival of patients with heart failure "
            "from serum creatinine and ejection fraction alone. BMC Med Inform Decis Mak 20, 16 (2020).",
            "T. Ahmad et al. Survival analysis of heart failure patients: a case study. PLoS ONE (2017).",
        ),
        published="random forest ROC AUC 0.800 (Chicco & Jurman 2020, unverified); note their analysis "
                  "without the follow-up time feature",
        limitations=(
            "The follow-up time column is excluded: it is known only after the outcome and would leak it.",
            "299 patients from one hospital in Pakistan; the outcome has no fixed horizon.",
        ),
    ),
    BuiltinModel(
        name="chronic-kidney-disease",
        file="chronic_kidney_disease.csv",
        target="class",
        description="Chronic kidney disease from routine blood and urine tests (Apollo Hospitals, India).",
        intended_use="Screening research: flag likely chronic kidney disease from routine test results.",
        references=(
            "L. Jerlin Rubini, P. Soundarapandian, P. Eswaran. Chronic Kidney Disease. UCI Machine "
            "Learning Repository (2015), CC BY 4.0.",
        ),
        published="near-perfect separation is commonly reported on this data (accuracy 0.97-1.00)",
        limitations=("400 patients with many missing values; cases and controls were collected "
                     "differently, which makes the task easier than real screening.",),
    ),
    BuiltinModel(
        name="diabetes-progression",
        file="diabetes_progression.csv",
        target="progression",
        description="Disease progression one year after baseline in diabetes (regression).",
        intended_use="Research: estimate a quantitative measure of disease progression one year ahead.",
        references=(
            "B. Efron, T. Hastie, I. Johnstone, R. Tibshirani. Least Angle Regression. Annals of "
            "Statistics 32(2), 2004. Data via scikit-learn (BSD-3).",
        ),
        published="R² about 0.45-0.50 for linear models (Efron et al. 2004 report similar fits)",
        limitations=("442 patients; the progression measure is study-specific.",),
    ),
)


def builtin(name: str) -> BuiltinModel:
    for model in BUILTINS:
        if model.name == name:
            return model
    raise KeyError(name)
