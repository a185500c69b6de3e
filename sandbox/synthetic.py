"""Synthetic treatment-center leads: routing attributes only, a realistic mix, reproducible.

Used to build the bundled sample file, the tests' lead files and benchmarks. Run as
`python -m sandbox.synthetic N OUT.csv [--days D] [--seed S]`.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# (state, weight, ZIPs) — real ZIP codes around the two example campuses and beyond
STATES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("CA", 40, ("91101", "91106", "90012", "90210", "92101", "94103", "95814", "93301")),
    ("AZ", 30, ("85004", "85251", "85281", "85701", "86001", "85364")),
    ("NV", 10, ("89101", "89501", "89052")),
    ("TX", 8, ("75201", "77002", "78701")),
    ("NM", 5, ("87102", "88001")),
    ("UT", 4, ("84101",)),
    ("CO", 3, ("80202",)),
)
INSURANCE = (("commercial", 30), ("ppo", 14), ("hmo", 6), ("medicaid", 25), ("medicare", 5),
             ("self_pay", 8), ("tricare", 4), ("", 8))
SOURCES = (("PAID_SEARCH", 35), ("ORGANIC_SEARCH", 20), ("DIRECT_TRAFFIC", 10),
           ("REFERRALS", 15), ("PAID_SOCIAL", 10), ("OFFLINE", 10))
LEVELS = (("detox", 30), ("residential", 35), ("php", 12), ("iop", 15), ("outpatient", 5),
          ("", 3))
LANGUAGES = (("english", 82), ("spanish", 18))
FIELDS = ("id", "created_at", "insurance", "state", "zip", "source", "level_of_care",
          "language")


def _pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _arrival(rng: random.Random, start: datetime, days: float) -> datetime:
    """Arrivals bunch in the daytime (Pacific) but a quarter come at night or on weekends."""
    while True:
        moment = start + timedelta(seconds=rng.uniform(0, days * 86400))
        local_hour = (moment.astimezone(UTC).hour - 8) % 24
        if 7 <= local_hour < 21 or rng.random() < 0.35:
            return moment.replace(microsecond=0)


def synthetic_leads(count: int, *, start: datetime | None = None, days: float = 30.0,
                    seed: int = 7) -> list[dict[str, str]]:
    """`count` leads with the example config's attribute names, sorted by created_at."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    state_weights = [w for _, w, _ in STATES]
    leads = []
    for index in range(count):
        state, _, zips = rng.choices(STATES, weights=state_weights)[0]
        created = _arrival(rng, start, days)
        leads.append({
            "id": str(100000 + index),
            "created_at": created.isoformat(),
            "insurance": _pick(rng, INSURANCE),
            "state": state,
            "zip": rng.choice(zips),
            "source": _pick(rng, SOURCES),
            "level_of_care": _pick(rng, LEVELS),
            "language": _pick(rng, LANGUAGES),
        })
    leads.sort(key=lambda lead: lead["created_at"])
    return leads


def write_leads(leads: list[dict[str, Any]], path: Path) -> None:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open("w", encoding="utf-8") as handle:
            for lead in leads:
                handle.write(json.dumps(lead) + "\n")
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(leads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write_leads(synthetic_leads(args.count, days=args.days, seed=args.seed), args.out)


if __name__ == "__main__":
    main()
