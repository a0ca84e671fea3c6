"""Text de-identification: each Safe Harbor type that occurs in notes is found, in mixed and
upper case; clinical words that look like names or dates stay."""

from __future__ import annotations

import re

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
    ("Patient MRN-K7Q2ZP9XA seen today.", ("ID", "K7Q2ZP9XA")),  # alphanumeric, after a hyphen
    ("Account number AB12C345 billed.", ("ID", "AB12C345")),
    ("Lives at 12 Oak Street with his son.", ("ADDRESS", "12 Oak Street")),
    ("Home in Baltimore, MD 21201 for now.", ("ZIP", "21201")),
    ("Moved to Baltimore last year.", ("LOCATION", "Baltimore")),
    ("Transferred from Calvert Hospital overnight.", ("ORGANIZATION", "Calvert Hospital")),
    ("Seen at St. Agnes before.", ("ORGANIZATION", "St. Agnes")),
])
def test_each_identifier_type_is_found(text: str, expected: tuple[str, str]) -> None:
    assert expected in _types(text)
    assert expected[0] in PHI_TYPES


@pytest.mark.parametrize(("text", "expected"), [
    # clinicians: after roles, before credentials, with initials, in signatures
    ("Discussed with NP Doris, CXR improved.", "Doris"),
    ("Line OK to use per Walter Kuzminskas NP.", "Walter Kuzminskas"),
    ("Seen by K. Lam, MD. Pain to right side.", "K. Lam"),
    ("ROY B. HALLER-DUNNE, RRT", "ROY B. HALLER-DUNNE"),
    ("Drs Pellizzi and Rahimi in to see pt.", "Rahimi"),
    ("DR BOTTARI AND WHITFIELD AWARE.", "WHITFIELD"),
    ("Dr. Murphy aware, bronch done.", "Murphy"),  # an eponym, but after a title a name
    ("Orders signed by Dr. Ted Brown.", "Ted Brown"),
    ("Placed on servo vent.\nMartin Foley CRT", "Martin Foley"),
    ("Pt resting comfortably overnight.\nMary Kovalchik", "Mary Kovalchik"),
    # relatives and proxies, first names alone
    ("social: son bill called twice for updates.", "bill"),
    ("Sons Peter, Lionel and Roger in to visit.", "Roger"),
    ("Hank Wojtaszek (son) cell 555-201-7730.", "Hank Wojtaszek"),
    ("proxy is granddaughter: Irene Grzelak", "Irene Grzelak"),
    ("Son, Ed, was updated by MD today.", "Ed"),
    # places: hospitals, wards, towns
    ("Transferred to SJH for cath.", "SJH"),
    ("Plan: transfer to Pemberton 4 in am.", "Pemberton 4"),
    ("ADMITTED FROM TRINITY HOSP. WITH CHEST PAIN.", "TRINITY HOSP"),
    ("Discharged to Holy Family Rehab this afternoon.", "Holy Family Rehab"),
    ("Lives with her sister in Arbutus area.", "Arbutus"),
    # dates and numbers as nursing notes write them
    ("PMH: CAD, MVR 4/89, echo since.", "4/89"),
    ("Cultures drawn on the 14th.", "14th"),
    ("Came from home in sept. with SOB.", "sept."),
    ("Overdose-3/5/91 per records.", "3/5/91"),
    ("Pager: #61357 for questions.", "61357"),
    ("Call the fellow at x4417 overnight.", "4417"),
])
def test_nursing_note_identifiers_are_found(text: str, expected: str) -> None:
    assert expected in [t for _, t in _types(text)], _types(text)


def test_a_name_found_in_context_is_found_again_elsewhere_in_the_note() -> None:
    note = "Son David called this am. David will visit tomorrow; spoke with David re: plan."
    found = [t for _, t in _types(note)]
    assert found.count("David") == 3


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
    # what nursing notes write that looks like dates, names or places
    "PT C/O 4/10 PAIN, CP 8/10 RELIEVED; AC 500X12/5/50%; ON 5/5 PSV; +3/6 SEM.",
    "MS changes overnight; MR 2+ on echo; MS: alert, cooperative.",
    "Sputum + S. aureus, E. coli in urine; replete K. Begin TPN tonight.",
    "VSS, PA 30/18, CVP 12; unable to wedge PA line; SpO2 97%.",
    "Pt tolerating house diet; wants to leave hospital AMA; poss rehab when ready.",
    "GOING INTO JUNCTIONAL RHYTHM; RESPONDING TO DIURESIS; TITRATED TO MAP > 65.",
    "Janeway lesions, Austin Flint murmur, Hoyer lift and Posey vest noted.",
    "History of Guillain-Barré syndrome, Sjögren's, Raynaud's; Homans sign negative.",
    # after a word that introduces numbers: a lab name or a count is not an identifier
    "Dose adjusted to account for HbA1c trends; case #2 of 3 reviewed; policy A1 applies.",
])
def test_clinical_words_stay(text: str) -> None:
    assert deidentify(text).text == text, _types(text)


