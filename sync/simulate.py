"""`leadrouter simulate`: replay leads from CSV/JSONL through the rulebook, writing nothing.

Leads are routed in `created_at` order as if they arrived then. Each assigned lead stays
open (counts against its owner's capacity) until its SLA deadline, since a simulation has
no contact attempts to close it. Held leads are reported as held with their release time.
"""

from __future__ import annotations

import csv
import heapq
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from routing import apply_decision, route
from routing.models import Decision, Lead, RosterState, Status
from sync.config import Config
from sync.routing_input import make_lead, routing_attributes


class InputError(Exception):
    """The lead file cannot be used; `problems` names each bad line (never its content)."""

    phi_safe = True

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Summary:
    total: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_owner: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    peak_open: dict[str, int] = field(default_factory=dict)

    def add(self, decision: Decision, roster: RosterState) -> None:
        self.total += 1
        self.by_status[decision.status.value] += 1
        self.by_rule[decision.rule or "(no rule matched)"] += 1
        self.by_reason[decision.reason] += 1
        if decision.owner:
            self.by_owner[decision.owner] += 1
            open_now = roster.open_counts.get(decision.owner, 0)
            self.peak_open[decision.owner] = max(self.peak_open.get(decision.owner, 0), open_now)


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("created_at is missing")
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("created_at is not ISO 8601 (e.g. 2026-11-02T09:15:00-08:00)") from None
    if moment.tzinfo is None:
        raise ValueError("created_at needs a UTC offset (e.g. -08:00 or Z)")
    return moment


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.read(1)
        handle.seek(0)
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or first == "{":
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    yield number, {"__error__": "not a JSON object"}
                    continue
                yield number, record if isinstance(record, dict) else {
                    "__error__": "not a JSON object"}
        else:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, dict(row)


def read_leads(path: Path, config: Config) -> list[Lead]:
    """Every lead of the file, sorted by arrival; all bad lines reported together."""
    leads: list[Lead] = []
    problems: list[str] = []
    seen: set[str] = set()
    try:
        for number, record in _records(path):
            error = record.get("__error__")
            lead_id = str(record.get("id") or "").strip()
            try:
                if error:
                    raise ValueError(error)
                if not lead_id:
                    raise ValueError("id is missing")
                if lead_id in seen:
                    raise ValueError(f"id {lead_id} appears twice")
                created_at = _parse_time(record.get("created_at"))
            except ValueError as exc:
                problems.append(f"{path.name}:{number}: {exc}")
                continue
            seen.add(lead_id)
            leads.append(make_lead(lead_id, created_at, routing_attributes(record, config),
                                   config))
    except FileNotFoundError:
        raise InputError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError([f"{path}: cannot read: {type(exc).__name__}"]) from None
    if problems:
        shown = problems[:20]
        if len(problems) > 20:
            shown.append(f"... and {len(problems) - 20} more bad lines")
        raise InputError(shown)
    leads.sort(key=lambda lead: (lead.created_at, lead.id))
    return leads


def simulate(leads: list[Lead], config: Config) -> Iterator[tuple[Decision, RosterState]]:
    """Route each lead at its arrival time; yields each decision with the roster after it."""
    roster = RosterState()
    closing: list[tuple[datetime, int, str]] = []  # (sla deadline, tiebreak, owner)
    for index, lead in enumerate(leads):
        now = lead.created_at
        released: Counter[str] = Counter()
        while closing and closing[0][0] <= now:
            _, _, owner = heapq.heappop(closing)
            released[owner] += 1
        if released:
            counts = {k: v - released.get(k, 0) for k, v in roster.open_counts.items()}
            roster = replace(roster, open_counts=counts)
        decision = route(lead, config.rulebook, roster, now)
        roster = apply_decision(roster, decision)
        if decision.status is Status.ASSIGNED and decision.owner:
            due = decision.sla_due or now + config.rulebook.default_sla
            heapq.heappush(closing, (due, index, decision.owner))
        yield decision, roster


def decision_json(decision: Decision) -> str:
    reason = decision.reason
    if decision.status is Status.HELD and decision.release_at:
        reason = f"{reason} until {decision.release_at.astimezone(UTC).isoformat()}"
    return json.dumps({
        "id": decision.lead_id,
        "owner": decision.owner,
        "rule": decision.rule,
        "status": decision.status.value,
        "reason": reason,
    })
