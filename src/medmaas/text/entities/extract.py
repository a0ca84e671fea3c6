"""Clinical entities in a note, each with its ConText flags and its section."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

_build_lock = threading.Lock()
#: how many tokens ConText sees at once (whole sentences; see pipeline.py for why)
CHUNK_TOKENS = 120


@dataclass(frozen=True)
class ClinicalEntity:
    """One mention of a problem, medication or test: where it is, what it is, and how the note
    speaks of it. ``concept`` is the preferred name of what the term names ("MI" →
    "myocardial infarction"); ``section`` is the note's section it sits in, if any
    ("family_history", "past_medical_history", "medications", ...)."""

    start: int
    end: int
    text: str
    label: str
    concept: str
    negated: bool = False
    uncertain: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    section: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _nlp() -> Any:
    from medmaas.text.entities.pipeline import build

    with _build_lock:  # two first requests at once build it once
        return build()


def extract_entities(text: str) -> list[ClinicalEntity]:
    """The problems, medications and tests mentioned in ``text``, in order, each flagged as
    negated, uncertain, historical, hypothetical or about a family member where the note
    says so. Rule-based (medspaCy's TargetMatcher, ConText and Sectionizer): nothing is
    downloaded, and nothing of the text is logged.

    >>> [(e.text, e.label, e.negated) for e in extract_entities("No evidence of pneumonia.")]  # doctest: +SKIP
    [('pneumonia', 'problem', True)]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if not text.strip():
        return []
    from spacy.tokens import Doc

    nlp = _nlp()
    doc = nlp.make_doc(text)
    for name in ("medmaas_clinical_sentences", "medspacy_sectionizer"):
        doc = nlp.get_pipe(name)(doc)
    matcher, context = nlp.get_pipe("medspacy_target_matcher"), nlp.get_pipe("medspacy_context")
    # The chunks are built from these lists: Span.as_doc() copies the whole note each time.
    words = [t.text for t in doc]
    spaces = [bool(t.whitespace_) for t in doc]
    starts = [t.is_sent_start for t in doc]
    found = []
    for first, last in _chunks(doc):
        chunk = Doc(doc.vocab, words=words[first:last], spaces=spaces[first:last],
                    sent_starts=starts[first:last])
        chunk = context(matcher(chunk))
        offset = doc[first].idx
        for ent in chunk.ents:
            section = doc[first + ent.start]._.section
            if _in_header(first + ent.start, first + ent.end, ent.label_, section):
                continue
            found.append(_entity(ent, offset, section))
    return found


def _chunks(doc: Any, max_tokens: int = CHUNK_TOKENS) -> Iterator[tuple[int, int]]:
    """Runs of whole sentences of about ``max_tokens`` tokens, as (first, last) token indices."""
    first = 0
    for sentence in doc.sents:
        if sentence.end - first > max_tokens and sentence.start > first:
            yield first, sentence.start
            first = sentence.start
    if first < len(doc):
        yield first, len(doc)


def _entity(ent: Any, offset: int, section: Any) -> ClinicalEntity:
    from medmaas.text.entities.pipeline import SECTION_FLAGS

    category = section.category if section is not None and section.category else None
    flags = {"negated": ent._.is_negated, "uncertain": ent._.is_uncertain,
             "historical": ent._.is_historical, "hypothetical": ent._.is_hypothetical,
             "family": ent._.is_family}
    if category in SECTION_FLAGS:
        flags[SECTION_FLAGS[category]] = True
    rule = ent._.target_rule
    concept = (rule.metadata or {}).get("concept", ent.text) if rule is not None else ent.text
    return ClinicalEntity(start=offset + ent.start_char, end=offset + ent.end_char, text=ent.text,
                          label=ent.label_, concept=concept, section=category,
                          **{name: bool(value) for name, value in flags.items()})


def _in_header(start: int, end: int, label: str, section: Any) -> bool:
    """A problem or medication term that is part of a section header ("PE:" for physical exam)
    names the section, not a finding; a test named in one ("MRI:", "ECHO:") was done."""
    return (section is not None and label != "test"
            and section.title_start <= start and end <= section.title_end)


def count_labels(entities: list[ClinicalEntity]) -> dict[str, int]:
    """How many entities of each label: what an audit event may hold (never the terms)."""
    return dict(Counter(e.label for e in entities))
