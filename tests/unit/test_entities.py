"""Clinical entities: problems, medications and tests are found in any letter case, and each
carries the negation, history, hypothesis, family and section the note gives it."""

from __future__ import annotations

import json
import sys

import pytest

from medmaas.exceptions import MissingDependencyError
from medmaas.text.entities._medspacy import import_medspacy

try:
    import_medspacy()
except MissingDependencyError as exc:  # medspacy is installed by the Makefile, --no-deps
    pytest.skip(str(exc), allow_module_level=True)

from medmaas.text.entities import LABELS, ClinicalEntity, count_labels, extract_entities  # noqa: E402

_FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")
NOTE = ("No evidence of pneumonia. History of MI. Mother had breast cancer. Start metformin 500 mg. "
        "If fever, get blood cultures.")
EXPECTED = [
    ("pneumonia", "problem", {"negated"}),
    ("MI", "problem", {"historical"}),
    ("breast cancer", "problem", {"family"}),
    ("metformin", "medication", set()),
    ("fever", "problem", {"hypothetical"}),
    ("blood cultures", "test", {"hypothetical"}),
]


def _found(text: str) -> list[tuple[str, str, set[str]]]:
    return [(e.text, e.label, {f for f in _FLAGS if getattr(e, f)}) for e in extract_entities(text)]


def _one(text: str, term: str) -> ClinicalEntity:
    hits = [e for e in extract_entities(text) if e.text.lower() == term.lower()]
    assert len(hits) == 1, (term, extract_entities(text))
    return hits[0]


def test_negated_historical_family_hypothetical_in_one_note() -> None:
    assert _found(NOTE) == EXPECTED
    for e in extract_entities(NOTE):
        assert NOTE[e.start:e.end] == e.text and e.section is None


def test_upper_case_notes_give_the_same_entities() -> None:
    upper = [(text.upper(), label, flags) for text, label, flags in EXPECTED]
    assert _found(NOTE.upper()) == upper


def test_abbreviations_map_to_their_concepts() -> None:
    note = "Hx of CHF, COPD, DVT, PE, UTI, HTN and DM. On ASA and HCTZ. CXR and CBC ordered."
    concepts = {e.text: (e.label, e.concept) for e in extract_entities(note)}
    assert concepts == {
        "CHF": ("problem", "congestive heart failure"),
        "COPD": ("problem", "chronic obstructive pulmonary disease"),
        "DVT": ("problem", "deep vein thrombosis"), "PE": ("problem", "pulmonary embolism"),
        "UTI": ("problem", "urinary tract infection"), "HTN": ("problem", "hypertension"),
        "DM": ("problem", "diabetes mellitus"), "ASA": ("medication", "aspirin"),
        "HCTZ": ("medication", "hydrochlorothiazide"), "CXR": ("test", "chest x-ray"),
        "CBC": ("test", "complete blood count"),
    }


def test_longest_term_wins_and_mixed_case_matches() -> None:
    found = _found("Chest X-Ray shows Congestive Heart Failure; troponin and CT head pending.")
    assert [(t, label) for t, label, _ in found] == [
        ("Chest X-Ray", "test"), ("Congestive Heart Failure", "problem"), ("troponin", "test"),
        ("CT head", "test")]


@pytest.mark.parametrize(("text", "term", "flag"), [
    ("Patient denies chest pain or shortness of breath.", "shortness of breath", "negated"),
    ("Negative for DVT.", "DVT", "negated"),
    ("Possible pneumonia in the left base.", "pneumonia", "uncertain"),
    ("She is s/p MI in 2015.", "MI", "historical"),
    ("Return to the ED should she develop chest pain.", "chest pain", "hypothetical"),
    ("Tylenol p.r.n. pain.", "pain", "hypothetical"),
    ("Family history of colon cancer.", "colon cancer", "family"),
])
def test_context_flags(text: str, term: str, flag: str) -> None:
    entity = _one(text, term)
    assert getattr(entity, flag), entity
    assert [f for f in _FLAGS if getattr(entity, f)] == [flag], entity


def test_a_flag_ends_with_its_sentence() -> None:
    found = _found("No fever. Cough for three days.\nDenies nausea\nVomiting twice today")
    assert found == [("fever", "problem", {"negated"}), ("Cough", "problem", set()),
                     ("nausea", "problem", {"negated"}), ("Vomiting", "problem", set())]


def test_hard_wrapped_lines_keep_their_negation() -> None:
    assert _found("There is no evidence of\npneumonia or pleural effusion.") == [
        ("pneumonia", "problem", {"negated"}), ("pleural effusion", "problem", {"negated"})]


