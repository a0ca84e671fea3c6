"""A check list of clinical terms that are not identifiers, in the sentences notes put them in:
de-identification must leave them alone.

Eponymous diseases, signs, scores and devices ("Parkinson's disease", "Foley catheter",
"Gram stain") look like names; drug brands, lab names, abbreviations and units look like rare
words or initials. The list is written from general clinical knowledge, separately from the
recognizers' own word lists (``medmaas.privacy.deid.vocabulary``), and holds terms those
lists do not, so the check measures how the rules generalize rather than what they were told.
Every term is written in three sentences, each as typed and in UPPER case.
"""

from __future__ import annotations

TERMS: dict[str, tuple[str, ...]] = {
    "eponym": (
        "Parkinson's disease", "Crohn's disease", "Crohn's", "Alzheimer's dementia", "Hodgkin's lymphoma",
        "non-Hodgkin lymphoma", "Bell's palsy", "Cushing's syndrome", "Addison's disease", "Graves' disease",
        "Hashimoto's thyroiditis", "Down syndrome", "Tourette syndrome", "Guillain-Barré syndrome",
        "Guillain-Barre syndrome", "Kaposi sarcoma", "Wilms tumor", "Ewing sarcoma", "Meckel's diverticulum",
        "Barrett's esophagus", "Raynaud's phenomenon", "Sjögren's syndrome", "Sjogren's syndrome",
        "Marfan syndrome", "Horner syndrome", "Homans sign", "Murphy's sign", "McBurney's point",
        "Kussmaul respirations", "Cheyne-Stokes respirations", "Babinski sign", "Glasgow Coma Scale",
        "Apgar score", "Whipple procedure", "Trendelenburg position", "Fowler's position", "Heimlich maneuver",
        "Valsalva maneuver", "Romberg test", "Kernig sign", "Brudzinski sign", "Chvostek sign",
        "Trousseau sign", "Cullen sign", "Grey Turner sign", "Virchow's node", "Osler nodes",
        "Janeway lesions", "Roth spots", "Austin Flint murmur", "Korotkoff sounds", "Wenckebach block",
        "Mobitz II block", "Brugada pattern", "Wolff-Parkinson-White syndrome", "Takotsubo cardiomyopathy",
        "Prinzmetal angina", "Dressler syndrome", "Beck's triad", "Virchow's triad", "Charcot foot",
        "Paget's disease", "Huntington's disease", "Lou Gehrig's disease", "Epley maneuver", "Allen test",
        "Tinel sign", "Phalen test", "Lachman test", "McMurray test", "Colles fracture", "Jones fracture",
        "Salter-Harris fracture", "Baker's cyst", "Dupuytren contracture", "Heberden nodes", "Bouchard nodes",
        "Bence Jones protein", "Reed-Sternberg cells", "Auer rods", "Howell-Jolly bodies", "Coombs test",
        "Kleihauer-Betke test", "Mallory-Weiss tear", "Zenker's diverticulum", "Hirschsprung disease",
        "Wernicke encephalopathy", "Korsakoff syndrome", "Creutzfeldt-Jakob disease", "Lyme disease",
        "Still's disease", "Behcet's disease", "Kawasaki disease", "Ménière's disease", "Meniere's disease",
        "von Willebrand disease", "Gilbert syndrome", "Conn syndrome", "Budd-Chiari syndrome",
        "Stevens-Johnson syndrome", "Rovsing sign", "Kehr sign", "Levine sign", "Gleason score",
        "Breslow depth", "Ranson criteria", "Child-Pugh score", "Wells score", "Braden scale",
        "Morse fall scale", "Mallampati class", "Killip class", "Duke criteria", "Light's criteria",
        "Frank-Starling curve", "Fick cardiac output", "Doppler study", "Holter monitor", "Pap smear",
        "Gram stain", "Gram-negative rods", "Ziehl-Neelsen stain", "Wright stain", "Giemsa stain",
    ),
    "device": (
        "Foley catheter", "Foley", "Swan-Ganz catheter", "Swan", "Hickman catheter", "Groshong catheter",
        "Quinton catheter", "Shiley trach", "Passy-Muir valve", "Jackson-Pratt drain", "JP drain",
        "Penrose drain", "PleurX catheter", "Sengstaken-Blakemore tube", "Miami J collar", "Philadelphia collar",
        "Bair Hugger", "Dobhoff tube", "Salem sump", "Ambu bag", "Yankauer suction", "Pigtail catheter",
        "Blake drain", "Hemovac drain", "Mediport", "PICC line", "arterial line", "Cordis introducer",
        "Impella device", "Flexi-Seal", "Optiflow", "Venturi mask", "BiPAP mask", "Trilogy ventilator",
        "Tegaderm dressing", "Mepilex dressing", "Xeroform gauze", "Kerlix wrap", "Ace wrap", "Duoderm",
        "Pneumoboots", "Posey vest", "Hoyer lift", "Stryker frame", "Roho cushion",
    ),
    "drug": (
        "Lasix", "Coumadin", "heparin", "Levophed", "vasopressin", "Zosyn", "vancomycin", "Flagyl", "Protonix",
        "Ativan", "Haldol", "propofol", "fentanyl", "Dilaudid", "morphine", "Tylenol", "Colace", "senna",
        "Dulcolax", "lactulose", "Reglan", "Zofran", "Lantus", "Humalog", "metoprolol", "Lopressor",
        "amiodarone", "diltiazem", "digoxin", "nitroglycerin", "Keppra", "Dilantin", "phenobarbital",
        "Precedex", "Versed", "Ancef", "Rocephin", "cefepime", "meropenem", "Bactrim", "Diflucan", "acyclovir",
        "Solu-Medrol", "prednisone", "albuterol", "Atrovent", "Combivent", "Spiriva", "Advair", "Plavix",
        "aspirin", "Lipitor", "Lovenox", "Xarelto", "Eliquis", "Pradaxa", "Coreg", "lisinopril", "losartan",
        "hydralazine", "Norvasc", "Cardizem", "Seroquel", "Zyprexa", "Ambien", "Benadryl", "Neurontin",
        "Lyrica", "Synthroid", "Flomax", "Aricept", "Namenda", "Sinemet", "Lexapro", "Zoloft", "Celexa",
        "Wellbutrin", "Cymbalta", "tramadol", "Percocet", "OxyContin", "Narcan", "Kayexalate", "Renvela",
        "Epogen", "Neupogen", "Cipro", "Levaquin", "Augmentin", "Keflex", "Unasyn", "Zithromax", "Tamiflu",
        "Decadron", "Mucomyst", "Pepcid", "Nexium", "Carafate", "Imdur", "Isordil", "Aldactone", "Bumex",
        "Zaroxolyn", "Diuril", "Natrecor", "Primacor", "dobutamine", "dopamine", "Neo-Synephrine",
        "epinephrine", "Cleocin", "Zyvox", "Cubicin", "Cancidas", "Vfend", "Prograf", "CellCept",
        "Remicade", "Humira", "Enbrel", "Toradol", "Motrin", "Celebrex", "Medrol", "Florinef", "DDAVP",
        "Integrilin", "Angiomax", "argatroban", "Activase", "Nimbex", "Zemuron", "Anectine", "Diprivan",
        "Ketalar", "Amidate", "Robinul", "Glucagon", "D50", "thiamine", "folic acid", "multivitamin",
        "Ensure", "Jevity", "Nepro", "Glucerna", "Promote",
    ),
    "abbreviation": (
        "NPO", "PRN", "BID", "TID", "QID", "QHS", "SOB", "CHF", "COPD", "HR", "BP", "ABG", "VBG", "CBC", "BMP",
        "CMP", "LFTs", "INR", "PTT", "BUN", "WBC", "Hgb", "Hct", "Plt", "HCO3", "Mg", "Phos", "CXR", "EKG",
        "ECG", "CT", "MRI", "TTE", "TEE", "ICU", "MICU", "SICU", "CCU", "ED", "OR", "PACU", "DNR", "DNI",
        "CMO", "HCP", "PCP", "RT", "SLP", "IV", "PO", "SQ", "IM", "NGT", "OGT", "PEG", "ETT", "IABP", "CVVH",
        "CRRT", "HD", "UOP", "I&O", "MAE", "PERRLA", "A&Ox3", "GCS", "RASS", "CAM-ICU", "NSR", "AFib", "RVR",
        "PVC", "SVT", "VT", "VF", "STEMI", "NSTEMI", "MI", "CAD", "CABG", "PCI", "DM", "HTN", "CKD", "ESRD",
        "AKI", "UTI", "DVT", "PE", "CVA", "TIA", "GI", "GU", "N/V", "BM", "OOB", "HOB", "SCDs", "FSBG",
        "SSI", "TPN", "TF", "IVF", "LR", "NS", "D5W", "PRBC", "FFP", "MRSA", "VRE", "C. diff", "ESBL",
        "PEEP", "FiO2", "SpO2", "PaO2", "PaCO2", "CPAP", "SIMV", "PSV", "RSBI", "CVP", "PCWP", "SVR", "MAP",
        "LVEF", "TR", "MR", "AS", "AKA", "BKA", "ORIF", "TKR", "THR", "EGD", "ERCP", "TIPS", "PEA", "ROSC",
        "ACLS", "CPR", "HOH", "DOE", "PND", "JVD", "RRR", "CTAB", "NTND", "BS+", "WNL", "NAD", "AAOx3",
        "s/p", "h/o", "c/o", "r/o", "w/u", "f/u", "d/c", "b/l", "LLE", "RUE", "RLL", "LUL",
    ),
    "lab": (
        "troponin", "lactate", "creatinine", "procalcitonin", "BNP", "D-dimer", "fibrinogen", "haptoglobin",
        "LDH", "ammonia", "lipase", "amylase", "TSH", "free T4", "cortisol", "HbA1c", "ferritin", "B12",
        "albumin", "prealbumin", "CRP", "ESR", "ANA", "ANCA", "blood culture", "urine culture",
        "sputum culture", "AFB smear", "C. diff toxin", "urinalysis", "CK-MB", "anti-Xa level",
        "vancomycin trough", "digoxin level", "Dilantin level", "ionized calcium", "mixed venous sat",
        "anion gap", "osmolality", "beta-hCG", "PSA", "CEA", "CA-125", "reticulocyte count", "Coombs",
    ),
    "unit": (
        "40 mg", "25 mcg", "2 g", "70 kg", "500 mL", "1 L", "20 mEq", "4.2 mmol/L", "120 mmHg", "10 cmH2O",
        "5 units/hr", "0.05 mcg/kg/min", "2 L/min", "88 bpm", "38.5 C", "95%", "75 cc/hr", "10 gtt/min",
        "1/2 NS", "PS 10/5", "PEEP 5", "AC 500x14", "7.35/45/80", "BP 120/80", "10-15 cc/hr", "3+ edema",
        "2+ pulses", "grade 3/6 murmur", "4/10 pain", "q4h", "q6h prn", "x2", "1:1 sitter",
    ),
}

