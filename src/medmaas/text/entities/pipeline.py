"""The spaCy pipeline behind :func:`medmaas.text.entities.extract_entities`.

    blank English tokenizer                      (no statistical model, nothing to download)
    → medmaas_clinical_sentences   sentences.py: at . ! ? ; and at line breaks that are not
                                   hard wraps inside a sentence
    → medspacy_sectionizer         section headers at line starts; a header is its own sentence
    → medspacy_target_matcher      problems, medications, tests from ``data/targets.json``
    → medspacy_context             ConText: negated, uncertain, historical, hypothetical, family

``extract_entities`` runs the first two over the whole note and the last two chunk by chunk
(whole sentences, a hundred tokens or so at a time): both are quadratic in the entities of the
document they are given, which on a long note took seconds. Nothing here logs: the text of a
note never leaves the function that was given it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from medmaas.exceptions import InvalidInputError

LABELS = ("problem", "medication", "test")

#: the flag a whole section sets on the entities in it (medspaCy's defaults, less "allergy →
#: hypothetical": a drug in an allergy list is not a hypothetical one)
SECTION_FLAGS = {
    "past_medical_history": "historical",
    "family_history": "family",
    "patient_instructions": "hypothetical",
    "patient_education": "hypothetical",
}


def _data(name: str) -> dict[str, Any]:
    return json.loads(files("medmaas.text.entities").joinpath("data", name).read_text(encoding="utf-8"))


def target_rules(nlp: Any) -> list[Any]:
    """medspaCy TargetRules for every term in ``data/targets.json``; the concept rides along in
    each rule's metadata."""
    from medspacy.target_matcher import TargetRule

    data = _data("targets.json")
    match_case = set(data.get("match_case", []))
    rules: list[Any] = []
    seen: dict[str, str] = {}  # term → where it was first listed
    for label, concepts in data["labels"].items():
        if label not in LABELS:
            raise InvalidInputError(f"targets.json: label must be one of {', '.join(LABELS)}; got {label!r}")
        for concept, synonyms in concepts.items():
            for term in (concept, *synonyms):
                key = term if term in match_case else term.lower()
                if key in seen:
                    raise InvalidInputError(f"targets.json: term {term!r} is listed twice "
                                            f"({seen[key]} and {label}/{concept})")
                seen[key] = f"{label}/{concept}"
                pattern = None
                if term in match_case:
                    pattern = [{"ORTH": {"IN": sorted({t.text, t.text.upper()})}} for t in nlp.make_doc(term)]
                rules.append(TargetRule(term, label, pattern=pattern, metadata={"concept": concept}))
    return rules


def section_rules() -> list[Any]:
    """medspaCy's default English section headers, changed as ``data/section_rules.json`` says."""
    import medspacy
    from medspacy.section_detection import SectionRule

    # medspaCy installs its rule files beside its package, in site-packages/resources/.
    defaults = Path(medspacy.__file__).resolve().parents[1] / "resources" / "en" / "section_patterns.json"
    changes = _data("section_rules.json")
    drop = set(changes["drop"])
    kept = [rule for rule in SectionRule.from_json(str(defaults)) if rule.literal not in drop]
    return kept + [SectionRule.from_dict(rule) for rule in changes["section_rules"]]


@cache
def build() -> Any:
    """The pipeline, built once per process (under a second, once spaCy is imported)."""
    from medmaas.text.entities._medspacy import import_medspacy

    import_medspacy()
    import spacy
    from medspacy.context import ConTextRule
    from spacy.language import Language

    from medmaas.text.entities.sentences import clinical_sentences

    if "medmaas_clinical_sentences" not in Language.factories:
        Language.component("medmaas_clinical_sentences", func=clinical_sentences)
    nlp: Any = spacy.blank("en")
    nlp.add_pipe("medmaas_clinical_sentences")
    # Sections before targets: extract_entities applies SECTION_FLAGS itself, chunk by chunk.
    nlp.add_pipe("medspacy_sectionizer", config={
        "rules": None, "require_start_line": True, "apply_sentence_boundary": True, "span_attrs": None,
    }).add(section_rules())
    nlp.add_pipe("medspacy_target_matcher").add(target_rules(nlp))
    context = nlp.add_pipe("medspacy_context")
    context.add([ConTextRule.from_dict(rule) for rule in _data("context_rules.json")["context_rules"]])
    return nlp
