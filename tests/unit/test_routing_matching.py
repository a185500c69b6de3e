"""Rule matching: conditions on lead attributes, AND across, first match wins."""

from __future__ import annotations

import pytest
from routing_builders import coord, lead, roster, rule, rulebook, utc, when

from routing import route
from routing.models import Condition

NOW = utc(2026, 3, 4, 15, 0)
TEAM = [coord("a", "t")]


def matched(conditions: tuple[Condition, ...], **attrs: str) -> bool:
    rb = rulebook(TEAM, [rule("r", conditions, teams=["t"])])
    return route(lead(**attrs), rb, roster(), NOW).rule == "r"


CASES = [
    # id, conditions, lead attributes, expected match
    ("equality matches", when(insurance="commercial"), {"insurance": "commercial"}, True),
    (
        "membership: any listed value",
        when(insurance=["commercial", "ppo"]),
        {"insurance": "ppo"},
        True,
    ),
    (
        "value not in list does not match",
        when(insurance=["commercial", "ppo"]),
        {"insurance": "medicaid"},
        False,
    ),
    (
        "case-insensitive lead value",
        when(insurance="commercial"),
        {"insurance": "COMMERCIAL"},
        True,
    ),
    ("trimmed lead value", when(insurance="commercial"), {"insurance": "  Commercial \t"}, True),
    ("missing attribute does not match", when(insurance="commercial"), {}, False),
    (
        "blank attribute counts as missing",
        when(insurance="commercial"),
        {"insurance": "   "},
        False,
    ),
    (
        "every condition must match (AND) - both hold",
        when(insurance="ppo", state="ca"),
        {"insurance": "ppo", "state": "CA"},
        True,
    ),
    (
        "every condition must match (AND) - one fails",
        when(insurance="ppo", state="ca"),
        {"insurance": "ppo", "state": "NV"},
        False,
    ),
    ("state list", when(state=["ca", "nv", "az"]), {"state": "az"}, True),
    ("state list excludes others", when(state=["ca", "nv", "az"]), {"state": "tx"}, False),
    (
        "not_in matches other values",
        when(insurance=("not_in", ["medicaid"])),
        {"insurance": "ppo"},
        True,
    ),
    (
        "not_in rejects listed value",
        when(insurance=("not_in", ["medicaid"])),
        {"insurance": "Medicaid"},
        False,
    ),
    (
        "not_in does not match a missing attribute",
        when(insurance=("not_in", ["medicaid"])),
        {},
        False,
    ),
    ("zip prefix matches", when(zip=("prefix", ["941", "940"])), {"zip": "94110"}, True),
    ("zip prefix matches zip+4", when(zip=("prefix", ["941"])), {"zip": " 94110-1234 "}, True),
    (
        "zip prefix does not match other prefix",
        when(zip=("prefix", ["941"])),
        {"zip": "10001"},
        False,
    ),
    ("zip prefix needs the attribute", when(zip=("prefix", ["941"])), {}, False),
    (
        "present matches a non-empty value",
        when(source=("present",)),
        {"source": "paid_search"},
        True,
    ),
    ("present rejects missing", when(source=("present",)), {}, False),
    ("absent matches missing", when(source=("absent",)), {}, True),
    ("absent matches blank", when(source=("absent",)), {"source": " "}, True),
    ("absent rejects a value", when(source=("absent",)), {"source": "display"}, False),
    ("a rule with no conditions matches all", (), {}, True),
    (
        "unknown attribute in the rule never matches",
        when(payer_tier="gold"),
        {"insurance": "ppo"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("conditions", "attrs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_condition(
    conditions: tuple[Condition, ...], attrs: dict[str, str], expected: bool
) -> None:
    assert matched(conditions, **attrs) is expected


def test_first_matching_rule_wins_and_skipped_rules_are_explained() -> None:
    rb = rulebook(
        TEAM,
        [
            rule("medicaid", when(insurance="medicaid"), teams=["t"]),
            rule("paid", when(source="paid_search"), teams=["t"]),
            rule("catch_all", teams=["t"]),
        ],
    )
    d = route(lead(insurance="ppo", source="paid_search"), rb, roster(), NOW)
    assert d.rule == "paid"
    kinds = [(s.kind, s.detail) for s in d.explanation]
    assert ("rule_skipped", "medicaid: insurance='ppo' not in [medicaid]") in kinds
    assert any(k == "rule_matched" and t.startswith("paid") for k, t in kinds)


def test_zip_value_is_never_echoed_in_the_explanation() -> None:
    rb = rulebook(TEAM, [rule("bay", when(zip=("prefix", ["941"])), teams=["t"])])
    d = route(lead(zip="10001"), rb, roster(), NOW)
    assert d.rule is None
    assert not any("10001" in s.detail for s in d.explanation)
    assert any("zip does not start with any of [941]" in s.detail for s in d.explanation)