SENTENCES: dict[str, tuple[str, ...]] = {
    "eponym": ("History of {t}, stable on current regimen.", "Exam notable for {t}; team aware.",
               "{t} discussed at rounds, plan unchanged."),
    "device": ("{t} in place and patent.", "Pt arrived with {t}, site clean and dry.",
               "Plan to remove {t} tomorrow if stable."),
    "drug": ("Continue {t} as ordered.", "Given {t} at 0800 with good effect.",
             "{t} held this am for low BP."),
    "abbreviation": ("Pt {t} overnight, will reassess.", "Per team, {t} to be followed.",
                     "{t} noted, see flowsheet."),
    "lab": ("{t} sent this am, pending.", "Repeat {t} in the morning.", "{t} trending down."),
    "unit": ("Received {t} IV.", "Titrated to {t} overnight.", "Now at {t}, tolerating well."),
}


def generate() -> list[tuple[str, str, int, int, str]]:
    """(category, sentence, start, end, term): each term in each of its category's sentences,
    as typed and in UPPER case; start and end give where the term stands."""
    out = []
    for category, terms in TERMS.items():
        for term in terms:
            for template in SENTENCES[category]:
                for styled in (str, str.upper):
                    before, after = template.split("{t}")
                    sentence = styled(before) + styled(term) + styled(after)
                    start = len(before)
                    out.append((category, sentence, start, start + len(term), term))
    return out


