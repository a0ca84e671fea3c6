"""Names and places found by the words around them, the way nursing notes write them.

A regular expression finds a *trigger* (a title, a relation, a role, a credential after a
signature, a verb of moving somewhere); from there the recognizer reads up to three words and
keeps those that could be a name or a place. How much a word must look like a name depends on
how strong the trigger is:

- after a title ("Dr.", "Mrs"), nearly any word that is not common English or medicine;
- after a relation ("son", "wife", "HCP"), any census first name, even an everyday word
  ("son Bill", "wife Grace");
- after a weaker word ("per", "with", "called"), only words that are rare in English or
  census first names.

Case carries evidence only in mixed-case notes: there "Quartermain" is a proper noun and
"quartermain" is not; in notes typed all in capitals or all in lower case, rarity in English
(``wordfreq``) has to do instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from medmaas.privacy.deid import lexicon, vocabulary

FLAGS = re.IGNORECASE | re.MULTILINE

#: a word of a name: "O'Driscoll", "Forman-Lyons", "quartermain2"; or an initial "J."
TOKEN = re.compile(r"(?:[A-Za-z]\.(?![A-Za-z])|[A-Za-z][A-Za-z'’]*(?:-[A-Za-z][A-Za-z'’]*)*\d{0,2})")
GAP = re.compile(r"[ \t]+")
LEAD = re.compile(r"[ \t]*[,:;\-–>(]*[ \t]*")


def note_case(text: str) -> str:
    """'upper', 'lower' or 'mixed': whether capitals can mark proper names in this note."""
    if lexicon.mostly_upper(text):
        return "upper"
    return "lower" if lexicon.mostly_lower(text) else "mixed"


def core(token: str) -> str:
    w = token.lower().replace("’", "'").strip(".'-")
    w = re.sub(r"\d+$", "", w)
    return w[:-2] if w.endswith("'s") else w


def is_initial(token: str) -> bool:
    return len(token) == 2 and token[1] == "." and token[0].isalpha()


def titled(token: str) -> bool:
    return token[:1].isupper() and token[1:2].islower()


def never(w: str) -> bool:
    """Words that are never a name or place of a person: stop words, medicine, relations."""
    return len(w) < 2 or w in _blocked()


_BLOCKED: frozenset[str] | None = None


def _blocked() -> frozenset[str]:
    global _BLOCKED
    if _BLOCKED is None:
        _BLOCKED = (lexicon.stop_words() | vocabulary.clinical_words() | lexicon.RELATIONS
                    | lexicon.MONTHS_AND_DAYS | lexicon.TITLES)
    return _BLOCKED


# Endings of clinical words. The strong ones are medicine whatever the word; the weak ones are
# the endings of ordinary English derivations too ("sedated", "febrile"), and surnames carry
# them as well ("Dokovic", "Gooding"), so they count only for a word that English uses.
_MEDICAL_ENDING = re.compile(
    r"(?:itis|osis|emia|ectomy|otomy|ostomy|ology|scopy|graphy|pathy|plasty|algia|uria|penia|trophy|"
    r"plegia|paresis|pnea|cardia|tensive|tension|mycin|cillin|pril|olol|statin|sartan|azole|phasia|"
    r"phagia|lysis|megaly|ectasia)$")
_NOUN_ENDING = re.compile(r"(?:tion|sion|ment|ness|ity|ics|ous|ive|ism)$")
_DERIVED_ENDING = re.compile(r"(?:(?<![em])ed|ing|ly|able|ible)$")
_ADJECTIVE_ENDING = re.compile(r"(?:ia|al|ic|ile|ary|ine|ate|ase|ide)$")


def looks_medical(w: str) -> bool:
    """A word shaped like clinical English ("hypotensive", "sedated", "sternal"), not like a
    name ("Saeed", "Dokovic", "Fontaine")."""
    if _MEDICAL_ENDING.search(w):
        return True
    if _NOUN_ENDING.search(w):
        return w not in lexicon.first_names()
    if _DERIVED_ENDING.search(w):
        return not in_census(w) and lexicon.zipf(w) >= 2.0
    return bool(_ADJECTIVE_ENDING.search(w)) and not in_census(w) and lexicon.zipf(w) >= 2.5


def in_census(w: str) -> bool:
    """A census name; "o'brien" as "obrien", "forman-lyons" by its parts."""
    names = lexicon.census_names()
    if w in names or ("'" in w and w.replace("'", "") in names):
        return True
    return "-" in w and any(part in names and part not in _blocked() for part in w.split("-"))


# -- how much a word must look like a name, by strength of context -----------------------------

def after_title(token: str, case: str) -> bool:
    """After "Dr." or "Mrs.": not a stop word, a unit or an abbreviation; a census name or a
    word rarer than everyday English ("Dr. Foley", "Dr. Small"; not "Dr. aware")."""
    w = core(token)
    if len(w) < 2 or w in lexicon.stop_words() or w in vocabulary.NOT_AFTER_TITLE:
        return False
    if w in vocabulary.ABBREVIATIONS or w in vocabulary.DESTINATIONS or w in vocabulary.DRUGS:
        return False
    if case == "mixed" and token.islower():
        return in_census(w) and lexicon.zipf(w) < 4.5
    return in_census(w) or lexicon.zipf(w) < 4.0


def after_relation(token: str, case: str) -> bool:
    """After "son" or "wife": any census first name ("son bill"), or a rare word."""
    w = core(token)
    if w in lexicon.first_names() and case == "mixed" and titled(token) and w not in lexicon.stop_words():
        return True  # "Son, Ed, was updated": a capitalised first name, even one that is an abbreviation
    if never(w):
        return False
    if w in lexicon.first_names():
        return not (case == "mixed" and token.islower() and w in lexicon.COMMON_WORDS)
    if case == "mixed":
        return titled(token) and lexicon.zipf(w) < 4.0
    return lexicon.zipf(w) < 3.0


def after_weak(token: str, case: str) -> bool:
    """After "per", "spoke with", "called": a census first name that is no everyday word, a
    rare census surname, or (mixed case) a capitalised rare word; none shaped like medicine."""
    w = core(token)
    if never(w) or w in lexicon.COMMON_WORDS:
        return False
    if case == "mixed" and token.islower():
        return False
    if w in lexicon.first_names() and lexicon.zipf(w) < 5.5:
        return True
    if looks_medical(w):
        return False
    if w in lexicon.last_names() and lexicon.zipf(w) < 3.2:
        return True
    return case == "mixed" and titled(token) and lexicon.zipf(w) < 3.2


def after_role(token: str, case: str) -> bool:
    """After a clinician's role ("NP", "RN", "case manager"): as after a weak word, or any
    word English hardly knows ("NP DJURIC")."""
    if after_weak(token, case):
        return True
    w = core(token)
    if never(w) or (case == "mixed" and token.islower()) or looks_medical(w):
        return False
    return lexicon.zipf(w) < 2.0


def after_caps_title(token: str, case: str) -> bool:
    """After "MS" or "MR" in capitals (mental status, mitral regurgitation, or a title):
    only a census name that is neither an everyday word nor shaped like medicine."""
    w = core(token)
    if never(w) or w in lexicon.COMMON_WORDS or not in_census(w) or looks_medical(w):
        return False
    return lexicon.zipf(w) < 4.5


def continues_name(token: str, case: str, first: str) -> bool:
    """A second or third word of a name already begun: a census name, or a rare word. In
    mixed case a capitalised census name goes on a capitalised name even where it is also an
    eponym or an everyday word ("Dr. Art White", "Bernard Foley")."""
    w = core(token)
    if case == "mixed" and titled(first) and not token[:1].isupper():
        return False
    if case == "mixed" and titled(token) and in_census(w) and not (never(w) and w not in vocabulary.EPONYMS):
        return True
    if never(w):
        return False
    if w in lexicon.COMMON_WORDS:
        return False
    return (in_census(w) and lexicon.zipf(w) < 4.9) or lexicon.zipf(w) < 3.0


def before_relation(token: str, case: str) -> bool:
    """The last word before "(son)" or "his niece": a census name, or a word English hardly
    knows; capitalised in a mixed-case note."""
    w = core(token)
    if never(w) or looks_medical(w) or (case == "mixed" and not titled(token)):
        return False
    if in_census(w) and w not in lexicon.COMMON_WORDS:
        return lexicon.zipf(w) < (5.0 if w in lexicon.first_names() else 4.0)
    return lexicon.zipf(w) < 2.5


def before_credential(token: str, case: str) -> bool:
    """The last word before ", RN": a census name, or a rare word that is no verb form
    ("paged MD" is no name)."""
    w = core(token)
    if case == "mixed" and titled(token) and w in vocabulary.EPONYMS and in_census(w):
        return True  # "Bernard Foley CRT"
    if never(w) or w in vocabulary.NOT_AFTER_TITLE:
        return False
    if case == "mixed" and token.islower():
        return False
    if in_census(w) and (w not in lexicon.COMMON_WORDS or (case == "mixed" and titled(token))):
        return lexicon.zipf(w) < 5.0 and not (looks_medical(w) and w not in lexicon.first_names())
    return lexicon.zipf(w) < 1.5 and not looks_medical(w)


Test = Callable[[str, str], bool]


def read_name(text: str, at: int, case: str, first_test: Test, *, most: int = 3) -> tuple[int, int] | None:
    """The name starting at ``at`` (after separators): up to ``most`` words, the first judged
    by ``first_test``, the rest by ``continues_name``; initials need a name after them."""
    pos = LEAD.match(text, at).end()  # type: ignore[union-attr]
    start = end = -1
    first = ""
    count = 0
    while count < most:
        tok = TOKEN.match(text, pos)
        if tok is None:
            break
        word = tok.group()
        if is_initial(word):
            # an initial counts only with a name after it: "Dr. L. Ruuska"
            gap = re.compile(r"[ \t]*").match(text, tok.end())
            nxt = TOKEN.match(text, gap.end()) if gap else None
            if (case == "mixed" and not word[0].isupper()) or nxt is None or is_initial(nxt.group()):
                break
            after = nxt.group()
            if not (first_test(after, case) if not first else continues_name(after, case, first)):
                break
            if start < 0:
                start = tok.start()
            pos = nxt.start()
            count += 1
            continue
        ok = first_test(word, case) if not first else continues_name(word, case, first)
        if not ok:
            break
        if start < 0:
            start = tok.start()
        end, first = tok.end(), first or word
        count += 1
        gap = GAP.match(text, end)
        if gap is None:
            break
        pos = gap.end()
    return (start, end) if first and end > start else None


def _first_then_surname(first: str, last: str, case: str) -> bool:
    f, s = core(first), core(last)
    if case == "mixed" and not (titled(first) and titled(last)):
        return False
    return (f in lexicon.first_names() and not never(f) and f not in lexicon.COMMON_WORDS
            and s in lexicon.last_names() and not never(s) and not looks_medical(s))


def read_name_backward(text: str, at: int, case: str, last_test: Test | None = None) -> tuple[int, int] | None:
    """The name that ends right before ``at`` (a credential): "Dan A. Forman-Lyons, RRT"."""
    last_test = last_test or before_credential
    window = text[max(0, at - 80):at]
    offset = max(0, at - 80)
    m = re.search(r"(?<![A-Za-z.'’\-])((?:(?:[A-Za-z]\.|[A-Za-z][A-Za-z'’\-]*)[ \t]+){0,3}[A-Za-z][A-Za-z'’\-]*)"
                  r"[ \t]*,?[ \t]*$", window)
    if m is None:
        return None
    tokens = list(re.finditer(r"[A-Za-z]\.|[A-Za-z][A-Za-z'’\-]*", m.group(1)))
    if not tokens:
        return None
    # "Felicia Strange (daughter)": a surname that is also a word, after a first name
    if not last_test(tokens[-1].group(), case) and (
            len(tokens) < 2 or not _first_then_surname(tokens[-2].group(), tokens[-1].group(), case)):
        return None
    last = tokens[-1]
    start = last.start()
    for tok in reversed(tokens[:-1]):
        word = tok.group()
        if is_initial(word):
            if case == "mixed" and not word[0].isupper():
                break
        elif not continues_name(word, case, last.group()):
            break
        start = tok.start()
    base = offset + m.start(1)
    return base + start, base + last.end()

#: the words that say what kind of place a name is ("Hospital", "Rehab"): never a name themselves
KIND_WORDS = frozenset({"hospital", "hosp", "hospiatal", "hospitol", "medical", "med", "ctr", "center", "health",
                        "healthcare", "care", "rehab", "rehabilitation", "memorial", "regional", "nursing",
                        "home", "manor", "house", "infirmary", "hospice", "clinic", "campus", "group"})


# -- the same name again ---------------------------------------------------------------------

REPEATABLE = frozenset({"NAME", "LOCATION", "ORGANIZATION"})


def repeated(text: str, found: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Every other place in the note where a word of a found name or place stands again.

    A note names the son once after "son" and then just writes "David"; a ward is "transferred
    to Quartermain 2" and later "Quartermain 3". Words of findings with context (score at
    least 0.7) are looked for again in the same note; words that are medicine, everyday English
    or the kind of a place ("Hospital") are not.
    """
    case = note_case(text)
    words: dict[str, tuple[str, str]] = {}
    for start, end, kind, score in found:
        if kind not in REPEATABLE or score < 0.7:
            continue
        for tok in TOKEN.finditer(text, start, end):
            word = tok.group()
            w = core(word)
            if is_initial(word) or len(w) < 2 or (len(w) < 3 and not word.isupper()):
                continue
            if never(w) or w in lexicon.COMMON_WORDS or w in KIND_WORDS or w in vocabulary.GENERIC_BEFORE_PLACE:
                continue
            if lexicon.zipf(w) >= (5.5 if w in lexicon.first_names() else 4.0) or looks_medical(w):
                continue
            words.setdefault(w, (kind, word))
    if not words:
        return []
    regex = re.compile(r"(?<![A-Za-z'])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                       + r")(?![A-Za-z])", re.IGNORECASE)
    again = []
    for m in regex.finditer(text):
        word = m.group()
        kind, source = words[word.lower()]
        if case == "mixed" and word.islower() and not source.islower():
            continue  # "Bill" is a name where "bill" is not
        if len(word) < 3 and not word.isupper():
            continue
        again.append((m.start(), m.end(), kind, 0.6))
    return again


