"""Great-circle distance and nearest-facility selection."""

from __future__ import annotations

from collections.abc import Iterable
from math import asin, cos, radians, sin, sqrt

from routing.models import Facility, GeoPoint

EARTH_RADIUS_KM = 6371.0088


def haversine_km(a: GeoPoint, b: GeoPoint) -> float:
    lat1, lat2 = radians(a.lat), radians(b.lat)
    dlat = lat2 - lat1
    dlon = radians(b.lon - a.lon)
    h = sin(dlat / 2) ** 2 + cos(lat1) * cos(lat2) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def offers(facility: Facility, level: str | None) -> bool:
    """A facility with no listed levels offers every level; no level requested = any."""
    return level is None or not facility.levels_of_care or level in facility.levels_of_care


def nearest(facilities: Iterable[Facility], location: GeoPoint) -> tuple[Facility, float] | None:
    """The closest facility (ties: lowest id), with its distance in km."""
    best: tuple[float, str, Facility] | None = None
    for f in facilities:
        d = haversine_km(location, f.location)
        if best is None or (d, f.id) < (best[0], best[1]):
            best = (d, f.id, f)
    return None if best is None else (best[2], best[0])
