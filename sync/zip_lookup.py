"""ZIP code -> coordinates, from the data the `zipcodes` package ships (nothing downloaded)."""

from __future__ import annotations

from functools import lru_cache

import zipcodes

from routing.models import GeoPoint


@lru_cache(maxsize=65536)
def locate_zip(zip_code: str) -> GeoPoint | None:
    """The centre of a US ZIP code (ZIP+4 and 5-digit forms), or None when unknown."""
    five = zip_code.strip()[:5]
    if len(five) != 5 or not five.isdigit():
        return None
    try:
        matches = zipcodes.matching(five)
    except (ValueError, TypeError):
        return None
    if not matches:
        return None
    try:
        return GeoPoint(float(matches[0]["lat"]), float(matches[0]["long"]))
    except (KeyError, TypeError, ValueError):
        return None
