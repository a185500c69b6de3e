"""Synthetic treatment-center data: the demo owners and realistic contact mixes.

Everything here is invented: names come from short generic lists, emails use reserved
``example.*`` domains and phone numbers the fictional 555-01xx range.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from typing import TypeVar

from .model import iso
from .store import Owner

__all__ = ["DEMO_OWNERS", "demo_owners", "synthetic_contacts"]

T = TypeVar("T")

DOMAIN = "sunrise-recovery.example"
# (id, first, last, email local part, type, teams)
DEMO_OWNERS: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("1001", "Maria", "Lopez", "maria", "PERSON", ("Admissions", "VOB")),
    ("1002", "Li", "Chen", "li", "PERSON", ("Admissions", "VOB")),
    ("1003", "James", "Okafor", "james", "PERSON", ("Admissions",)),
    ("1004", "Sofia", "Ramirez", "sofia", "PERSON", ("Admissions", "Spanish")),
    ("1005", "Devon", "Price", "devon", "PERSON", ("Admissions", "Medicaid")),
    ("1006", "Aisha", "Khan", "aisha", "PERSON", ("Admissions",)),
    ("1007", "Carlos", "Mendez", "carlos", "PERSON", ("Admissions", "Spanish")),
    ("1008", "Priya", "Nair", "priya", "PERSON", ("Admissions", "Medicaid")),
    ("1009", "Dana", "Whitfield", "dana", "PERSON", ("Supervisors",)),
    ("1090", "Admissions", "Inbox", "admissions", "QUEUE", ()),
)
_TEAM_IDS = {"Admissions": "501", "VOB": "502", "Spanish": "503", "Medicaid": "504",
             "Supervisors": "505"}


def demo_owners(created_ms: int) -> list[Owner]:
    """The fixed demo roster (config.example.toml refers to these ids)."""
    out = []
    for oid, first, last, local, kind, teams in DEMO_OWNERS:
        out.append(Owner(
            id=oid, email=f"{local}@{DOMAIN}", first_name=first, last_name=last,
            user_id=int(oid) + 7_000_000, type=kind,
            teams=[{"id": _TEAM_IDS[t], "name": t, "primary": i == 0}
                   for i, t in enumerate(teams)],
            created_ms=created_ms, updated_ms=created_ms,
        ))
    return out


_FIRST = ("Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
          "Rowan", "Skyler", "Dakota", "Reese", "Emerson", "Finley", "Harper", "Kendall",
          "Logan", "Parker", "Sawyer", "Elena", "Mateo", "Lucia", "Diego", "Camila", "Ana")
_LAST = ("Testperson", "Sample", "Placeholder", "Fictional", "Example", "Demo", "Synthetic",
         "Madeup", "Notreal", "Sandbox", "Mockley", "Fakerson", "Dummy", "Pretend", "Invent")
# state -> real ZIP codes of that state
ZIPS: dict[str, tuple[str, ...]] = {
    "CA": ("90012", "92101", "94103", "95814", "92660", "91101", "93301", "92501", "95112"),
    "AZ": ("85004", "85251", "85701", "86001", "85301", "85281"),
    "NV": ("89101", "89501", "89052", "89502", "89123"),
    "TX": ("78701", "77002", "75201", "78205", "79901", "76102"),
    "FL": ("33101", "32801", "33602", "32202"),
    "CO": ("80202", "80903", "80521"),
    "NM": ("87102", "88001"),
    "UT": ("84101", "84601"),
    "OR": ("97205", "97401"),
}
_STATE_W = {"CA": 30, "AZ": 18, "NV": 10, "TX": 18, "FL": 8, "CO": 5, "NM": 4, "UT": 4, "OR": 3}
_AREA = {"CA": "213", "AZ": "602", "NV": "702", "TX": "512", "FL": "305", "CO": "303",
         "NM": "505", "UT": "801", "OR": "503"}
_SOURCE_W = {"PAID_SEARCH": 35, "ORGANIC_SEARCH": 20, "DIRECT_TRAFFIC": 10, "REFERRALS": 15,
             "PAID_SOCIAL": 10, "OFFLINE": 8, "SOCIAL_MEDIA": 2}
_INSURANCE_W = {"commercial": 25, "ppo": 20, "hmo": 8, "medicaid": 22, "medicare": 8,
                "self_pay": 10, "tricare": 7}
_LOC_W = {"detox": 25, "residential": 35, "php": 15, "iop": 17, "outpatient": 8}
_LANG_W = {"english": 80, "spanish": 20}


def _weighted(rng: random.Random, weights: dict[str, int], n: int) -> list[str]:
    keys = [sys.intern(k) for k in weights]
    return rng.choices(keys, weights=list(weights.values()), k=n)


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[rng.randrange(len(seq))]


def synthetic_contacts(n: int, *, start_ms: int, end_ms: int, owner_ids: Sequence[str],
                       owned_fraction: float, rng_seed: int | None,
                       first_serial: int = 0) -> list[tuple[dict[str, str], int]]:
    """(properties, created_ms) for ``n`` contacts created uniformly in [start, end]."""
    rng = random.Random(rng_seed)
    states = _weighted(rng, _STATE_W, n)
    sources = _weighted(rng, _SOURCE_W, n)
    insurance = _weighted(rng, _INSURANCE_W, n)
    loc = _weighted(rng, _LOC_W, n)
    lang = _weighted(rng, _LANG_W, n)
    new, lead = sys.intern("NEW"), sys.intern("lead")
    out = []
    for i in range(n):
        created = rng.randint(start_ms, end_ms) if end_ms > start_ms else start_ms
        first, last = _pick(rng, _FIRST), _pick(rng, _LAST)
        serial = first_serial + i
        state = states[i]
        props = {
            "firstname": first,
            "lastname": last,
            "email": f"{first.lower()}.{last.lower()}.{serial}@example.com",
            "phone": f"+1 {_AREA[state]} 555 01{rng.randrange(100):02d}",
            "state": state,
            "zip": _pick(rng, ZIPS[state]),
            "country": "US",
            "hs_analytics_source": sources[i],
            "insurance_type": insurance[i],
            "level_of_care": loc[i],
            "preferred_language": lang[i],
            "hs_lead_status": new,
            "lifecyclestage": lead,
        }
        if owner_ids and owned_fraction > 0 and rng.random() < owned_fraction:
            props["hubspot_owner_id"] = _pick(rng, owner_ids)
            props["hubspot_owner_assigneddate"] = iso(created)
        out.append((props, created))
    return out
