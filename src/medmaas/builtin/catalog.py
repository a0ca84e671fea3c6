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
    kind: str = "tabular"
    #: image .npz only: names of the integer labels 0, 1, ... and the class the probability is about
    classes: tuple[str, ...] = ()
    positive_class: str | None = None
    #: what ``train_model`` passes to the kind (an image model's epochs)
    kind_options: dict[str, object] = field(default_factory=dict)
    #: our own measurement on the public benchmark, with the command that produced it
    measured: str = ""
    #: text only: the columns that make up the note
    text_columns: tuple[str, ...] = ()
    #: the candidates compared (default: all the kind offers); keeps a first start short
    candidates: tuple[str, ...] = ()
    #: tables only: a FHIR map (builtin/data/*.fhir.json) so FHIR Bundles can be scored
    fhir_map: str = ""

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
        fhir_map="heart_failure.fhir.json",
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
            "From FHIR, anaemia, diabetes and high blood pressure are read as active Conditions (SNOMED); the "
            "study recorded them at enrolment by its own definitions (anaemia: haematocrit below 36%). Ejection "
            "fraction and CPK are rarely in a FHIR record and are then imputed.",
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


MEDMNIST_CITATION = (
    "J. Yang, R. Shi, D. Wei, Z. Liu, L. Zhao, B. Ke, H. Pfister, B. Ni. MedMNIST v2 - A large-scale "
    "lightweight benchmark for 2D and 3D biomedical image classification. Scientific Data 10, 41 "
    "(2023). CC BY 4.0."
)
# Image models come after the tables: the tables are ready within a minute of the first start,
# the CNNs take minutes each on a CPU.
BUILTINS += (
    BuiltinModel(
        name="breast-ultrasound-malignancy",
        file="breastmnist.npz",
        target="finding",
        kind="image",
        classes=("malignant", "normal-or-benign"),
        positive_class="malignant",
        kind_options={"epochs": 40, "members": 3},
        description="Malignant vs normal or benign breast ultrasound image (BreastMNIST, 28x28).",
        intended_use=(
            "Research on decision support in breast ultrasound: estimate the probability that a "
            "lesion is malignant from one grey-scale image, with a heat map of the regions that "
            "drove the estimate."
        ),
        references=(
            "W. Al-Dhabyani, M. Gomaa, H. Khaled, A. Fahmy. Dataset of breast ultrasound images. "
            "Data in Brief 28, 104863 (2020).",
            MEDMNIST_CITATION,
        ),
        published="MedMNIST v2 best published: AUC 0.919 (Google AutoML Vision), accuracy 0.863 "
                  "(ResNet-18 at 28x28)",
        measured="official test split, seeds 0-2: AUROC 0.922 ± 0.005, accuracy at 0.5 0.885 ± 0.006; "
                 "int8 AUROC 0.923 ± 0.003 (python -m benchmarks.imaging.run, 2026-11-22)",
        limitations=(
            "780 images from one hospital in Cairo (2018), women aged 25-75, one ultrasound system "
            "family; images are down-sampled to 28x28, which loses fine texture.",
            "The official test split has 156 images: confidence intervals are wide.",
        ),
    ),
    BuiltinModel(
        name="chest-xray-pneumonia",
        file="pneumoniamnist_trainsubsampled.npz",
        target="finding",
        kind="image",
        classes=("normal", "pneumonia"),
        positive_class="pneumonia",
        kind_options={"epochs": 20},
        description="Pneumonia vs normal paediatric chest X-ray (PneumoniaMNIST, 28x28).",
        intended_use=(
            "Research on triage support for paediatric chest radiographs: estimate the probability "
            "of pneumonia from one frontal image, with a heat map of the regions that drove it."
        ),
        references=(
            "D. S. Kermany et al. Identifying medical diagnoses and treatable diseases by "
            "image-based deep learning. Cell 172(5), 1122-1131 (2018).",
            MEDMNIST_CITATION,
        ),
        published="MedMNIST v2 ResNet-18 (28x28): AUC 0.944, accuracy 0.854 (full train split); "
                  "best published AUC 0.991 (AutoML Vision)",
        measured="official test split, seeds 0-2: AUROC 0.973 ± 0.004, accuracy at 0.5 0.918 ± 0.012; "
                 "int8 AUROC 0.973 ± 0.004 (python -m benchmarks.imaging.run, 2026-11-22)",
        limitations=(
            "Children aged 1-5 from one centre in Guangzhou; not validated on adults.",
            "Trained on a subsample of the official train split (3,882 images) so that it trains "
            "at first start on a CPU; images are down-sampled to 28x28.",
        ),
    ),
)

