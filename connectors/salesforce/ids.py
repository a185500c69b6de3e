"""Salesforce record ids: checked and made canonical before they reach an API call.

An id is 15 case-sensitive characters, or 18: the 15 plus a 3-character checksum of their
case (Salesforce's CASESAFEID()). Each checksum character encodes, for one 5-character
chunk, which characters are upper-case letters (bit i set for an upper-case character i),
as an index into A-Z0-5. The checksum is not a secret -- anyone can compute it -- so a
valid id only proves the text is shaped like an id; it keeps typos, truncations and junk
from failing a whole batch (one malformed id in a SOQL `IN (...)` fails the query).
"""

from __future__ import annotations

import re

_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")  # explicit ranges: ASCII only
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-safe."""
    out = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start:start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        out.append(_CHECKSUM_ALPHABET[bits])
    return "".join(out)


def normalize_id(text: object) -> str | None:
    """The 18-character form of a Salesforce id, or None when `text` is not one.

    A 15-character id gets its checksum; an 18-character id is kept only when its suffix is
    exactly the checksum of its first 15 characters (an id whose case was changed, or whose
    suffix was altered, is refused rather than repaired). Surrounding whitespace is ignored.
    """
    if not isinstance(text, str) or len(text) > 64:
        return None
    candidate = text.strip()
    if not _ID.fullmatch(candidate):
        return None
    expected = checksum(candidate[:15])
    if len(candidate) == 18 and candidate[15:] != expected:
        return None
    return candidate[:15] + expected
