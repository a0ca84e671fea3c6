"""Places found by the words around them: where a patient comes from, goes to or lives
("transferred to GH", "lives in Edgemere", "Quartermain 5"), the names before a kind of place
("Union Hosp.", "Laurel Regional"), hospitals' initials and devotional names ("Sacred Heart").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from presidio_analyzer import RecognizerResult

from medmaas.privacy.deid import lexicon, vocabulary
from medmaas.privacy.deid.context import (
    FLAGS,
    GAP,
    KIND_WORDS,
    LEAD,
    TOKEN,
    core,
    in_census,
    looks_medical,
    never,
    note_case,
    titled,
)
from medmaas.privacy.deid.lexicon import ReadyRecognizer

# -- places -----------------------------------------------------------------------------------

MOVE = (r"\b(?:transferred|transfered|transferring|transfer|xfer(?:red|ed)?|tx'?d|tx|trans|sent|"
        r"taken|brought|admitted|admit|adm|readmitted|arrived|arriving|arrival|presented|came|come|comes|"
        r"referred|went|go|goes|going|return(?:ed|ing|s)?|d/c'?d|dc'?d|discharged?|dispo|"
        r"med\s*flight(?:ed)?|flown|flew|en\s*route|transported|treated|moved)")
LIVE = (r"\b(?:lives|lived|living|resides?|resided|residing|vacation(?:ing)?|visiting|works|worked|employed|"
        r"stays|stayed|staying|followed|seen|hospitalized|hospitalised|accepted|excepted|screened|bed)")
_ADVERBS = (r"(?:[ \t]+(?:back|over|here|there|today|yesterday|tonight|earlier|later|directly|nearby|"
            r"originally|initially|emergently|urgently|previously|recently|now|currently|again|"
            r"alone|out|up|down|by|via\s+\w+))*")
PLACE_TRIGGER = (rf"(?:{MOVE}{_ADVERBS}[ \t]+(?:to|from|at)|{LIVE}{_ADVERBS}[ \t]+(?:in|at|near|on|@)|"
                 r"\b(?:screened|accepted|excepted|seen|evaluated)[ \t]+by)(?:[ \t]+the)?\b")
#: after a place-like word, these make it a department or a person's role: "seen by Liver team"
DEPARTMENT_AFTER = re.compile(r"[ \t]+(?:team|service|consult|consults|surgeon|surgery|staff|fellow|attending|"
                              r"resident|physician|doctor|md|np|pa|rn|nurse)\b", re.IGNORECASE)
BARE_TRIGGER = r"\b(?:at|from|in)(?:[ \t]+the)?\b"
#: the kinds of place that end a place name: "Union Hosp.", "Laurel Regional", "Keeley House"
PLACE_KIND = (r"hospital|hosp\b\.?|hospiatal|hospitol|medical[ \t]+center|med\.?[ \t]+ctr|medical[ \t]+ctr|"
              r"health[ \t]+center|healthcare|health[ \t]+care[ \t]+center|rehab(?:ilitation)?|memorial|"
              r"regional|nursing[ \t]+home|manor|house|infirmary|hospice|clinic|campus|center|"
              r"medical[ \t]+group|home\b(?=[ \t]+(?:for|of))")
STRONG_KINDS = re.compile(r"(?i)hosp|medical|med|health|infirmary|nursing|campus")

def place_word(token: str, case: str, *, moving: bool) -> bool:
    """A word of a place name after a verb of moving ("transferred to Quartermain 2",
    "admitted to GH") or, with ``moving`` False, after a bare preposition (stricter)."""
    w = core(token)
    if never(w) or w in lexicon.first_names() and not lexicon.is_place_name(token):
        return False
    if w in vocabulary.GENERIC_BEFORE_PLACE or w in KIND_WORDS or w in vocabulary.NOT_AFTER_TITLE:
        return False
    if looks_medical(w) or w.endswith("ly"):
        return False
    if lexicon.is_place_name(token.rstrip("0123456789"), capitalised=titled(token)):
        return True
    if case == "mixed":
        letters = re.sub(r"[^A-Za-z]", "", token)
        if letters.isupper() and 2 <= len(letters) <= 5:  # "GH", "GBMC": a hospital's initials
            return moving
        if titled(token):
            return lexicon.zipf(w) < (4.5 if moving else 3.2) and w not in lexicon.COMMON_WORDS
        # "transfer to quartermain2", "transferred to gh": typed small, but no English word
        return moving and lexicon.zipf(w) < (3.5 if len(w) <= 3 else 2.5)
    return lexicon.zipf(w) < (3.5 if moving else 2.5) and w not in lexicon.COMMON_WORDS


def _plain_name(w: str, case: str) -> bool:
    """Before "Hospital": a word that is not an everyday verb or adjective of notes ("leave
    hospital", "tolerating house diet"): in capitals or lower case, a census name or a word
    rarer than everyday English."""
    if looks_medical(w) or "'" in w.rstrip("s").rstrip("'"):
        return False
    return case == "mixed" or in_census(w) or lexicon.zipf(w) < 4.5


class ContextPlaceRecognizer(ReadyRecognizer):
    """Places where a patient comes from, goes to or lives ("transferred to GH", "lives in
    Edgemere", "Quartermain 5"), and names before a kind of place ("Union Hosp.",
    "Laurel Regional", "Sacred Heart")."""

    MOVE_RE = re.compile(PLACE_TRIGGER, FLAGS)
    BARE_RE = re.compile(BARE_TRIGGER, FLAGS)
    KIND_RE = re.compile(rf"\b(?:{PLACE_KIND})(?![A-Za-z])", FLAGS)
    WARD = re.compile(r"[ \t]*\d{1,2}(?:/\d{1,2})?\b(?![ \t]*(?:mg|mcg|cc|ml|%|hrs?|h\b|am|pm|l\b|lpm|units?|"
                      r"x\b|min|days?|times|weeks?|yr|years?|[.:]\d))", re.IGNORECASE)
    # "at GH", "from GBMC": a hospital's initials end in H, MC or HC
    INITIALISM = re.compile(r"(?:\b(?:at|to|from|into|via|by)[ \t]+|->[ \t]*)(?:the[ \t]+)?\b([A-Za-z]{1,3}(?:h|mc|hc))\b"
                            r"(?!['/-])", FLAGS)
    UNIVERSITY = re.compile(r"\b(?:U|Univ\.?|University|UNIVERSITY)(?:[ \t]+of)?[ \t]+([A-Z][A-Za-z]+(?:[ \t]+[A-Z][a-z]+)?)")
    DEVOTIONAL = re.compile(r"\b(?:(?i:holy|sacred|good[ \t]+samaritan)|Mount|MOUNT|Mt\.|MT\.)[ \t]+([A-Za-z][A-Za-z'’]+)",
                            re.MULTILINE)

    def __init__(self, score: float = 0.72) -> None:
        self.score = score
        super().__init__(supported_entities=["LOCATION", "ORGANIZATION"], name="medmaas place in context",
                         supported_language="en")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        case = note_case(text)
        places = set(self._after(text, case, self.MOVE_RE, moving=True))
        if case == "mixed":  # after a bare "at" or "from", only capitals can tell a place from jargon
            places |= set(self._after(text, case, self.BARE_RE, moving=False))
        places |= set(self._initialisms(text, case))
        named = set(self._before_kind(text, case)) | set(self._devotional(text, case))
        named |= {m.span() for m in self.UNIVERSITY.finditer(text)
                  if m.group(1).lower() in lexicon.STATE_NAMES or lexicon.is_place_name(m.group(1), capitalised=True)}
        return ([RecognizerResult(entity_type="LOCATION", start=s, end=e, score=self.score) for s, e in sorted(places)]
                + [RecognizerResult(entity_type="ORGANIZATION", start=s, end=e, score=self.score + 0.01)
                   for s, e in sorted(named)])

    def _after(self, text: str, case: str, trigger: re.Pattern[str], *, moving: bool) -> Iterator[tuple[int, int]]:
        for m in trigger.finditer(text):
            pos = LEAD.match(text, m.end()).end()  # type: ignore[union-attr]
            start = end = -1
            first = ""
            for _ in range(3):
                tok = TOKEN.match(text, pos)
                if tok is None:
                    break
                word = tok.group()
                if first and core(word) in KIND_WORDS:
                    end = tok.end()
                    kind = self.KIND_RE.match(text, tok.start())
                    end = max(end, kind.end() if kind else end)
                    break
                if not place_word(word, case, moving=moving):
                    # "transfer to Owen 4": a ward, named after anyone, with its number
                    ward = self.WARD.match(text, tok.end())
                    w = core(word)
                    if not (moving and not first and ward and not never(w) and w not in lexicon.COMMON_WORDS
                            and not looks_medical(w) and (case != "mixed" or word[:1].isupper())):
                        break
                if first and case == "mixed" and titled(first) and not word[:1].isupper():
                    break
                if start < 0:
                    start = tok.start()
                end, first = tok.end(), first or word
                gap = GAP.match(text, end)
                if gap is None:
                    break
                pos = gap.end()
            if not first or DEPARTMENT_AFTER.match(text, end):
                continue
            ward = self.WARD.match(text, end)
            if ward and moving:
                end = ward.end()
            yield start, end

    def _before_kind(self, text: str, case: str) -> Iterator[tuple[int, int]]:
        """The words before "Hospital", "Hosp.", "Regional", "House": read backwards while they
        can be part of a name."""
        for m in self.KIND_RE.finditer(text):
            strong = bool(STRONG_KINDS.match(m.group()))
            if re.match(r"[ \t]+(?:staff|officer|officers|md|physician|doctor)\b", text[m.end():], re.IGNORECASE):
                continue  # "house staff", "house officer"
            before = list(re.finditer(r"[A-Za-z][A-Za-z'’\-]*\.?", text[max(0, m.start() - 60):m.start()]))
            offset = max(0, m.start() - 60)
            start = -1
            prev_end = m.start()
            for tok in reversed(before[-3:]):
                if not re.fullmatch(r"[ \t]+", text[offset + tok.end():prev_end]):
                    break
                word = tok.group().rstrip(".")
                w = core(word)
                if w in vocabulary.GENERIC_BEFORE_PLACE or never(w) and w not in KIND_WORDS:
                    break
                if case == "mixed" and not word[:1].isupper() and not lexicon.is_place_name(word.title(), capitalised=True):
                    break  # "from baltimore rehab": a known town may be typed small
                # the kind of place after it makes a place of a state, a city or a first name
                known = (lexicon.is_place_name(word, capitalised=True) or w in lexicon.STATE_NAMES
                         or (in_census(w) and not never(w) and not looks_medical(w)
                             and w not in lexicon.COMMON_WORDS and lexicon.zipf(w) < 5.0))
                if not (known or strong and _plain_name(w, case) or place_word(word, case, moving=True)
                        or w in KIND_WORDS):
                    break
                start = offset + tok.start()
                prev_end = start
            # "Memorial Hospital" is a name; "Rehab Center" alone is not
            if start >= 0 and core(text[start:m.start()].split()[0]) not in KIND_WORDS - {"memorial", "regional"}:
                yield start, m.end() if not m.group().endswith(".") else m.end() - 1

    def _initialisms(self, text: str, case: str) -> Iterator[tuple[int, int]]:
        for m in self.INITIALISM.finditer(text):
            word = m.group(1)
            w = word.lower()
            # typed small only where the note is not in capitals: "at gh", "transferred to gh"
            if (case == "upper" and not word.isupper()) or (case == "mixed" and not (word.isupper() or word.islower())):
                continue
            if never(w) or w in vocabulary.GENERIC_BEFORE_PLACE:
                continue
            if lexicon.zipf(w) < 3.5:
                yield m.span(1)

    def _devotional(self, text: str, case: str) -> Iterator[tuple[int, int]]:
        """"Sacred Heart", "Holy Cross", "Mount Sinai": religious names that hospitals take."""
        for m in self.DEVOTIONAL.finditer(text):
            word = m.group(1)
            w = core(word)
            if w in lexicon.stop_words() or w in vocabulary.clinical_words():
                continue
            end = m.end()
            kind = re.match(r"[ \t]+(?:memorial|regional|medical[ \t]+center|hospital|hosp\b|rehab)", text[end:end + 30],
                            re.IGNORECASE)
            yield m.start(), end + (kind.end() if kind else 0)