def test_clinical_terms_check_list_loses_under_one_percent() -> None:
    """The generated check list (benchmarks/deid/clinical_terms.py: eponyms, devices, drugs,
    abbreviations, labs, units, as typed and in capitals) keeps more than 99% of its terms."""
    from benchmarks.deid.clinical_terms import evaluate_terms

    result = evaluate_terms()
    assert result["sentences"] > 3000
    assert result["fraction_removed"] < 0.01, result["removed_examples"]


def test_states_are_kept_under_safe_harbor() -> None:
    # Safe Harbor removes places smaller than a state; the state itself stays
    note = "Sister lives in California; moved from District of Columbia. Lives in Baltimore."
    assert [t for _, t in _types(note)] == ["Baltimore"]


def test_notes_in_other_languages_are_processed_with_a_warning() -> None:
    spanish = deidentify("Paciente ingresado el 7/22 por dolor torácico. Su esposa llamó al hospital.")
    assert "<DATE>" in spanish.text
    assert spanish.warnings and "English" in spanish.warnings[0]
    assert deidentify("Seen by Dr. Healey on 7/22.").warnings == []


def test_tags_replace_identifiers_and_spans_carry_no_text() -> None:
    result = deidentify("Dr. Healey saw her on 7/22.")
    assert result.text == "Dr. <NAME> saw her on <DATE>."
    assert result.counts() == {"NAME": 1, "DATE": 1}
    assert all(set(vars(s)) == {"start", "end", "type", "score"} for s in result.spans)


def test_overlapping_findings_keep_the_longer() -> None:
    spans = find_phi("Family meeting with John Vasquez today.")
    assert [(s.type, s.end - s.start) for s in spans] == [("NAME", len("John Vasquez"))]


# -- surrogates --------------------------------------------------------------------------------

NOTE = ("Seen by Dr. Healey on 7/22/2009; wife Mary Souza called 617-555-0199. "
        "Dr. HEALEY again on 7/25/2009. MRN 00482913, a 95 year old from Calvert Hospital.")


def test_surrogates_replace_every_identifier_consistently() -> None:
    from medmaas.privacy.deid import Surrogates

    out = deidentify(NOTE, surrogates=Surrogates(b"s" * 32, patient="p1")).text
    for original in ("Healey", "HEALEY", "Mary", "Souza", "7/22/2009", "617-555-0199", "00482913", "Calvert"):
        assert original not in out
    assert "<" not in out  # stand-ins, not tags
    first, second = re.findall(r"Dr\. (\w+)", out)
    assert second == first.upper()  # the same clinician, written as the note wrote him
    assert re.search(r"called \d{3}-\d{3}-\d{4}\.", out) and re.search(r"MRN \d{8},", out)
    assert "a 90 year old" in out  # Safe Harbor: over 89 becomes one category
    from medmaas.privacy.deid import lexicon

    wife = re.search(r"wife (\w+) (\w+)", out)
    assert wife and wife[1].lower() in lexicon.first_names() and wife[2].lower() in lexicon.last_names()


def test_dates_move_together_per_patient() -> None:
    from datetime import datetime

    from medmaas.privacy.deid import Surrogates

    def dates(patient: str) -> list[datetime]:
        out = deidentify(NOTE, surrogates=Surrogates(b"s" * 32, patient=patient)).text
        return [datetime.strptime(d, "%m/%d/%Y") for d in re.findall(r"\d{1,2}/\d{1,2}/\d{4}", out)]

    p1, p2 = dates("p1"), dates("p2")
    assert (p1[1] - p1[0]).days == 3 and (p2[1] - p2[0]).days == 3  # the interval is kept
    assert all(d < datetime(2009, 7, 22) for d in p1)  # moved back
    assert dates("p1") == p1  # the same patient, the same shift


def test_surrogates_are_keyed_by_the_secret() -> None:
    from medmaas.privacy.deid import Surrogates

    one = deidentify(NOTE, surrogates=Surrogates(b"a" * 32, patient="p1")).text
    other = deidentify(NOTE, surrogates=Surrogates(b"b" * 32, patient="p1")).text
    assert one != other
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Surrogates(b"short")