def evaluate_terms() -> dict:
    """The share of clinical terms that de-identification removes (any character of the term
    inside a found identifier), overall and per category, with the terms it removed."""
    import time
    from collections import Counter

    from medmaas.privacy.deid import find_phi

    cases = generate()
    removed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    sentences_touched = 0
    began = time.perf_counter()
    for category, sentence, start, end, _term in cases:
        spans = find_phi(sentence)
        total[category] += 1
        sentences_touched += bool(spans)
        hit = [s for s in spans if s.start < end and start < s.end]
        if hit:
            removed[category] += 1
            shown = examples.setdefault(category, [])
            if len(shown) < 20:
                shown.append(f"{sentence}  -> removed {sentence[hit[0].start:hit[0].end]!r} as {hit[0].type}")
    seconds = time.perf_counter() - began
    n = sum(total.values())
    return {
        "terms": sum(len(t) for t in TERMS.values()), "sentences": n,
        "removed": sum(removed.values()), "fraction_removed": round(sum(removed.values()) / n, 4),
        "sentences_with_any_finding": sentences_touched,
        "per_category": {c: {"sentences": total[c], "removed": removed[c],
                             "fraction_removed": round(removed[c] / total[c], 4)} for c in TERMS},
        "removed_examples": examples, "seconds": round(seconds, 2),
    }
