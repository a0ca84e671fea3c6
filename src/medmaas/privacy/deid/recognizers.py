"""The recognizers medmaas adds to Presidio for clinical notes.

Presidio's own recognizers cover US SSNs and IP addresses (its phone recognizer is not used:
it reads blood gases as phone numbers). What clinical notes need beyond them is mostly *where* an identifier sits: a name
after "Dr." or "wife", a number after "MRN", a ZIP after a state. ``GroupRecognizer`` finds a
regular expression and reports only its ``phi`` group, so the context word itself stays.
Every pattern is case-insensitive unless it says otherwise: nursing notes are often typed in
capitals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

from medmaas.privacy.deid import lexicon

FLAGS = re.IGNORECASE | re.MULTILINE


class GroupRecognizer(lexicon.ReadyRecognizer):
    """Report the ``phi`` group of each match (the whole match without one) as ``entity``,
    where ``accept`` (if given) agrees that the found text is an identifier."""

    def __init__(self, entity: str, patterns: Sequence[str], score: float = 0.85, *,
                 flags: int = FLAGS, accept: Callable[[str], bool] | None = None,
                 refine: Callable[[str], tuple[int, int] | None] | None = None,
                 veto_before: str | None = None, name: str = "") -> None:
        self.regexes = [re.compile(p, flags) for p in patterns]
        self.score = score
        self.accept = accept
        #: narrows a found text to the identifier inside it (relative start, end), or None
        self.refine = refine
        #: a finding right after this (within 16 characters) is not one: "PEEP 5/5" is no date
        self.veto_before = re.compile(veto_before + r"\W*$", FLAGS) if veto_before else None
        super().__init__(supported_entities=[entity], name=name or f"medmaas {entity.lower()}",
                         supported_language="en")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        entity = self.supported_entities[0]
        found = []
        for regex in self.regexes:
            for match in regex.finditer(text):
                group = "phi" if "phi" in regex.groupindex else 0
                start, end = match.span(group)
                if start < 0 or start == end:
                    continue
                if self.refine is not None:
                    inner = self.refine(text[start:end])
                    if inner is None:
                        continue
                    start, end = start + inner[0], start + inner[1]
                if self.accept is not None and not self.accept(text[start:end]):
                    continue
                if self.veto_before is not None and self.veto_before.search(text[max(0, start - 16):start]):
                    continue
                found.append(RecognizerResult(entity_type=entity, start=start, end=end, score=self.score))
        return found


# Ventilator settings and measurements written like dates: "PS 10/5", "CPAP 5/5", "BP 12/5".
MEASURED_BEFORE = (r"\b(?:peep|ps|psv|cpap|bipap|imv|simv|ac|vent|rate|tv|vt|fio2|bp|abg|vbg|"
                   r"settings?|ratio|x|of|at)")

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"

DATE_PATTERNS = (
    # 7/22, 07/22/2009, 7-22-09: month first, as US notes write them (120/80 is not a date);
    # with hyphens only when a year follows: "10-15" is a range
    r"(?<![\d/.-])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?:/(?:\d{4}|\d{2}))?(?![\d/-])",
    r"(?<![\d/.-])(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])-(?:\d{4}|\d{2})(?![\d/-])",
    r"\b\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b",  # ISO 2009-07-22
    rf"\b{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?\b",  # July 22, 2009
    rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?\b",  # 22nd of July
)

# Titles are followed by a name whatever the word; weaker context words ("wife", "called",
# "pt") only where the word is also a census name (lexicon.could_be_name): "pt is" is not.
_TITLE = r"dr|doctor|mr|mrs|ms|miss"
_NAME_BEFORE = (r"nurse|np|rn|md|attending|resident|intern|pt|patient|wife|husband|spouse|son|"
                r"daughter|dtr|brother|sister|mother|mom|father|dad|friend|niece|nephew|aunt|uncle|"
                r"grandson|granddaughter|fiance|partner|neighbor|called|paged|notified|spoke with|"
                r"seen by|per|by")
_NAME = r"[a-z][a-z'\-]+"
TITLED_NAME_PATTERNS = (
    rf"\b(?:{_TITLE})\.?\s+(?P<phi>{_NAME}\s+{_NAME})",
    rf"\b(?:{_TITLE})\.?\s+(?P<phi>{_NAME})",
)
NAME_PATTERNS = (
    rf"\b(?:{_NAME_BEFORE})\.?\s*,?\s+(?P<phi>{_NAME}\s+{_NAME})",
    rf"\b(?:{_NAME_BEFORE})\.?\s*,?\s+(?P<phi>{_NAME})",
    rf"(?P<phi>{_NAME}),?\s+(?:rn|md|np|pa-c|phd|lpn|cna)\b",
)

AGE_PATTERNS = (  # ages over 89 only: younger ages are not Safe Harbor identifiers
    r"\b(?P<phi>(?:9\d|1[0-4]\d))\s*(?:-\s*)?(?:yo|y/o|y\.o\.?|yr?s?\.?\s*old|year[- ]old|years?\s+old|"
    r"years?\s+of\s+age)\b",
    r"\bage[d]?\s*:?\s*(?P<phi>(?:9\d|1[0-4]\d))\b",
)

_ID_CONTEXT = (r"mrn|medical\s+record(?:\s+(?:number|no\.?|#))?|record\s*(?:#|no\.?|number)|"
               r"acct|account(?:\s+(?:number|no\.?|#))?|health\s+plan(?:\s+(?:number|id|#))?|"
               r"member\s+id|policy(?:\s+(?:number|no\.?|#))?|licen[cs]e(?:\s+(?:number|no\.?|#))?|"
               r"dea(?:\s+#)?|npi|serial(?:\s+(?:number|no\.?|#))?|device\s+id|vin|plate|unit\s+no\.?")
ID_PATTERNS = (rf"\b(?:{_ID_CONTEXT})\s*[:#]?\s*(?P<phi>[a-z]{{0,3}}[-\d][\d\-]{{3,}}[a-z\d]*)\b",)

EMAIL_PATTERNS = (r"\b[\w.%+-]+@[a-z\d.-]+\.[a-z]{2,}\b",)
URL_PATTERNS = (r"\b(?:https?://|www\.)[^\s<>\"')]+", r"\b[a-z\d-]+\.(?:com|org|net|edu|gov)(?:/[^\s<>\"')]*)?\b")
PHONE_PATTERNS = (
    r"(?<!\d)(?:\(\d{3}\)\s*|\d{3}[-.\s])\d{3}[-.]\d{4}(?!\d)",  # (617) 555-0199, 617-555-0199
    r"(?<![\d/.-])\d{3}-\d{4}(?![\d-])",  # 555-0199: the local numbers of a hospital's notes
    r"\b(?:x|ext\.?|pager|beeper|pgr|fax)\s*#?\s*(?P<phi>\d[\d-]{3,})\b",
)
ZIP_PATTERNS = (
    rf"\b(?:{lexicon.STATE_PATTERN})\.?,?\s+(?P<phi>\d{{5}}(?:-\d{{4}})?)\b",
    r"\bzip(?:\s*code)?\s*:?\s*(?P<phi>\d{5}(?:-\d{4})?)\b",
)
_STREET_KINDS = ("Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Lane", "Ln",
                 "Drive", "Dr", "Court", "Ct", "Way", "Place", "Pl", "Terrace", "Parkway", "Pkwy",
                 "Highway", "Hwy", "Circle", "Square", "Sq")
_STREET_KIND = "|".join([*_STREET_KINDS, *(k.upper() for k in _STREET_KINDS)])
STREET_PATTERNS = (  # case as written: "12 Oak Street", "12 OAK ST"; "3 way foley in place" is not
    rf"\b\d{{1,6}}\s+(?:[A-Z][A-Za-z.']*\s+){{1,3}}(?:{_STREET_KIND})\b\.?",
    # lower-case notes: only the street kinds written out that no clinical phrase ends with
    r"\b\d{1,6}\s+(?:[a-z][a-z.']*\s+){1,2}(?:street|avenue|road|boulevard|lane|drive|court|terrace|parkway)\b",
    r"\b[Pp]\.?\s*[Oo]\.?\s+[Bb][Oo][Xx]\s+\d+\b",
)
ORGANIZATION_PATTERNS = (
    # one or two capitalised words before the kind of place: "Calvert Hospital", "SACRED HEART REHAB"
    r"\b(?P<phi>(?:st\.?\s+|saint\s+)?(?:[a-z][a-z'.&-]+\s+){1,2}(?:hospital|medical\s+center|med\s+ctr|"
    r"health\s+center|clinic|nursing\s+home|rehab(?:ilitation)?\s+(?:center|hospital)|"
    r"infirmary|hospice|healthcare|health\s+care))\b",
)
# "St. Mary's", case as written: upper-case "ST" is the ECG's ST segment
SAINT_PATTERNS = (r"\b(?P<phi>(?:St\.|Saint|ST\.)\s+[A-Z][a-zA-Z]+(?:'[sS])?)",)


def default_recognizers() -> list[EntityRecognizer]:
    """medmaas's recognizers, one per identifier type; Presidio's own are added by the engine."""
    return [
        GroupRecognizer("DATE", DATE_PATTERNS, 0.6, accept=lexicon.plausible_date, veto_before=MEASURED_BEFORE),
        GroupRecognizer("NAME", TITLED_NAME_PATTERNS, 0.8, accept=lexicon.could_follow_title,
                        name="medmaas name after a title"),
        GroupRecognizer("NAME", NAME_PATTERNS, 0.7, accept=lexicon.could_be_name, name="medmaas name in context"),
        lexicon.NameListRecognizer(),
        lexicon.RareNameRecognizer(),
        GroupRecognizer("AGE", AGE_PATTERNS, 0.9),
        GroupRecognizer("ID", ID_PATTERNS, 0.9),
        GroupRecognizer("EMAIL", EMAIL_PATTERNS, 0.95),
        GroupRecognizer("URL", URL_PATTERNS, 0.8),
        GroupRecognizer("PHONE", PHONE_PATTERNS, 0.7),
        GroupRecognizer("ZIP", ZIP_PATTERNS, 0.8),
        GroupRecognizer("ADDRESS", STREET_PATTERNS, 0.8, flags=re.MULTILINE),
        GroupRecognizer("ORGANIZATION", ORGANIZATION_PATTERNS, 0.7, refine=lexicon.organization_name),
        GroupRecognizer("ORGANIZATION", SAINT_PATTERNS, 0.7, flags=re.MULTILINE,
                        accept=lambda t: lexicon.could_follow_title(t.split(None, 1)[1])),
        # above the name recognizers' scores: "Baltimore, MD" is a place, not "a name before MD"
        lexicon.PlaceRecognizer(0.75),
    ]
