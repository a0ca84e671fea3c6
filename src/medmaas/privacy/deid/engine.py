"""Presidio, set up for clinical notes without any model download.

Presidio's analyzer wants a spaCy pipeline; a trained one (``en_core_web_lg``) would be a
download, so the engine runs on ``spacy.blank("en")`` (a tokenizer only) and finds names with
context and word-list recognizers instead of a statistical NER. Overlapping findings are
resolved longest-first; each is replaced by its type tag by Presidio's anonymizer.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from medmaas._optional import optional_import
from medmaas.privacy.deid.surrogates import Surrogates

logger = logging.getLogger(__name__)

#: medmaas's identifier types; Presidio's are renamed to these (PHONE_NUMBER → PHONE, ...)
PHI_TYPES = ("NAME", "DATE", "AGE", "PHONE", "EMAIL", "URL", "IP", "SSN", "ID", "ADDRESS", "ZIP",
             "LOCATION", "ORGANIZATION")
_PRESIDIO_NAMES = {"PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL", "IP_ADDRESS": "IP",
                   "US_SSN": "SSN"}


@dataclass(frozen=True)
class PhiSpan:
    """One identifier found: where it is and what it is (never the text itself, so a span
    can be logged or returned without carrying the identifier)."""

    start: int
    end: int
    type: str
    score: float


@dataclass
class DeidResult:
    text: str
    spans: list[PhiSpan] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(span.type for span in self.spans))


@cache
def _analyzer() -> Any:
    presidio = optional_import("presidio_analyzer", "text")
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import IpRecognizer, UsSsnRecognizer

    from medmaas.privacy.deid.recognizers import default_recognizers

    class BlankSpacyEngine(SpacyNlpEngine):  # type: ignore[misc]
        """spaCy's English tokenizer, no statistical model: nothing to download."""

        def load(self) -> None:
            import spacy

            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacyEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = presidio.RecognizerRegistry(supported_languages=["en"])
    # Presidio's PhoneRecognizer (phonenumbers, lenient) reads blood gases ("7.34/50/95/28/0")
    # and ranges as phone numbers; medmaas's patterns take the formats notes use instead.
    for recognizer in (UsSsnRecognizer(), IpRecognizer(), *default_recognizers()):
        registry.add_recognizer(recognizer)
    return presidio.AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])


def find_phi(text: str, *, threshold: float = 0.35) -> list[PhiSpan]:
    """The identifiers in ``text``, in order, without overlaps (the longer finding wins)."""
    results = _analyzer().analyze(text=text, language="en", score_threshold=threshold)
    spans = [PhiSpan(r.start, r.end, _PRESIDIO_NAMES.get(r.entity_type, r.entity_type), round(r.score, 3))
             for r in results]
    spans.sort(key=lambda s: (s.start, -(s.end - s.start), -s.score))
    kept: list[PhiSpan] = []
    for span in spans:
        if kept and span.start < kept[-1].end:
            continue  # inside (or overlapping) a longer finding that starts earlier
        kept.append(span)
    return kept


@cache
def _anonymizer() -> Any:
    return optional_import("presidio_anonymizer", "text").AnonymizerEngine()


def deidentify(text: str, *, threshold: float = 0.35, surrogates: Surrogates | None = None) -> DeidResult:
    """``text`` with every identifier replaced by its type tag (``<NAME>``, ``<DATE>``, ...),
    or, with ``surrogates``, by a realistic stand-in that is the same for the same person
    and moves every date of the patient by the same number of days."""
    from presidio_analyzer import RecognizerResult
    from presidio_anonymizer.entities import OperatorConfig

    spans = find_phi(text, threshold=threshold)
    results = [RecognizerResult(s.type, s.start, s.end, s.score) for s in spans]
    if surrogates is None:
        operators = {t: OperatorConfig("replace", {"new_value": f"<{t}>"}) for t in {s.type for s in spans}}
    else:
        operators = {t: OperatorConfig("custom", {"lambda": lambda found, _t=t: surrogates.replace(_t, found)})
                     for t in {s.type for s in spans}}
    out = _anonymizer().anonymize(text=text, analyzer_results=results, operators=operators)
    return DeidResult(text=out.text, spans=spans)
