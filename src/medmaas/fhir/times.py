"""FHIR date and dateTime values as aware datetimes (partial dates allowed by FHIR included)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def instant(value: Any) -> datetime | None:
    """``2019``, ``2019-05``, ``2019-05-01`` or a full dateTime; dates without a zone are UTC.
    None for anything else (the caller says what it skipped)."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    text = value
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def age_in_years(birth: date, at: datetime) -> int:
    """Completed years on the day of ``at``, as clinical ages are counted."""
    day = at.date()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def fhir_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
