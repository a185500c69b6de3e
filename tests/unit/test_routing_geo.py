"""Geography: nearest facility offering the lead's level of care."""

from __future__ import annotations

import pytest
from routing_builders import coord, facility, lead, roster, rule, rulebook, utc

from routing import route
from routing.geo import haversine_km
from routing.models import GeoPoint, Status

NOW = utc(2026, 3, 4, 15, 0)
SAN_JOSE = (37.3382, -121.8863)
SAN_DIEGO = (32.7157, -117.1611)
SF = facility("sf", 37.7749, -122.4194, "detox", "residential")
LA_F = facility("la", 34.0522, -118.2437, "residential", "iop")
NY_F = facility("ny", 40.7128, -74.0060)  # no levels listed: offers every level
COORDS = [
    coord("s1", "t", facility="sf"),
    coord("s2", "t", "medicaid", facility="sf"),
    coord("l1", "t", facility="la"),
    coord("n1", "t", facility="ny"),
    coord("nowhere", "t"),
]

CASES = [
    # id, location, level, teams, expected owner, expected pointer key, explanation fragment
    (
        "nearest facility offering detox (San Jose -> sf)",
        SAN_JOSE,
        "detox",
        [],
        "s1",
        "geo@sf",
        "sf (",
    ),
    (
        "nearest facility is skipped when it lacks the level (San Diego detox -> sf, not la)",
        SAN_DIEGO,
        "detox",
        [],
        "s1",
        "geo@sf",
        "nearest facility offering level_of_care=detox: sf",
    ),
    (
        "nearest facility offering iop (San Diego -> la)",
        SAN_DIEGO,
        "IOP ",
        [],
        "l1",
        "geo@la",
        "la (",
    ),
    (
        "facility with no listed levels offers every level (php -> ny)",
        SAN_DIEGO,
        "php",
        [],
        "n1",
        "geo@ny",
        "ny (",
    ),
    (
        "no level of care on the lead: nearest facility of all",
        SAN_DIEGO,
        None,
        [],
        "l1",
        "geo@la",
        "any level",
    ),
    (
        "geography intersected with the pool's teams",
        SAN_JOSE,
        "detox",
        ["medicaid"],
        "s2",
        "geo@sf",
        "sf (",
    ),
    (
        "no location: every facility offering the level",
        None,
        "iop",
        [],
        "l1",
        "geo",
        "lead has no location",
    ),
]


@pytest.mark.parametrize(
    ("loc", "level", "teams", "owner", "key", "fragment"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_nearest_facility(
    loc: tuple[float, float] | None,
    level: str | None,
    teams: list[str],
    owner: str,
    key: str,
    fragment: str,
) -> None:
    rb = rulebook(COORDS, [rule("geo", teams=teams, nearest=True)], facilities=[SF, LA_F, NY_F])
    attrs = {"level_of_care": level} if level is not None else {}
    d = route(lead(location=loc, **attrs), rb, roster(), NOW)
    assert d.owner == owner
    assert d.pointer is not None and d.pointer.key == key
    assert any(fragment in s.detail for s in d.explanation if s.kind == "facility")


def test_no_location_pools_all_offering_facilities() -> None:
    rb = rulebook(COORDS, [rule("geo", nearest=True)], facilities=[SF, LA_F, NY_F])
    d = route(lead(level_of_care="iop"), rb, roster(), NOW)
    pool = next(s.detail for s in d.explanation if s.kind == "pool")
    assert pool == "candidates: l1, n1"


def test_no_facility_offers_the_level_means_empty_pool_then_fallback() -> None:
    rb = rulebook(
        COORDS, [rule("geo", nearest=True)], facilities=[SF, LA_F], fallback_owner="nowhere"
    )
    d = route(lead(location=SAN_DIEGO, level_of_care="php"), rb, roster(), NOW)
    assert (d.status, d.owner, d.reason) == (Status.ASSIGNED, "nowhere", "fallback:global")
    details = [s.detail for s in d.explanation]
    assert "no facility offers level_of_care=php" in details and "empty pool" in details


def test_coordinators_at_the_nearest_facility_are_subject_to_eligibility() -> None:
    rb = rulebook(COORDS, [rule("geo", nearest=True)], facilities=[SF, LA_F, NY_F])
    d = route(lead(location=SAN_JOSE, level_of_care="detox"), rb, roster(away=["s1", "s2"]), NOW)
    assert (
        d.status is Status.UNROUTABLE
    )  # geography narrows the pool; no spill-over to far facilities


def test_haversine_known_distance() -> None:
    km = haversine_km(GeoPoint(37.7749, -122.4194), GeoPoint(34.0522, -118.2437))
    assert 555 < km < 562