# The text model trains last: it fine-tunes a transformer (several minutes on a CPU).
BUILTINS += (
    BuiltinModel(
        name="ecg-arrhythmia-beats",
        file="mitdb_44records_10min_mlii.tar.xz",
        target="beat_class",
        kind="signal",
        candidates=("cnn", "gradient-boosting"),
        kind_options={"split": "ds1-ds2", "epochs": 15},
        description="Heartbeat classes (AAMI N, S, V, F) with a rhythm summary, from a whole ECG recording "
                    "(MIT-BIH lead MLII).",
        intended_use=(
            "Decision support for reviewing ambulatory or bedside ECG recordings: label every beat as "
            "normal (N), supraventricular ectopic (S), ventricular ectopic (V) or fusion (F), summarise "
            "ectopic burden and runs, and show which part of a beat drove its label. A cardiologist "
            "reviews every recording."
        ),
        references=(
            "G.B. Moody, R.G. Mark. The impact of the MIT-BIH Arrhythmia Database. IEEE Eng Med Biol "
            "20(3):45-50 (2001). PhysioNet, ODC-By 1.0.",
            "P. de Chazal, M. O'Dwyer, R.B. Reilly. Automatic classification of heartbeats using ECG "
            "morphology and heartbeat interval features. IEEE Trans Biomed Eng 51(7):1196-1206 (2004).",
            "M. Kachuee, S. Fazeli, M. Sarrafzadeh. ECG Heartbeat Classification: A Deep Transferable "
            "Representation. IEEE ICHI 2018.",
        ),
        published="inter-patient (DS1 -> DS2): de Chazal et al. 2004, linear discriminants on RR and "
                  "morphology features, sensitivity N 0.87 / S 0.76 / V 0.78 / F 0.89, PPV S 0.38 / V 0.82; "
                  "intra-patient: Kachuee et al. 2018, 93.4% average accuracy",
        measured="full MIT-BIH, 1D CNN: intra-patient accuracy 0.992, macro-F1 0.945; inter-patient DS1 -> DS2 "
                 "accuracy 0.848, sensitivity N 0.85 / S 0.83 / V 0.92 / F 0.47, PPV 0.99 / 0.61 / 0.60 / 0.04 "
                 "(python -m benchmarks.signals.ecg --epochs 10, 2026-11-22). This built-in model learns from "
                 "10-minute excerpts only; its S sensitivity on new patients is far lower (see its evaluation)",
        limitations=(
            "Trained on 10-minute excerpts of 22 patients' lead MLII (MIT-BIH DS1, Boston, 1975-79); other "
            "leads, devices and populations will differ. Paced rhythms (class Q) are not covered.",
            "Beats are found by NeuroKit2's R-peak detector: beats it misses are not labelled, and very "
            "noisy stretches can produce false beats.",
            "Supraventricular ectopic (S) and fusion (F) beats of new patients are mostly missed: on the 22 "
            "held-out patients this model found under 10% of them (2026-11-22 build). Do not rely on it to "
            "rule out S or F ectopy; its N and V labels are the useful part.",
        ),
    ),
    BuiltinModel(
        name="icu-mortality-48h",
        file="physionet2012_set-a.tar.gz",
        target="In-hospital_death",
        kind="timeseries",
        kind_options={"epochs": 20},
        description="In-hospital death of an ICU patient from the vital signs and laboratory results of the "
                    "first 48 hours (PhysioNet/CinC Challenge 2012, set A).",
        intended_use=(
            "Research and decision support in adult intensive care: estimate the risk of in-hospital death "
            "from the irregularly sampled measurements of a stay's first 48 hours, with the variables and "
            "hours that drove it. A clinician reviews every output; it is not a triage tool."
        ),
        references=(
            "I. Silva, G. Moody, D.J. Scott, L.A. Celi, R.G. Mark. Predicting In-Hospital Mortality of ICU "
            "Patients: The PhysioNet/Computing in Cardiology Challenge 2012. Comput Cardiol 39:245-248 "
            "(2012). PhysioNet, ODC-By 1.0.",
            "Z. Che, S. Purushotham, K. Cho, D. Sontag, Y. Liu. Recurrent Neural Networks for Multivariate "
            "Time Series with Missing Values. Scientific Reports 8:6085 (2018).",
        ),
        published="GRU-D AUROC 0.842 (Che et al. 2018, set A); challenge winner min(Se, PPV) 0.535 on the "
                  "hidden set C (Johnson et al. 2012); SAPS-I AUROC 0.650 on set A (our measurement)",
        measured="5-fold CV on set A (4,000 stays): GRU + gradient-boosting ensemble AUROC 0.850 "
                 "(0.834-0.865), AUPRC 0.504, min(Se, PPV) 0.486; GRU alone 0.831, boosting alone 0.844, "
                 "SAPS-I 0.650 (python -m benchmarks.signals.icu, 2026-11-22)",
        limitations=(
            "Trained on 4,000 adult ICU stays of one Boston hospital (MIMIC-II, 2001-2008): coronary care, "
            "cardiac surgery recovery, medical and surgical ICUs. Other hospitals chart and measure differently.",
            "Uses only the first 48 hours; measurements after 48 h are ignored. Risks are calibrated to this "
            "cohort's 13.9% mortality.",
        ),
    ),
    BuiltinModel(
        name="drug-review-side-effects",
        file="druglib_reviews.tsv",
        target="sideEffects",
        kind="text",
        text_columns=("sideEffectsReview",),
        classes=("No Side Effects", "Mild Side Effects", "Moderate Side Effects", "Severe Side Effects",
                 "Extremely Severe Side Effects"),
        kind_options={"epochs": 4, "max_tokens": 256},
        description="Severity of a drug's side effects (five levels) from a patient's own account of them "
                    "(Druglib.com reviews).",
        intended_use=(
            "Research on pharmacovigilance from patient-reported text: grade how severe the side "
            "effects described in a free-text account are, with the words that drove the grade."
        ),
        references=(
            "F. Gräßer, S. Kallumadi, H. Malberg, S. Zaunseder. Aspect-Based Sentiment Analysis of Drug "
            "Reviews Applying Cross-Domain and Cross-Data Learning. DH '18, 121-125 (2018). "
            "UCI Machine Learning Repository (CC BY 4.0).",
            "N. Reimers, I. Gurevych. Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks. "
            "EMNLP 2019 (all-MiniLM-L6-v2, Apache-2.0).",
        ),
        measured="80/20 hold-out, seeds 0-2: fine-tuned MiniLM macro-F1 0.555 ± 0.030 vs TF-IDF + logistic "
                 "regression 0.499 ± 0.008 (MiniLM ahead on every seed); int8 ONNX 5.3-5.6x faster than PyTorch "
                 "at batch 1, macro-F1 drop 0.003-0.013 (python -m benchmarks.text.run --seeds 0 1 2, 2026-11-22)",
        published="no published five-level result from the side-effect text alone that we could verify; "
                  "the data set's authors grade side effects in three collapsed classes. The comparison "
                  "that matters here is the TF-IDF + logistic regression baseline on the same hold-out",
        limitations=(
            "Reviews written by patients on one US website (2000s), in English; labels are the "
            "reviewer's own grading, which is subjective and only partly explained by the text.",
            "Adjacent severity levels are often confused: read the probabilities and the prediction "
            "set, not only the top class.",
        ),
    ),
)


def builtin(name: str) -> BuiltinModel:
    for model in BUILTINS:
        if model.name == name:
            return model
    raise KeyError(name)
