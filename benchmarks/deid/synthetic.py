"""A synthetic corpus of clinical notes with every Safe Harbor type the recognizers target,
generated with known spans (seeded, so every run scores the same notes).

Sentences are written the way ICU and clinic notes are (abbreviations, clinical numbers that
must stay, eponyms, signatures, initials, wards, extensions, contact lists); each note is
rendered in one case style (as typed, UPPER, lower). States are written but are not spans:
Safe Harbor keeps them. Names
are drawn from the 1990 US Census lists, weighted towards common names, places from the US
cities of GeoNames. The name and place recognizers use the same lists, so this corpus measures
context, formats and case handling, not coverage of unseen names: PhysioNet does that.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

SENTENCES = (
    "Pt is a {AGE} yo woman admitted from {HOSPITAL} with hypotension.",
    "Seen by Dr. {CLINICIAN} on {DATE}; plan to continue Lasix 40 mg IV BID.",
    "Wife {RELATIVE} at bedside, updated on plan of care, call {PHONE} with changes.",
    "Daughter {RELATIVE} called, questions answered.",
    "MRN: {MRN}. SSN {SSN} verified with admitting.",
    "Lives at {ADDRESS}, {CITY}, {STATE} {ZIP} with her husband.",
    "Transferred to {HOSPITAL} on {DATE} for cardiac cath.",
    "{PATIENT} tolerated PS 10/5 and PEEP 5/5 overnight, RR 18, SaO2 97%.",
    "Labs sent {DATE}: K 3.9, Cr 1.2, Hct 30.1; repeat in 6-8 hrs.",
    "Family meeting with {PATIENT_FULL} and son {RELATIVE}; DNR/DNI confirmed.",
    "Portal message from {EMAIL}; see {URL} for the discharge packet.",
    "Remote access logged from {IP} by {CLINICIAN}, RN.",
    "Hx Parkinson's disease, Crohn's, s/p CABG; Foley in place, Gram stain pending.",
    "Swan-Ganz removed, BP 120/80, HR 72 SR, gave 1/2 NS at 75 cc/hr.",
    "Per Dr. {CLINICIAN}, f/u in clinic {DATE}; pt's {AGE} yo mother lives in {CITY}.",
    "Paged Dr. {CLINICIAN} re: urine output 10-15 cc/hr, pager {PAGER}.",
    # nursing-note habits: signatures, initials, role words, wards, extensions, contact lists
    "Plan: transfer to {WARD} {WARD_NO} when a bed opens; discussed with NP {CLINICIAN_FIRST}.",
    "Sons {RELATIVE} and {RELATIVE_2} in to visit; {RELATIVE} is HCP. Per {INITIAL}. {CLINICIAN}, MD, hold heparin.",
    "Contact: {RELATIVE} {RELATIVE_LAST} (daughter) cell {PHONE}.",
    "Called {INITIAL}. {CLINICIAN} at x{EXT} about K 3.2, repleted.",
    "Pt followed at {HOSP_INITIALS} for CHF; lives in {CITY} with her son.",
    "Bronched by Dr. {CLINICIAN} on {DATE}; BAL sent, Gram stain pending, CXR done.",
    "{CLINICIAN_FIRST} {INITIAL}. {CLINICIAN}, RRT",
)
# States are kept under Safe Harbor (only places smaller than a state are identifiers): no span.
TYPE_OF = {"AGE": "AGE", "HOSPITAL": "ORGANIZATION", "CLINICIAN": "NAME", "DATE": "DATE",
           "RELATIVE": "NAME", "PHONE": "PHONE", "MRN": "ID", "SSN": "SSN", "ADDRESS": "ADDRESS",
           "CITY": "LOCATION", "STATE": None, "ZIP": "ZIP", "PATIENT": "NAME",
           "PATIENT_FULL": "NAME", "EMAIL": "EMAIL", "URL": "URL", "IP": "IP", "PAGER": "PHONE",
           "WARD": "LOCATION", "WARD_NO": None, "CLINICIAN_FIRST": "NAME", "RELATIVE_2": "NAME",
           "RELATIVE_LAST": "NAME", "INITIAL": "NAME", "EXT": "PHONE", "HOSP_INITIALS": "ORGANIZATION"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
STREETS = ("Street", "Avenue", "Road", "Lane", "Drive", "Court")
HOSPITAL_KINDS = ("Hospital", "Medical Center", "Memorial Hospital", "Rehab Center", "Clinic")


def _values(rng: random.Random) -> dict[str, Callable[[], str]]:
    from importlib import resources

    from medmaas.privacy.deid import lexicon

    def common(path: str, top: int) -> list[str]:
        text = (resources.files("names") / path).read_text().splitlines()
        return [line.split()[0].title() for line in text[:top] if not lexicon.not_a_name(line.split()[0])]

    firsts = common("dist.female.first", 400) + common("dist.male.first", 400)
    lasts = common("dist.all.last", 3000)
    cities = sorted(c for c in lexicon.city_names() if " " in c or lexicon.zipf(c.lower()) < 4.0)
    states = sorted(lexicon.STATES.values())

    def date() -> str:
        m, d, y = rng.randint(1, 12), rng.randint(1, 28), rng.randint(1990, 2025)
        return rng.choice([f"{m}/{d}", f"{m}/{d}/{y}", f"{m:02d}/{d:02d}/{y % 100:02d}",
                           f"{y}-{m:02d}-{d:02d}", f"{MONTHS[m - 1]} {d}, {y}", f"{MONTHS[m - 1][:3]} {d}"])

    def digits(n: int) -> str:
        return "".join(str(rng.randint(0, 9)) for _ in range(n))

    return {
        "AGE": lambda: str(rng.randint(90, 104)),
        "HOSPITAL": lambda: f"{rng.choice(lasts)} {rng.choice(HOSPITAL_KINDS)}",
        "CLINICIAN": lambda: rng.choice(lasts),
        "CLINICIAN_FIRST": lambda: rng.choice(firsts),
        "RELATIVE": lambda: rng.choice(firsts),
        "RELATIVE_2": lambda: rng.choice(firsts),
        "RELATIVE_LAST": lambda: rng.choice(lasts),
        "INITIAL": lambda: rng.choice("ABCDEFGHJMNPSTW"),
        "WARD": lambda: rng.choice(lasts),
        "WARD_NO": lambda: str(rng.randint(2, 12)),
        "EXT": lambda: digits(4),
        "HOSP_INITIALS": lambda: "".join(rng.choice("ABCDEFGJKLMNPRSTW") for _ in range(rng.randint(2, 3)))
        + rng.choice(["H", "MC"]),
        "PATIENT": lambda: f"{rng.choice(firsts)} {rng.choice(lasts)}",
        "PATIENT_FULL": lambda: f"{rng.choice(firsts)} {rng.choice(lasts)}",
        "DATE": date,
        "PHONE": lambda: rng.choice([f"({digits(3)}) {digits(3)}-{digits(4)}", f"{rng.randint(2, 9)}{digits(2)}-{rng.randint(2, 9)}{digits(2)}-{digits(4)}"]),
        "PAGER": lambda: f"{digits(3)}-{digits(4)}",
        "MRN": lambda: digits(rng.randint(6, 9)),
        "SSN": lambda: f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "ADDRESS": lambda: f"{rng.randint(1, 9999)} {rng.choice(lasts)} {rng.choice(STREETS)}",
        "CITY": lambda: rng.choice(cities),
        "STATE": lambda: rng.choice(states),
        "ZIP": lambda: digits(5),
        "EMAIL": lambda: f"{rng.choice(firsts).lower()}.{rng.choice(lasts).lower()}@example.org",
        "URL": lambda: f"https://portal.example.org/p/{digits(6)}",
        "IP": lambda: f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    }


def generate(n_notes: int = 400, seed: int = 0) -> tuple[dict[tuple[int, int], str],
                                                         dict[tuple[int, int], list[tuple[int, int, str]]]]:
    """(notes, gold spans) keyed like the PhysioNet reader's output: (0, note number)."""
    rng = random.Random(seed)
    values = _values(rng)
    notes, gold = {}, {}
    for i in range(n_notes):
        style = rng.choice(["as typed", "as typed", "upper", "lower"])
        text, spans = "", []
        for template in rng.sample(SENTENCES, k=rng.randint(3, 7)):
            at = 0
            chosen: dict[str, str] = {}
            for slot in re.finditer(r"\{(\w+)\}", template):
                text += _styled(template[at:slot.start()], style)
                name = slot.group(1)
                value = chosen.setdefault(name, _styled(values[name](), style))
                if TYPE_OF[name] is not None:
                    spans.append((len(text), len(text) + len(value), TYPE_OF[name]))
                text += value
                at = slot.end()
            text += _styled(template[at:], style) + " "
        notes[(0, i)] = text
        gold[(0, i)] = spans
    return notes, gold


def _styled(text: str, style: str) -> str:
    return text.upper() if style == "upper" else text.lower() if style == "lower" else text
