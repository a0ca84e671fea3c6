"""Names found by the words around them: after titles, relations and roles, before
credentials, as initials with a surname, as the subject of what only people do, and in
signatures. How strong each context is, and what a word must look like after it, is in
``medmaas.privacy.deid.context``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from presidio_analyzer import RecognizerResult

from medmaas.privacy.deid import lexicon, vocabulary
from medmaas.privacy.deid.context import (
    FLAGS,
    TOKEN,
    Test,
    after_caps_title,
    after_relation,
    after_role,
    after_title,
    after_weak,
    before_relation,
    continues_name,
    core,
    in_census,
    is_initial,
    looks_medical,
    never,
    note_case,
    read_name,
    read_name_backward,
    titled,
)
from medmaas.privacy.deid.lexicon import ReadyRecognizer

# -- triggers ---------------------------------------------------------------------------------

TITLE = r"\b(?:dr's|drs?|doctors?|mrs|mr|ms|miss|mister|prof)\b\.?"
RELATION = (r"\b(?:wife|husband|spouse|sons?|daughters?|dtrs?|dau|"
            r"brothers?|bro|sisters?|sis|mother|mom|mum|father|dad|friends?|niece|neice|nephew|aunts?|"
            r"uncles?|cousins?|grand\s*sons?|grand\s*daughters?|grandaughters?|grandchild(?:ren)?|"
            r"fiancee?|partner|boyfriend|girlfriend|neighbou?rs?|companion|significant\s+other|guardian|"
            r"(?:health\s*care\s*)?proxy|hcp|spokesperson|(?:son|daughter|brother|sister|mother|father)"
            r"[\s-]+in[\s-]+law|step(?:son|daughter|mother|father)|caregiver|name\s+is|named)\b")
_WITH = r"(?:with|w/|w)"
ROLE = (rf"\b(?:per|by|d/w|(?:spoke|spoken|talked|speaking|met|meeting|consult(?:ed)?|discussed|work(?:ing)?|"
        rf"conference|call)\s+{_WITH}|(?:spoke|talked|reported|spoken)\s+to|called|paged|notified|"
        r"informed|seen\s+by|evaluated\s+by|examined\s+by|accompanied\s+by)\b\.?")
ROLE_NOUN = (r"\b(?:rn|np|md|attending|resident|intern|fellow|nurse|house\s*staff|"
        r"case\s*manager|case\s*management|case\s*worker|caseworker|social\s*worker|sw|chaplain|pcp|"
        r"therapist|surgeon|physician|cardiologist|consultant|coordinator|cooridinator|liaison)\b")
CREDENTIAL = r"(?:RN|RRT|CRT|NP|PA-C|PA|MD|LPN|CNA|LICSW|LCSW|MSW|BSN|CCRN|PhD|SRNA|CRNA|PharmD)"
PERSON_VERB = (r"(?:called|phoned|visited|reports|reported|states|stated|spoke|aware|updated|"
               r"in\s+to\s+visit|at\s+(?:the\s+)?bedside|(?:is|as)\s+(?:the\s+)?(?:family\s+)?(?:hcp|proxy|"
               r"health\s*care\s*proxy|contact|spokesperson|guardian))")


class ContextNameRecognizer(ReadyRecognizer):
    """Names after titles, relations and roles, before credentials and in signatures."""

    TITLE_RE = re.compile(TITLE, FLAGS)
    RELATION_RE = re.compile(RELATION, FLAGS)
    ROLE_RE = re.compile(ROLE, FLAGS)
    ROLE_NOUN_RE = re.compile(ROLE_NOUN, FLAGS)
    LIST_RE = re.compile(r"[ \t]*(?:,|\band\b|&)[ \t]*(?:(?:drs?|dr's|doctor)\b\.?[ \t]*)?", FLAGS)
    CRED_MIXED = re.compile(rf"(?<![A-Za-z]){CREDENTIAL}\b")
    CRED_ANY = re.compile(rf"(?<![A-Za-z]){CREDENTIAL}\b", re.IGNORECASE)
    PULMONARY_ARTERY = re.compile(r"[ \t]*(?:'?s\b|line|cath|catheter|press|pressures?|numbers|nos|#|\d|/|-|:|systolic|"
                                  r"diastolic|mean|port|tracing|wedge|sats?|diast|sys|temp|waveform)", re.IGNORECASE)
    # an initial stands after a space, a bracket or a hyphen: not in "I&O.", "N/V.", "2L."
    INITIAL_NAME = re.compile(r"(?:(?<=[\s(,;:-])|^)([A-Za-z])\.[ \t]?(?=[A-Za-z])", re.MULTILINE)
    FIRST_INITIAL = re.compile(r"\b([A-Za-z][a-zA-Z'-]+)[ \t]+[A-Za-z]\.[ \t]?(?=[A-Za-z])")
    # found from the verb backwards: one pass for the verbs, then one short match per verb
    PERSON_VERB_RE = re.compile(rf"\b{PERSON_VERB}\b", FLAGS)
    SUBJECT = re.compile(r"(?<![A-Za-z'-])([A-Za-z][A-Za-z'-]+)(?:[ \t]+([A-Za-z][A-Za-z'-]+))?[ \t]*,?[ \t]+$")
    RELATION_AFTER = re.compile(r"[ \t]*(?:\(|,|-|\b(?:his|her|pt'?s|patient'?s)\b)[ \t]*(?:wife|husband|spouse|son|"
                                r"daughter|dtr|brother|sister|mother|father|niece|neice|nephew|aunt|uncle|cousin|"
                                r"grand\s*son|grand\s*daughter|grandaughter|friend|partner|fiancee?|hcp|proxy)\b", FLAGS)
    PHONE_NUMBER = re.compile(r"(?<!\d)\(?\d{3}\)?[-. ]\d{3}[-.]\d{4}\b")
    PHONE_LABEL = re.compile(r"[ \t]*[-:,]*[ \t]*(?:(?:cell|home|work|ph|phone|tel|h|w|c)[ \t]*#?[ \t]*:?[ \t]*)?$", FLAGS)
    FAMILY = re.compile(r"\b([A-Za-z][A-Za-z'-]+)[ \t]+family\b", FLAGS)

    def __init__(self, score: float = 0.7) -> None:
        self.score = score
        super().__init__(supported_entities=["NAME"], name="medmaas name in context", supported_language="en")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        case = note_case(text)
        return [RecognizerResult(entity_type="NAME", start=s, end=e, score=self.score)
                for s, e in sorted(set(self.spans(text, case)))]

    def spans(self, text: str, case: str) -> Iterator[tuple[int, int]]:
        for m in self.TITLE_RE.finditer(text):
            word = m.group().rstrip(".").lower()
            # "MS changes", "MR 2+": mental status and mitral regurgitation, unless a name follows
            caps = m.group()[:2].isupper() and word in {"ms", "mr"}
            test = after_caps_title if caps or (case != "mixed" and word in {"ms", "mr"} and "." not in m.group()) \
                else after_title
            if not m.group().endswith(".") and not re.match(r"[ \t]", text[m.end():m.end() + 1]):
                continue  # "MS:" is a heading; "Dr. X", "Dr X" and "dr.x" are titles
            yield from self._with_list(text, m.end(), case, test)
        for m in self.RELATION_RE.finditer(text):
            yield from self._with_list(text, m.end(), case, after_relation)
        for m in self.ROLE_RE.finditer(text):
            found = read_name(text, m.end(), case, after_weak)
            if found:
                yield found
        for m in self.ROLE_NOUN_RE.finditer(text):
            found = read_name(text, m.end(), case, after_role)
            if found:
                yield found
        creds = self.CRED_MIXED if case == "mixed" else self.CRED_ANY
        for m in creds.finditer(text):
            if m.group().upper() == "PA" and self.PULMONARY_ARTERY.match(text, m.end()):
                continue
            found = read_name_backward(text, m.start(), case)
            if found is None:
                continue
            single = not re.search(r"\s", text[found[0]:found[1]])
            if single and m.group().upper() in {"MD", "PA", "NP", "PA-C"} and not in_census(core(text[found[0]:found[1]])):
                continue  # "VSS, PA", "hypotensive MD": one unknown word before an ambiguous credential
            yield found
        for m in self.RELATION_AFTER.finditer(text):  # "Hank Przybylo (son)", "Nancy Cetrone his niece"
            found = read_name_backward(text, m.start(), case, before_relation)
            if found:
                yield found
        for m in self.PHONE_NUMBER.finditer(text):  # a contact list: "Irene Czyzewicz- 204-943-1045"
            label = self.PHONE_LABEL.search(text, max(0, m.start() - 24), m.start())
            found = read_name_backward(text, label.start() if label else m.start(), case, before_relation)
            if found:
                yield found
        yield from self._initials(text, case)
        yield from self._subjects(text, case)
        yield from self._signature(text, case)

    def _with_list(self, text: str, at: int, case: str, test: Test) -> Iterator[tuple[int, int]]:
        """A name, and the names listed after it: "Sons David, Morris and Roger"."""
        for _ in range(4):
            found = read_name(text, at, case, test)
            if found is None:
                return
            yield found
            more = self.LIST_RE.match(text, found[1])
            if more is None or more.end() == found[1]:
                return
            at = more.end()

    def _initials(self, text: str, case: str) -> Iterator[tuple[int, int]]:
        """"J. Yi", "W. MAROTTA", "Robert V. Degiorgio": an initial and a name after it."""
        for m in self.INITIAL_NAME.finditer(text):
            if case == "mixed" and m.group(1).islower():
                continue
            tok = TOKEN.match(text, m.end())
            if tok is None or core(tok.group()) in vocabulary.SPECIES:
                continue
            word = tok.group()
            w = core(word)
            # "R." and "L." are mostly right and left: a surname after them must be a census one
            side = m.group(1).upper() in "RLK"  # right, left, potassium
            rare_ok = not side and not looks_medical(w)
            ok = ((in_census(w) and w not in lexicon.COMMON_WORDS and lexicon.zipf(w) < (4.0 if side else 4.8))
                  or (rare_ok and case == "mixed" and titled(word) and lexicon.zipf(w) < 3.5))
            if ok and not never(w):
                yield m.start(), tok.end()
        for m in self.FIRST_INITIAL.finditer(text):
            first = m.group(1)
            tok = TOKEN.match(text, m.end())
            if tok is None or core(first) not in lexicon.first_names() or never(core(first)):
                continue
            if case == "mixed" and not first[:1].isupper():
                continue
            if not never(core(tok.group())):
                yield m.start(1), tok.end()

    def _subjects(self, text: str, case: str) -> Iterator[tuple[int, int]]:
        """"bill called", "Emily Canvan reports": a first name as the subject of a verb that
        only people do; "the Romero family"."""
        for verb in self.PERSON_VERB_RE.finditer(text):
            m = self.SUBJECT.search(text, max(0, verb.start() - 60), verb.start())
            if m is None:
                continue
            first, second = m.group(1), m.group(2)
            w = core(first)
            surname = (case == "mixed" and titled(first) and w in lexicon.last_names() and not looks_medical(w)
                       and w not in lexicon.COMMON_WORDS and lexicon.zipf(w) < 3.8)
            if (w in lexicon.first_names() or surname) and not never(w) and not (case == "mixed" and first.islower()):
                end = m.end(1)
                if second and continues_name(second, case, first):
                    end = m.end(2)
                yield m.start(1), end
            elif second and core(second) in lexicon.first_names() and not never(core(second)) \
                    and not (case == "mixed" and second.islower()):
                yield m.start(2), m.end(2)
        for m in self.FAMILY.finditer(text):
            word = m.group(1)
            w = core(word)
            if never(w) or w in lexicon.COMMON_WORDS or w in lexicon.first_names() or looks_medical(w):
                continue
            if w in lexicon.last_names() and lexicon.zipf(w) < 4.0 and not (case == "mixed" and not titled(word)):
                yield m.start(1), m.end(1)

    def _signature(self, text: str, case: str) -> Iterator[tuple[int, int]]:
        """The note's last line, when it is only a name ("Susan", "Mary Rueping")."""
        body = text.rstrip()
        at = body.rfind("\n") + 1
        sentence = max(body.rfind(". ", at), body.rfind("! ", at), body.rfind("? ", at))
        at = sentence + 2 if sentence >= 0 else at
        line = body[at:]
        words = line.split()
        if not 1 <= len(words) <= 3 or not all(TOKEN.fullmatch(w.rstrip(",")) for w in words):
            return
        first = words[0]
        if core(first) not in lexicon.first_names() or never(core(first)) or core(first) in lexicon.COMMON_WORDS:
            return
        if all(is_initial(w) or continues_name(w.rstrip(","), case, first) for w in words[1:]):
            yield at + len(line) - len(line.lstrip()), len(body)