def test_sections_set_history_and_family_and_are_reported() -> None:
    note = ("CHIEF COMPLAINT: chest pain\n"
            "Past Medical History: MI, CHF\n"
            "Family History: breast cancer\n"
            "Medications:\n- metformin 500 mg\n- lisinopril\n"
            "Plan: CXR, troponin")
    found = [(e.text, e.section, {f for f in _FLAGS if getattr(e, f)}) for e in extract_entities(note)]
    assert found == [
        ("chest pain", "chief_complaint", set()),
        ("MI", "past_medical_history", {"historical"}),
        ("CHF", "past_medical_history", {"historical"}),
        ("breast cancer", "family_history", {"family"}),
        ("metformin", "medications", set()), ("lisinopril", "medications", set()),
        ("CXR", "observation_and_plan", set()), ("troponin", "observation_and_plan", set()),
    ]


def test_upper_case_sections() -> None:
    note = "PAST MEDICAL HISTORY: COPD\nFAMILY HISTORY: FATHER WITH MI\nMEDICATIONS: ALBUTEROL"
    assert [(e.text, e.section, e.historical, e.family) for e in extract_entities(note)] == [
        ("COPD", "past_medical_history", True, False), ("MI", "family_history", False, True),
        ("ALBUTEROL", "medications", False, False)]


def test_a_header_mid_line_is_not_a_section_and_pe_header_is_not_an_embolism() -> None:
    assert _one("Pt says her family history is unknown; she has asthma.", "asthma").section is None
    found = _found("PE: lungs clear, no edema.\nAssessment: PE on CTA.")
    assert found == [("edema", "problem", {"negated"}), ("PE", "problem", set()), ("CTA", "test", set())]


def test_words_that_are_abbreviations_only_in_upper_case() -> None:
    assert _found("Apply a gauze pad; hearing aids in place; sob story.") == []
    assert [t for t, _, _ in _found("PAD and SOB on exertion.")] == ["PAD", "SOB"]


def test_long_notes_keep_offsets_flags_and_sections_across_chunks() -> None:
    long_note = "\n".join([NOTE] * 40)  # ConText runs on ~120-token chunks of whole sentences
    found = extract_entities(long_note)
    assert [(e.text, e.label, {f for f in _FLAGS if getattr(e, f)}) for e in found] == EXPECTED * 40
    assert all(long_note[e.start:e.end] == e.text for e in found)
    history = "Family History:\n" + "Mother had breast cancer and CAD.\n" * 60 + "Plan:\nCBC"
    found = extract_entities(history)
    assert len(found) == 121 and all(e.family and e.section == "family_history" for e in found[:-1])
    assert (found[-1].text, found[-1].family, found[-1].section) == ("CBC", False, "observation_and_plan")


def test_run_on_text_is_cut_into_bounded_sentences() -> None:
    from medmaas.text.entities.pipeline import build
    from medmaas.text.entities.sentences import MAX_TOKENS

    nlp = build()
    doc = nlp.get_pipe("medmaas_clinical_sentences")(nlp.make_doc("no fever, " * 200))
    assert max(len(s) for s in doc.sents) <= MAX_TOKENS
    found = extract_entities("Denies fever, chills, cough, nausea, vomiting, diarrhea or dysuria.")
    assert len(found) == 7 and all(e.negated for e in found)


def test_empty_and_unmatched_notes_give_nothing() -> None:
    assert extract_entities("") == [] and extract_entities("  \n ") == []
    assert extract_entities("Patient seen and examined.") == []
    with pytest.raises(TypeError):
        extract_entities(b"fever")  # type: ignore[arg-type]


def test_entities_serialise_with_every_field_and_count_by_label() -> None:
    found = extract_entities(NOTE)
    assert set(found[0].to_dict()) == {"start", "end", "text", "label", "concept", *_FLAGS, "section"}
    json.dumps([e.to_dict() for e in found])
    assert count_labels(found) == {"problem": 4, "medication": 1, "test": 1}
    assert {e.label for e in found} <= set(LABELS)


def test_pyrush_and_quickumls_are_neither_imported_nor_left_behind() -> None:
    extract_entities(NOTE)
    assert not {"PyRuSH", "quickumls", "pysbd", "loguru"} & set(sys.modules)


def test_nothing_of_the_note_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        extract_entities("Secret-word-zebra. No evidence of pneumonia.")
    assert "zebra" not in caplog.text and "pneumonia" not in caplog.text


def test_the_rule_set_covers_common_terms_without_duplicates() -> None:
    from medmaas.text.entities.pipeline import _data

    labels = _data("targets.json")["labels"]
    terms = {label: {t.lower() for c, syn in concepts.items() for t in (c, *syn)}
             for label, concepts in labels.items()}
    assert {"mi", "chf", "copd", "dvt", "pe", "uti", "htn", "dm", "pneumonia"} <= terms["problem"]
    assert {"metformin", "insulin", "aspirin", "beta blocker", "statin", "antibiotics"} <= terms["medication"]
    assert {"cbc", "chest x-ray", "ct", "troponin", "blood cultures", "mri", "ecg"} <= terms["test"]
    assert min(len(t) for t in terms.values()) >= 250
