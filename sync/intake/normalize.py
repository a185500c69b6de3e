"""Values as the CRM should hold them: phone in E.164 (US by default), email lower-cased,
ZIP as 5 digits, US state names as their two-letter codes. A value that cannot be
normalised is kept as written (trimmed): the CRM record still gets it."""

from __future__ import annotations

import re

from sync.config.intake import is_email, is_phone

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_ZIP = re.compile(r"^(\d{5})(?:[-\s]?\d{4})?$")
STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
}
_CODES = frozenset(STATES.values())


def email(value: str) -> str | None:
    """Lower-cased; None when it is not an address (a lead then needs a phone)."""
    text = value.strip().strip("<>").strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:"):]
    return text if _EMAIL.match(text) else None


def phone(value: str, default_country: str = "1") -> str | None:
    """E.164 where possible: `(626) 555-0101` -> `+16265550101`; a number with its own `+`
    keeps its country code. None when there are too few digits to be a phone number."""
    text = value.strip()
    text = re.split(r"(?i)\s*(?:x|ext\.?|extension)\s*\d+$", text)[0]
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    if text.startswith("00") and 10 <= len(digits) - 2 <= 15:
        return f"+{digits[2:]}"
    if len(digits) == 10 and default_country == "1" and digits[0] not in "01":
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1") and default_country == "1":
        return f"+{digits}"
    if 7 <= len(digits) <= 15:
        return digits  # not sure of its country: kept as digits, never guessed
    return None


def zip_code(value: str) -> str:
    found = _ZIP.match(value.strip())
    return found.group(1) if found else value.strip()


def state(value: str) -> str:
    text = re.sub(r"\s+", " ", value.strip().rstrip(".")).lower()
    if text.upper() in _CODES:
        return text.upper()
    return STATES.get(text, value.strip())


def is_zip(prop: str) -> bool:
    lowered = prop.lower()
    return "zip" in lowered or "postalcode" in lowered or "postal_code" in lowered


def is_state(prop: str) -> bool:
    lowered = prop.lower()
    return lowered in ("state", "state_code", "statecode") or lowered.endswith("_state")


def value_for(prop: str, raw: str) -> str | None:
    """The CRM value of one mapped property; None drops it (an email that is no address,
    a phone with too few digits)."""
    text = " ".join(raw.split())
    if not text:
        return None
    if is_email(prop):
        return email(text)
    if is_phone(prop):
        return phone(text)
    if is_zip(prop):
        return zip_code(text)
    if is_state(prop):
        return state(text)
    return text
