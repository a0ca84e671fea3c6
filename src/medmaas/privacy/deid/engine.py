"""Presidio, set up for clinical notes without any model download.

A trained spaCy pipeline (``en_core_web_lg``) would be a download, so the analyzer runs with
Presidio's no-op NLP engine and finds names with context and word-list recognizers instead of
a statistical NER (each reads the words around a finding itself). Overlapping findings are
resolved longest-first; each is replaced by its type tag by Presidio's anonymizer.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from medmaas._optional import optional_import
from medmaas.privacy.deid.surrogates import Surrogates

logger = logging.getLogger(__name__)

#: medmaas's identifier types; Presidio's are renamed to these (PHONE_NUMBER → PHONE, ...)
PHI_TYPES = ("NAME", "DATE", "AGE", "PHONE", "EMAIL", "URL", "IP", "SSN", "ID", "ADDRESS", "ZIP",
             "LOCATION", "ORGANIZATION")
_PERSON_OR_PLACE = frozenset({"NAME", "LOCATION"})
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


ENGLISH_ONLY = ("the text does not look like English: medmaas's de-identification rules and word lists "
                "are written for English notes, so names, places and dates in other languages may be missed; "
                "review the output before sharing it")


@dataclass
class DeidResult:
    text: str
    spans: list[PhiSpan] = field(default_factory=list)
    #: what the caller should know about this result (e.g. the note is not in English)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(span.type for span in self.spans))


@cache
def _analyzer() -> Any:
    presidio = optional_import("presidio_analyzer", "text")
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import IpRecognizer, UsSsnRecognizer

    from medmaas.privacy.deid.recognizers import default_recognizers

    class NoEnhancer(ContextAwareEnhancer):  # type: ignore[misc]
        """medmaas's recognizers read their context themselves; there are no lemmas to read."""

        def enhance_using_context(self, text: str, raw_results: list[Any], *args: Any, **kwargs: Any) -> list[Any]:
            return raw_results

    # Presidio logs "Fetching all recognizers" at INFO on every call: one line per note, which
    # floods a server's log (and a build's pipe) while de-identifying thousands of notes.
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    # Every recognizer here is self-contained: no tokenizer, tagger or NER runs before them.
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    engine.load()
    registry = presidio.RecognizerRegistry(supported_languages=["en"])
    # Presidio's PhoneRecognizer (phonenumbers, lenient) reads blood gases ("7.34/50/95/28/0")
    # and ranges as phone numbers; medmaas's patterns take the formats notes use instead.
    for recognizer in (UsSsnRecognizer(), IpRecognizer(), *default_recognizers()):
        registry.add_recognizer(recognizer)
    return presidio.AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"],
                                   context_aware_enhancer=NoEnhancer(0, 0, 0, 0))


def find_phi(text: str, *, threshold: float = 0.35) -> list[PhiSpan]:
    """The identifiers in ``text``, in order, without overlaps (the longer finding wins)."""
    from medmaas.privacy.deid.context import eponym, repeated

    results = _analyzer().analyze(text=text, language="en", score_threshold=threshold)
    spans = [PhiSpan(r.start, r.end, _PRESIDIO_NAMES.get(r.entity_type, r.entity_type), round(r.score, 3))
             for r in results]
    # "Janeway lesions", "Hoyer lift": a name before what an eponym names is medicine
    spans = [s for s in spans if s.type not in _PERSON_OR_PLACE or not eponym(text, s.start, s.end)]
    # a name or place found once in context is the same identifier wherever else it stands
    spans += [PhiSpan(*found) for found in repeated(text, [(s.start, s.end, s.type, s.score) for s in spans])]
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
    return DeidResult(text=out.text, spans=spans, warnings=[ENGLISH_ONLY] if not looks_english(text) else [])


_OTHER_LANGUAGES = ("de", "es", "fr", "it", "pt", "nl")


@lru_cache(maxsize=50_000)
def _foreign(word: str) -> bool:
    from wordfreq import zipf_frequency

    english = zipf_frequency(word, "en")
    return max(zipf_frequency(word, lang) for lang in _OTHER_LANGUAGES) > english + 1.0


def looks_english(text: str) -> bool:
    """Whether ``text`` reads as English: mostly Latin letters, and at most half of its words
    (the first 80 of three letters or more) clearly more common in German, Spanish, French,
    Italian, Portuguese or Dutch than in English. English nursing notes stay under 0.4.

    >>> looks_english("Pt seen by Dr. Healey, wife at bedside.")
    True
    >>> looks_english("Paciente ingresado por dolor torácico, su esposa llamó.")
    False
    """
    letters = [c for c in text if c.isalpha()]
    if letters and sum(ord(c) > 0x24F for c in letters) > 0.3 * len(letters):
        return False  # another script: Cyrillic, Greek, Arabic, Chinese, ...
    words = [w.lower() for w in re.findall(r"[^\W\d_]{3,}", text)][:80]
    return not words or sum(map(_foreign, words)) <= 0.5 * len(words)
