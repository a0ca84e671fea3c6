"""Units and meanings of the built-in datasets' columns, for the input schema in spec.json.

Keyed by the dataset's file stem, then the column: ``{"description": ..., "unit": ...}``.
"unit" is present only where the source states it (or, marked so, where the value ranges make
it certain); "description" is always present. Sources: the UCI/ARFF headers of each dataset and
the papers cited in ``medmaas/builtin/data/README.md``.

>>> BUILTIN_COLUMN_INFO["heart_failure"]["serum_creatinine"]["unit"]
'mg/dL'
>>> column_info("chronic_kidney_disease", "rbc")["description"]
'red blood cells in urine (normal/abnormal)'
"""

from __future__ import annotations

_YES_NO = "1 = yes, 0 = no"

_WDBC_MEASURES: dict[str, str] = {
    "radius": "mean of distances from the centre to points on the perimeter",
    "texture": "standard deviation of grey-scale values",
    "perimeter": "perimeter",
    "area": "area",
    "smoothness": "local variation in radius lengths",
    "compactness": "perimeter^2 / area - 1.0",
    "concavity": "severity of concave portions of the contour",
    "concave points": "number of concave portions of the contour",
    "symmetry": "symmetry",
    "fractal dimension": "'coastline approximation' - 1",
}
_WDBC_STATISTICS: dict[str, str] = {
    "mean": "mean over the cell nuclei in the image",
    "error": "standard error over the cell nuclei in the image",
    "worst": "mean of the three largest values over the cell nuclei in the image",
}


def _wdbc() -> dict[str, dict[str, str]]:
    # Features are computed from a digitised image of a fine-needle aspirate of a breast mass;
    # lengths and areas are in image units, which the source does not state.
    # Named as in scikit-learn: "mean radius", "radius error", "worst radius".
    columns = {
        (f"{measure} error" if statistic == "error" else f"{statistic} {measure}"): {
            "description": f"nucleus {what}; {how}"
        }
        for statistic, how in _WDBC_STATISTICS.items()
        for measure, what in _WDBC_MEASURES.items()
    }
    columns["diagnosis"] = {"description": "diagnosis of the breast mass: malignant or benign"}
    return columns


BUILTIN_COLUMN_INFO: dict[str, dict[str, dict[str, str]]] = {
    "breast_cancer_wdbc": _wdbc(),
    "heart_failure": {
        "age": {"description": "age of the patient", "unit": "years"},
        "anaemia": {"description": f"decrease of red blood cells or haemoglobin; {_YES_NO}"},
        "creatinine_phosphokinase": {
            "description": "level of the CPK enzyme in the blood (unit as published; CPK is "
            "usually reported in U/L)",
            "unit": "mcg/L",
        },
        "diabetes": {"description": f"the patient has diabetes; {_YES_NO}"},
        "ejection_fraction": {
            "description": "percentage of blood leaving the heart at each contraction",
            "unit": "%",
        },
        "high_blood_pressure": {"description": f"the patient has hypertension; {_YES_NO}"},
        "platelet": {"description": "platelets in the blood", "unit": "kiloplatelets/mL"},
        "serum_creatinine": {"description": "level of serum creatinine", "unit": "mg/dL"},
        "serum_sodium": {"description": "level of serum sodium", "unit": "mEq/L"},
        "sex": {"description": "1 = man, 0 = woman"},
        "smoking": {"description": f"the patient smokes; {_YES_NO}"},
        "time": {
            "description": "follow-up period; it leaks the outcome (deaths end follow-up "
            "early), so it must not be a feature of a mortality model",
            "unit": "days",
        },
        "DEATH_EVENT": {"description": f"the patient died during the follow-up; {_YES_NO}"},
    },
    "chronic_kidney_disease": {
        "age": {"description": "age", "unit": "years"},
        "bp": {"description": "blood pressure", "unit": "mm Hg"},
        "sg": {"description": "urine specific gravity (1.005, 1.010, 1.015, 1.020, 1.025)"},
        "al": {"description": "urine albumin, graded 0-5"},
        "su": {"description": "urine sugar, graded 0-5"},
        "rbc": {"description": "red blood cells in urine (normal/abnormal)"},
        "pc": {"description": "pus cells in urine (normal/abnormal)"},
        "pcc": {"description": "pus cell clumps in urine (present/notpresent)"},
        "ba": {"description": "bacteria in urine (present/notpresent)"},
        "bgr": {"description": "blood glucose, random", "unit": "mg/dL"},
        "bu": {"description": "blood urea", "unit": "mg/dL"},
        "sc": {"description": "serum creatinine", "unit": "mg/dL"},
        "sod": {"description": "sodium", "unit": "mEq/L"},
        "pot": {"description": "potassium", "unit": "mEq/L"},
        "hemo": {"description": "haemoglobin ('gms' in the source)", "unit": "g/dL"},
        "pcv": {"description": "packed cell volume (haematocrit)", "unit": "%"},
        "wbcc": {"description": "white blood cell count", "unit": "cells/mm3"},
        "rbcc": {"description": "red blood cell count", "unit": "millions/mm3"},
        "htn": {"description": "hypertension (yes/no)"},
        "dm": {"description": "diabetes mellitus (yes/no)"},
        "cad": {"description": "coronary artery disease (yes/no)"},
        "appet": {"description": "appetite (good/poor)"},
        "pe": {"description": "pedal oedema (yes/no)"},
        "ane": {"description": "anaemia (yes/no)"},
        "class": {"description": "chronic kidney disease: ckd or notckd"},
    },
    "diabetes_progression": {
        "age": {"description": "age", "unit": "years"},
        "sex": {"description": "sex, coded 1 or 2 (the source does not say which is which)"},
        "bmi": {"description": "body mass index", "unit": "kg/m2"},
        "bp": {"description": "average blood pressure", "unit": "mm Hg"},
        "s1": {
            "description": "tc, total serum cholesterol (unit inferred from the value range)",
            "unit": "mg/dL",
        },
        "s2": {
            "description": "ldl, low-density lipoproteins (unit inferred from the value range)",
            "unit": "mg/dL",
        },
        "s3": {
            "description": "hdl, high-density lipoproteins (unit inferred from the value range)",
            "unit": "mg/dL",
        },
        "s4": {"description": "tch, total cholesterol / HDL ratio"},
        "s5": {"description": "ltg, possibly the log of the serum triglycerides level"},
        "s6": {
            "description": "glu, blood sugar level (unit inferred from the value range)",
            "unit": "mg/dL",
        },
        "progression": {
            "description": "a quantitative measure of disease progression one year after baseline"
        },
    },
}


def column_info(dataset: str, column: str) -> dict[str, str]:
    """The unit/description of one built-in column, or an empty dict when none is known.

    >>> column_info("heart_failure", "time")["unit"]
    'days'
    >>> column_info("my_upload", "age")
    {}
    """
    return dict(BUILTIN_COLUMN_INFO.get(dataset, {}).get(column, {}))
