"""Text de-identification: each Safe Harbor type that occurs in notes is found, in mixed and
upper case; clinical words that look like names or dates stay."""

from __future__ import annotations

import pytest

pytest.importorskip("presidio_analyzer")

from medmaas.privacy.deid import PHI_TYPES, deidentify, find_phi  # noqa: E402


def _types(text: str) -> list[tuple[str, str]]:
    return [(s.type, text[s.start:s.end]) for s in find_phi(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("Seen by Dr. Healey this morning.", ("NAME", "Healey")),
    ("Wife Mary at bedside.", ("NAME", "Mary")),
    ("Discussed with Marotta, RN.", ("NAME", "Marotta")),
    ("Family meeting with John Vasquez.", ("NAME", "John Vasquez")),
    ("Admitted 7/22 after a fall.", ("DATE", "7/22")),
    ("Surgery on 07/22/2009.", ("DATE", "07/22/2009")),
    ("Seen on July 22, 2009 in clinic.", ("DATE", "July 22, 2009")),
    ("Follow up 2009-07-22.", ("DATE", "2009-07-22")),
    ("A 92 year old man.", ("AGE", "92")),
    ("Call 617-555-0199 with results.", ("PHONE", "617-555-0199")),
    ("Pager 4-5678 overnight.", ("PHONE", "4-5678")),
    ("Email j.doe@example.org today.", ("EMAIL", "j.doe@example.org")),
    ("Portal at https://portal.example.org/a?b=1 works.", ("URL", "https://portal.example.org/a?b=1")),
    ("Logged in from 192.168.10.21 yesterday.", ("IP", "192.168.10.21")),
    ("SSN 536-22-8741 on file.", ("SSN", "536-22-8741")),
    ("MRN: 00482913 checked.", ("ID", "00482913")),
    ("Lives at 12 Oak Street with his son.", ("ADDRESS", "12 Oak Street")),
    ("Home in Baltimore, MD 21201 for now.", ("ZIP", "21201")),
    ("Moved to Baltimore last year.", ("LOCATION", "Baltimore")),
    ("Transferred from Calvert Hospital overnight.", ("ORGANIZATION", "Calvert Hospital")),
    ("Seen at St. Agnes before.", ("ORGANIZATION", "St. Agnes")),
])
def test_each_identifier_type_is_found(text: str, expected: tuple[str, str]) -> None:
    assert expected in _types(text)
    assert expected[0] in PHI_TYPES


def test_upper_case_notes() -> None:
    note = "PT IS A 93 YO MAN FROM CALVERT HOSPITAL, SEEN 7/23 BY DR. HEALEY; WIFE MARY CALLED 555-0199."
    found = {t for t, _ in _types(note)}
    assert {"AGE", "ORGANIZATION", "DATE", "NAME", "PHONE"} <= found


@pytest.mark.parametrize("text", [
    "History of Parkinson's disease and Crohn's, Foley in place, Gram stain pending.",
    "Swan-Ganz catheter removed; Hodgkin lymphoma in 2001; Bell's palsy resolved.",
    "PEEP 5/5 and PS 10/5; urine output 10-15 cc/hr; gave 1/2 NS.",
    "A 58 year old woman; BP 120/80; K 3.9; ST elevations in V2-V4.",
    "Pt is alert, given bolus, flow sheet updated, states comfort.",
    "Discharged to rehab; plan for cardiac rehab; transferred from nursing home.",
])
def test_clinical_words_stay(text: str) -> None:
    assert deidentify(text).text == text, _types(text)


def test_tags_replace_identifiers_and_spans_carry_no_text() -> None:
    result = deidentify("Dr. Healey saw her on 7/22.")
    assert result.text == "Dr. <NAME> saw her on <DATE>."
    assert result.counts() == {"NAME": 1, "DATE": 1}
    assert all(set(vars(s)) == {"start", "end", "type", "score"} for s in result.spans)


def test_overlapping_findings_keep_the_longer() -> None:
    spans = find_phi("Family meeting with John Vasquez today.")
    assert [(s.type, s.end - s.start) for s in spans] == [("NAME", len("John Vasquez"))]
