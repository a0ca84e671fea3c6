"""The vocabulary of the PhysioNet/CinC Challenge 2012 ICU data (Silva et al. 2012, ODC-By):
the time-varying parameters, the static descriptors recorded at 00:00, and their units.

Other sources may name other parameters (``parameters=`` when reading); these are the default
because the challenge data is the public benchmark for ICU mortality from the first 48 hours.
"""

from __future__ import annotations

#: Time-varying parameters and their units, as the challenge's files spell them.
VARIABLES: dict[str, str] = {
    "ALP": "IU/L", "ALT": "IU/L", "AST": "IU/L", "Albumin": "g/dL", "BUN": "mg/dL",
    "Bilirubin": "mg/dL", "Cholesterol": "mg/dL", "Creatinine": "mg/dL", "DiasABP": "mmHg",
    "FiO2": "fraction 0-1", "GCS": "points 3-15", "Glucose": "mg/dL", "HCO3": "mmol/L", "HCT": "%",
    "HR": "bpm", "K": "mEq/L", "Lactate": "mmol/L", "MAP": "mmHg", "MechVent": "0/1 (on ventilator)",
    "Mg": "mmol/L", "NIDiasABP": "mmHg", "NIMAP": "mmHg", "NISysABP": "mmHg", "Na": "mEq/L",
    "PaCO2": "mmHg", "PaO2": "mmHg", "Platelets": "cells/nL", "RespRate": "breaths/min",
    "SaO2": "%", "SysABP": "mmHg", "Temp": "°C", "TroponinI": "µg/L", "TroponinT": "µg/L",
    "Urine": "mL (since the last measurement)", "WBC": "cells/nL", "Weight": "kg", "pH": "",
}

#: Static descriptors: recorded once, at 00:00, before the measurements. Weight is both: its
#: first 00:00 row is the admission weight, later rows are measurements.
STATICS = ("Age", "Gender", "Height", "Weight", "ICUType")
#: Fields of a request's "statics" object, and the descriptor each one is.
STATIC_FIELDS = {"age": "Age", "gender": "Gender", "height": "Height", "weight": "Weight", "icu_type": "ICUType"}
STATIC_UNITS = {"Age": "years", "Gender": "0 female, 1 male", "Height": "cm", "Weight": "kg",
                "ICUType": "1 coronary care, 2 cardiac surgery recovery, 3 medical, 4 surgical"}
ICU_TYPES = {"ccu": 1, "csru": 2, "micu": 3, "sicu": 4}
GENDERS = {"female": 0, "f": 0, "male": 1, "m": 1}

#: Rows that name the record rather than measure the patient.
IDENTIFIERS = ("RecordID",)

#: The outcome the challenge predicts, and what its 0 and 1 mean.
TARGET = "In-hospital_death"
CLASSES = ("survived", "died")
#: The challenge marks a missing value (mostly a static descriptor) with -1.
MISSING_VALUE = -1.0
WINDOW_HOURS = 48
