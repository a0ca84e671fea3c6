"""The recognizers medmaas adds to Presidio for clinical notes.

Presidio's own recognizers cover US SSNs and IP addresses (its phone recognizer is not used:
it reads blood gases as phone numbers). What clinical notes need beyond them is mostly *where*
an identifier sits: a number after "MRN", a ZIP after a state, a date not after "PEEP".
``GroupRecognizer`` finds a regular expression and reports only its ``phi`` group, so the
context word itself stays. Names and places in context are in ``names`` and ``places``. Every
pattern is case-insensitive unless it says otherwise: nursing notes are often typed in capitals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

from medmaas.privacy.deid import context, lexicon, names, places

FLAGS = re.IGNORECASE | re.MULTILINE


class GroupRecognizer(lexicon.ReadyRecognizer):
    """Report the ``phi`` group of each match (the whole match without one) as ``entity``,
    where ``accept`` (if given) agrees that the found text is an identifier."""

    def __init__(self, entity: str, patterns: Sequence[str], score: float = 0.85, *,
                 flags: int = FLAGS, accept: Callable[[str], bool] | None = None,
                 veto_before: str | None = None, veto_after: str | None = None, name: str = "") -> None:
        self.regexes = [re.compile(p, flags) for p in patterns]
        self.score = score
        self.accept = accept
        #: a finding right after this (within 24 characters) is not one: "PEEP 5/5" is no date
        self.veto_before = re.compile(r"(?:" + veto_before + r")\W*$", FLAGS) if veto_before else None
        #: nor one right before this: "5/10 pain", "1/2 NS"
        self.veto_after = re.compile(veto_after, FLAGS) if veto_after else None
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
                if self.accept is not None and not self.accept(text[start:end]):
                    continue
                if self.veto_before is not None and self.veto_before.search(text[max(0, start - 24):start]):
                    continue
                if self.veto_after is not None and self.veto_after.match(text, end):
                    continue
                found.append(RecognizerResult(entity_type=entity, start=start, end=end, score=self.score))
        return found


# Ventilator settings, pain scores, murmurs and cardiac output written like dates: "PS 10/5",
# "CPAP 5/5", "c/o 4/10 pain", "+3/6 SEM", "CO/CI 5/3", "AC 500x12/5".
MEASURED_BEFORE = (r"\b(?:peep|ps|psv|ips|ipap|epap|cpap|bipap|bi-pap|imv|simv|ac|a/c|vent|ventilation|"
                   r"rate|tv|vt|fio2|bp|abg|vbg|settings?|ratio|of|at|c/o|pain|cp|discomfort|co/ci(?:/svr)?|"
                   r"ci|co|flow-?by|mask|trial|weaning|wean(?:ed)?\s+to|(?:increased|decreased|changed|"
                   r"back|over)\s+to|sem|murmur|grade|rated|rates|scale|score|level|strength|"
                   r"abd|pressures?|sats?)|[+#]|\dx")
MEASURED_AFTER = (r"[ \t]*(?:%|ns\b|normal|strength|tabs?\b|of\b|cups?\b|amps?\b|dose|units?\b|ml\b|cc\b|"
                  r"mg\b|hrs?\b|x\b|liters?|bottles?|bags?|cans?|portion|pain|cp\b|discomfort|scale|"
                  r"peep|ips|psv|ps\b|cpap|bipap|sem\b|murmur|hsm|systolic|ratio|mmhg|cmh2o|\.\d)")

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
# a number's own left edge: not inside another number, a ratio or a range ("-9/2/92" after a
# word is a date; "10-15" and "120/80" are not)
_LEFT = r"(?<![\d/.])(?<!\d-)"
_RIGHT = r"(?![\d/])(?!-\d)"

DATE_PATTERNS = (
    # 7/22, 07/22/2009, 7-22-09: month first, as US notes write them (120/80 is not a date);
    # with hyphens only when a year follows: "10-15" is a range
    rf"{_LEFT}(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?:/(?:\d{{4}}|\d{{2}}))?{_RIGHT}",
    rf"{_LEFT}(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])-(?:\d{{4}}|\d{{2}}){_RIGHT}",
    rf"{_LEFT}(?:0?[1-9]|1[0-2])/(?:3[2-9]|[4-9]\d){_RIGHT}",  # 8/87: month and year of a history
    r"\b\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b",  # ISO 2009-07-22
    rf"\b{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?\b",  # July 22, 2009
    rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?\b",  # 22nd of July
    # "on 7-8": a month-day with a hyphen, only after "on" and before no unit
    r"\bon\s+(?P<phi>(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01]))(?![\d-])(?!\s*(?:l|lpm|mg|cc|ml|%|x|hrs?|min|"
    r"days?|times|units|liters?)\b)",
    # "on the 11th": a day of the month alone
    r"\b(?:on|since|until|from|the)\s+(?P<phi>(?:[1-9]|[12]\d|3[01])(?:st|nd|rd|th))(?=\s*(?:[.,;)]|$|of\b|at\b|and\b))",
    # a month alone: "in sept.", "March of 1993" ("may" only written with a year)
    r"\b(?:in|since|during|early|late|mid|of|last|next|this|until|through|by)[\s-]+(?P<phi>(?:january|february|"
    r"march|april|june|july|august|september|october|november|december|jan|feb|aug|sept?|oct|nov|dec)\.?)(?![a-z])",
    r"\b(?P<phi>(?:january|february|march|april|may|june|july|august|september|october|november|december)"
    r"(?:\s+of)?\s+\d{4})\b",
)

AGE_PATTERNS = (  # ages over 89 only: younger ages are not Safe Harbor identifiers
    r"\b(?P<phi>(?:9\d|1[0-4]\d))\s*(?:-\s*)?(?:yo|y/o|y\.o\.?|yr?s?\.?\s*old|year[- ]old|years?\s+old|"
    r"years?\s+of\s+age)\b",
    r"\bage[d]?\s*:?\s*(?P<phi>(?:9\d|1[0-4]\d))\b",
)

_RECORD_CONTEXT = r"mrn|medical\s+record(?:\s+(?:number|no\.?|#))?|record\s*(?:#|no\.?|number)"
_ID_CONTEXT = (rf"{_RECORD_CONTEXT}|"
               r"acct|account(?:\s+(?:number|no\.?|#))?|health\s+plan(?:\s+(?:number|id|#))?|"
               r"member\s+id|policy(?:\s+(?:number|no\.?|#))?|licen[cs]e(?:\s+(?:number|no\.?|#))?|"
               r"dea(?:\s+#)?|npi|serial(?:\s+(?:number|no\.?|#))?|device\s+id|vin|plate|unit\s+no\.?|"
               r"ref(?:erence)?\s*(?:#|no\.?|number)|confirmation(?:\s+(?:#|no\.?|number))?|case\s*#|claim\s*#?")
# An alphanumeric number: five or more letters, digits and hyphens, starting and ending with a
# letter or digit, with at least ``n`` digits (a lookahead, so "MRN pending" stays).
_ALNUM_ID = r"(?=(?:[a-z\-]*\d){{{n}}})[a-z\d][a-z\d\-]{{3,}}[a-z\d]"
ID_PATTERNS = (
    rf"\b(?:{_ID_CONTEXT})\s*[:#]?\s*(?P<phi>[a-z]{{0,3}}[-\d][\d\-]{{3,}}[a-z\d]*)\b",
    # "MRN-K7Q2ZP9XA": after the record number's own words, one digit is enough
    rf"\b(?:{_RECORD_CONTEXT})\s*[:#-]?\s*(?P<phi>{_ALNUM_ID.format(n=1)})\b",
    # "account: AB12C345", but not "account for HbA1c" or "policy A1": three digits elsewhere
    rf"\b(?:{_ID_CONTEXT})\s*[:#-]?\s*(?P<phi>{_ALNUM_ID.format(n=3)})\b",
)

EMAIL_PATTERNS = (r"\b[\w.%+-]+@[a-z\d.-]+\.[a-z]{2,}\b",)
URL_PATTERNS = (r"\b(?:https?://|www\.)[^\s<>\"')]+", r"\b[a-z\d-]+\.(?:com|org|net|edu|gov)(?:/[^\s<>\"')]*)?\b")
PHONE_PATTERNS = (
    r"(?<!\d)(?:\(\d{3}\)\s*|\d{3}[-.\s])\d{3}[-.\s]\d{4}(?!\d)",  # (617) 555-0199, 617-555-0199, 617 555 0199
    r"\b(?:x|ext\.?)(?P<phi>\d{4,5})\b",  # x1234: an extension
    # a number after the word for it: "pager 4-5678", "Pager: #54321", "beeper number 55037"
    r"\b(?:ext|extension|pager|beeper|pgr|pg|page|cell|fax|phone|tel|telephone|home|work|office)\.?\s*"
    r"(?:number|no\.?|num)?\s*[:#]?\s*#?\s*(?P<phi>\d[\d-]{3,}\d)\b",
)
# "on 2/3": a date that looks like a fraction, where a date preposition says which it is
FRACTION_DATE_PATTERNS = (r"\b(?:on|since|until|dated|through|thru)\s+(?P<phi>[123]/[234])(?![\d/])",)
# 555-0199, the local numbers of a hospital's notes, where no measurement comes before
LOCAL_PHONE_PATTERNS = (r"(?<![\d/.-])\d{3}-\d{4}(?![\d-])",)
MEASURED_RANGE_BEFORE = (r"\b(?:svr|pvr|bp|sbp|hr|rate|tv|vt|vts|is|uo|uop|voiding|vol|vols|volumes?|plt|wbc|"
                         r"range|in\s+the|between|from|to|of|glucose|bs|fs|output|cc|ml|ci|co|ck|cpk|"
                         r"up\s+to|x|ranging|approx|about|~)")
ZIP_PATTERNS = (
    # the lookahead first: only words with a five-digit number soon after try the 100 state names
    rf"\b(?=[A-Za-z .]{{2,22}},?\s+\d{{5}})(?:{lexicon.STATE_PATTERN})\.?,?\s+(?P<phi>\d{{5}}(?:-\d{{4}})?)\b",
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
# "St. Mary's", case as written: upper-case "ST" is the ECG's ST segment
SAINT_PATTERNS = (r"\b(?P<phi>(?:St\.|Saint|ST\.)\s+[A-Z][a-zA-Z]+(?:'[sS])?)",
                  r"\b(?P<phi>(?:St|ST)\s+[A-Z][a-zA-Z]+'[sS])")  # "St Mary's"


def saint(text: str) -> bool:
    w = context.core(text.split(None, 1)[1])
    return w in lexicon.first_names() and not lexicon.not_a_name(w)


def street_address(text: str) -> bool:
    """"12 Oak Street", not "3 WAY FOLEY IN PLACE" or "120 PER DR": the words between the
    number and the kind of street are no stop words and no medicine."""
    words = [w.lower().strip(".'") for w in text.split()[1:-1]]
    return all(w not in lexicon.stop_words() and (not lexicon.not_a_name(w) or w in lexicon.COMMON_WORDS)
               for w in words)


def default_recognizers() -> list[EntityRecognizer]:
    """medmaas's recognizers, one per identifier type; Presidio's own are added by the engine."""
    return [
        GroupRecognizer("DATE", DATE_PATTERNS, 0.6, accept=lexicon.plausible_date, veto_before=MEASURED_BEFORE,
                        veto_after=MEASURED_AFTER),
        GroupRecognizer("DATE", FRACTION_DATE_PATTERNS, 0.6, veto_after=MEASURED_AFTER, name="medmaas date on"),
        names.ContextNameRecognizer(0.7),
        places.ContextPlaceRecognizer(0.72),
        lexicon.NameListRecognizer(),
        lexicon.RareNameRecognizer(),
        GroupRecognizer("AGE", AGE_PATTERNS, 0.9),
        GroupRecognizer("ID", ID_PATTERNS, 0.9),
        GroupRecognizer("EMAIL", EMAIL_PATTERNS, 0.95),
        GroupRecognizer("URL", URL_PATTERNS, 0.8),
        GroupRecognizer("PHONE", PHONE_PATTERNS, 0.7),
        GroupRecognizer("PHONE", LOCAL_PHONE_PATTERNS, 0.7, veto_before=MEASURED_RANGE_BEFORE,
                        veto_after=r"[ \t]*(?:cc|ml|mg|mcg|units?|/|%|'?s\b|range|min|minutes|hrs?)", name="medmaas local phone"),
        GroupRecognizer("ZIP", ZIP_PATTERNS, 0.8),
        GroupRecognizer("ADDRESS", STREET_PATTERNS, 0.8, flags=re.MULTILINE, accept=street_address),
        # saints are first names: "St. Agnes", "St Mary's"; not "ST. HIGH" (the ST segment)
        GroupRecognizer("ORGANIZATION", SAINT_PATTERNS, 0.7, flags=re.MULTILINE, accept=saint),
        # above the name recognizers' scores: "Baltimore, MD" is a place, not "a name before MD"
        lexicon.PlaceRecognizer(0.75),
    ]