# -- eponyms --------------------------------------------------------------------------------

#: what an eponym names: "Janeway lesions", "Austin Flint murmur", "Hoyer lift", "Coombs test"
EPONYM_HEAD = (r"sign|signs|syndrome|disease|dementia|lesions?|nodes?|murmur|test|tests|cells|rods|fracture|"
               r"mask|vest|lift|catheter|tube|drain|valve|collar|maneuver|manoeuvre|position|criteria|"
               r"score|scale|class|classification|triad|phenomenon|procedure|operation|palsy|stain|"
               r"block|curve|bodies|spots|respirations?|breathing|sounds|lymphoma|sarcoma|tumou?r|cyst|"
               r"contracture|protein|diverticulum|esophagus|encephalopathy|cardiomyopathy|angina|pattern|"
               r"point|reflex|law|equation|formula|maneuvre|anastomosis|pouch|shunt|filter|splint|traction|"
               r"hugger|dressing|gauze|suture|incision|ulcer|membrane|duct|canal|nerve|artery|gland|fossa|"
               r"deformity|hernia|toxin|agar|tourniquet|needle|forceps|retractor|clamp|depth|thickness|index|ratio")
# after the name: more names of the eponym ("-Sternberg", " Flint"), then what it names
EPONYM_AFTER = re.compile(rf"(?:'s|s'|')?(?:(?:[ \t]*-[ \t]*|[ \t]+)(?:[A-Z][a-z'’]+|[A-Z'’]{{2,}})|[ \t]*-[ \t]*[a-z]+){{0,2}}"
                          rf"(?:'s|s'|')?[ \t]+(?i:{EPONYM_HEAD})\b")


def eponym(text: str, start: int, end: int) -> bool:
    """The name at ``start:end`` is the first part of an eponym ("Reed-Sternberg cells")."""
    if end > start and text[end - 1] == "-":
        end -= 1  # "Salter-" of "Salter-Harris fracture"
    return EPONYM_AFTER.match(text, end) is not None
