"""Realistic stand-ins for identifiers, so de-identified notes still read like notes.

Every choice is keyed by an HMAC of (secret, patient, original), so the same person gets the
same surrogate wherever they appear in that patient's notes, and nobody without the secret can
map a surrogate back. Dates move by one offset per patient (between 30 and 365 days back), so
intervals between a patient's dates are kept; the weekday and the season are not.

>>> s = Surrogates(b"k" * 32, patient="p1")
>>> s.replace("NAME", "HEALEY") == s.replace("NAME", "Healey").upper()  # same person, same case
True
>>> a, b = s.replace("DATE", "2009-07-22"), s.replace("DATE", "2009-07-25")
>>> (date.fromisoformat(b) - date.fromisoformat(a)).days  # intervals are kept
3
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import date, timedelta
from functools import cache

from medmaas.privacy.deid import lexicon

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
#: numbers whose stand-in keeps their layout with new digits
_KEEP_LAYOUT = frozenset({"PHONE", "ID", "SSN"})
_REFERENCE_YEAR = 2001  # notes that give no year: any non-leap year keeps month/day arithmetic


class Surrogates:
    """The stand-in for each identifier type, consistent per (secret, patient)."""

    def __init__(self, secret: bytes, patient: str = "") -> None:
        if len(secret) < 16:
            raise ValueError("the surrogate secret must be at least 16 bytes")
        self._secret = secret
        self._patient = patient
        self.shift_days = 30 + self._number("date-shift", "", 336)

    @classmethod
    def from_server_secret(cls, server_secret: bytes, patient: str = "") -> Surrogates:
        """A key of its own, derived from the server secret (domain-separated: the API-key
        hashes and the surrogates never share a key)."""
        return cls(hmac.new(server_secret, b"medmaas deid surrogates v1", hashlib.sha256).digest(), patient)

    def _number(self, kind: str, original: str, modulo: int) -> int:
        message = f"{kind}\x1f{self._patient}\x1f{original.lower()}".encode()
        return int.from_bytes(hmac.new(self._secret, message, hashlib.sha256).digest()[:8], "big") % modulo

    def replace(self, kind: str, original: str) -> str:
        if kind in _KEEP_LAYOUT:
            return self._digits(kind.lower(), original)
        method = getattr(self, f"_{kind.lower()}", None)
        return method(original) if method is not None else f"<{kind}>"

    # -- one method per PHI type ---------------------------------------------------------------

    def _name(self, original: str) -> str:
        words = original.split()
        firsts, lasts = _pool("first"), _pool("last")
        out = []
        for i, word in enumerate(words):
            # "Mary Souza": a first and a last name; "wife Mary": a first name; "Dr. Healey": a last
            first = i == 0 and (len(words) > 1 or word.lower() in lexicon.first_names())
            pool = firsts if first else lasts
            out.append(_same_case(pool[self._number("name", word, len(pool))], word))
        return " ".join(out)

    def _date(self, original: str) -> str:
        parsed = _parse_date(original)
        if parsed is None:
            return "<DATE>"
        day, style = parsed
        moved = day - timedelta(days=self.shift_days)
        return style.format(m=moved.month, d=moved.day, y=moved.year, yy=moved.year % 100,
                            month=_MONTHS[moved.month - 1], mon=_MONTHS[moved.month - 1][:3])

    def _age(self, original: str) -> str:
        return "90"  # Safe Harbor: every age over 89 becomes one category, 90 or older

    def _zip(self, original: str) -> str:
        return "00000"[: len(original.split("-")[0])]  # Safe Harbor: ZIP 000 for small areas

    def _email(self, original: str) -> str:
        return f"{self._name(original.split('@')[0]).lower()}@example.org"

    def _url(self, original: str) -> str:
        return "https://example.org/"

    def _ip(self, original: str) -> str:
        return f"192.0.2.{1 + self._number('ip', original, 254)}"  # TEST-NET-1, never routed

    def _location(self, original: str) -> str:
        cities = _pool("city")
        return _same_case(cities[self._number("location", original, len(cities))], original)

    def _organization(self, original: str) -> str:
        lasts = _pool("last")
        return _same_case(f"{lasts[self._number('org', original, len(lasts))]} Hospital", original)

    def _address(self, original: str) -> str:
        lasts = _pool("last")
        number = 1 + self._number("address-number", original, 998)
        return _same_case(f"{number} {lasts[self._number('address', original, len(lasts))]} Street", original)

    def _digits(self, kind: str, original: str) -> str:
        """The same layout ("617-555-0199" → "402-813-6675"), every digit replaced."""
        out, n = [], self._number(kind, original, 10 ** 18)
        for ch in original:
            if ch.isdigit():
                out.append(str(n % 10))
                n //= 10
            else:
                out.append(ch)
        return "".join(out)


@cache
def _pool(kind: str) -> tuple[str, ...]:
    """The names surrogates are drawn from, sorted once: an index into a fixed order is what
    makes a keyed choice reproducible."""
    sources: dict[str, Callable[[], frozenset[str]]] = {
        "first": lexicon.first_names, "last": lexicon.last_names, "city": lexicon.city_names}
    return tuple(sorted(sources[kind]()))


def _same_case(surrogate: str, original: str) -> str:
    if original.isupper():
        return surrogate.upper()
    if original.islower():
        return surrogate.lower()
    return surrogate.title()


def _parse_date(text: str) -> tuple[date, str] | None:
    """The date and a format that writes a moved date the way the original was written."""
    t = text.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", t):
        return _safe(int(m[1]), int(m[2]), int(m[3]), "{y:04d}-{m:02d}-{d:02d}")
    if m := re.fullmatch(r"(\d{1,2})([/-])(\d{1,2})(?:\2(\d{2}|\d{4}))?", t):
        month, sep, day, year = int(m[1]), m[2], int(m[3]), m[4]
        pad = "02d" if m[1].startswith("0") else "d"
        style = f"{{m:{pad}}}{sep}{{d:{pad}}}"
        if year is None:
            return _safe(_REFERENCE_YEAR, month, day, style)
        full = int(year) + (1900 if len(year) == 2 and int(year) > 30 else 2000 if len(year) == 2 else 0)
        return _safe(full, month, day, style + sep + ("{yy:02d}" if len(year) == 2 else "{y:04d}"))
    months = {name[:3].lower(): i + 1 for i, name in enumerate(_MONTHS)}
    if m := re.fullmatch(r"([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?", t):
        named = months.get(m[1][:3].lower())
        if named is None:
            return None
        style = "{month} {d}" + (", {y}" if m[3] else "")
        return _safe(int(m[3] or _REFERENCE_YEAR), named, int(m[2]), style)
    if m := re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Za-z]{3,9})\.?(?:,?\s+(\d{4}))?", t):
        named = months.get(m[2][:3].lower())
        if named is None:
            return None
        style = "{d} {month}" + (" {y}" if m[3] else "")
        return _safe(int(m[3] or _REFERENCE_YEAR), named, int(m[1]), style)
    return None


def _safe(year: int, month: int, day: int, style: str) -> tuple[date, str] | None:
    try:
        return date(year, month, day), style
    except ValueError:
        return None
