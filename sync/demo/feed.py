"""One readable line per routing, contact and escalation, read from the audit trail as the
service writes it. Lead ids, coordinator ids and rule names only -- never contact data."""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import TextIO

from state import AuditEntry, AuditKind, Store


def _clock(at: datetime) -> str:
    return at.astimezone().strftime("%H:%M:%S")


def _parse(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class AuditFeed(threading.Thread):
    def __init__(self, store: Store, out: TextIO, stop: threading.Event) -> None:
        super().__init__(name="demo-feed", daemon=True)
        self.store, self.out, self.stop = store, out, stop
        self.last_id = 0
        self.created: dict[str, datetime] = {}
        self.routed_at: dict[str, datetime] = {}
        self.owner: dict[str, str] = {}
        self.time_to_owner: list[float] = []
        self.counts: Counter[str] = Counter()

    def say(self, text: str) -> None:
        """A line from another actor of the demo, stamped with the time now."""
        self.out.write(f"{_clock(datetime.now(UTC))}  {text}\n")
        self.out.flush()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.drain()

    def drain(self) -> None:
        try:
            with self.store.unit_of_work(read_only=True) as uow:
                rows = uow.audit.after(self.last_id, 500)
        except Exception:  # the store is busy or closing: try again next tick
            return
        for row in rows:
            self.last_id = max(self.last_id, row.id or 0)
            line = self.line(row)
            if line:
                self.out.write(f"{_clock(row.at)}  lead {row.crm_id:<6} {line}\n")
        if rows:
            self.out.flush()

    def line(self, row: AuditEntry) -> str | None:
        kind, detail, lead = row.kind, row.detail or {}, row.crm_id
        self.counts[kind] += 1
        if kind == AuditKind.ARRIVED:
            created = _parse(detail.get("created_at"))
            if created:
                self.created[lead] = created
            return None
        if kind == AuditKind.DECISION:
            self.owner[lead] = row.coordinator or "?"
            self.routed_at[lead] = row.at
            created = self.created.get(lead)
            age = f", {(row.at - created).total_seconds():.1f}s after it arrived" \
                if created else ""
            page = " (on-call page)" if str(detail.get("reason", "")).startswith("on_call:") \
                else ""
            return f"routed     -> {row.coordinator:<7} rule {row.rule}{age}{page}"
        if kind == AuditKind.OWNER_WRITTEN:
            created = self.created.pop(lead, None)
            if created:
                self.time_to_owner.append((row.at - created).total_seconds())
            return None
        if kind == AuditKind.HELD:
            release = _parse(detail.get("release_at"))
            until = f" until {_clock(release)}" if release else ""
            return f"held{until}: rule {row.rule} has nobody on shift (after hours)"
        if kind == AuditKind.SKIPPED:
            return "skipped: already owned by a person (never taken)"
        if kind == AuditKind.UNROUTABLE:
            return f"unroutable: {detail.get('reason')}"
        if kind == AuditKind.CONTACT_ATTEMPT:
            routed = self.routed_at.get(lead)
            after = f" {(row.at - routed).total_seconds():.0f}s after routing" if routed else ""
            sla = "within SLA" if detail.get("within_sla") else "LATE"
            return f"contacted  by {row.coordinator}{after} ({sla})"
        if kind == AuditKind.ESCALATION:
            before, self.owner[lead] = self.owner.get(lead, "?"), row.coordinator or "?"
            self.routed_at[lead] = row.at
            if detail.get("why") == "unacknowledged":
                return f"page unanswered: {before} -> {row.coordinator} (" + (
                    "final owner)" if str(detail.get("reason", "")).startswith(
                        "escalated_final") else "next in the rotation)")
            if str(detail.get("reason", "")).startswith("escalated_final"):
                return f"ESCALATED  {before} -> {row.coordinator} (final owner: no contact " \
                       "within SLA after the reassignments)"
            return f"reassigned {before} -> {row.coordinator} (no contact within SLA)"
        if kind == AuditKind.NOTIFIED:
            return f"notified   {row.coordinator:<7} by {detail.get('channel')} " \
                   f"({detail.get('notification')})"
        if kind == AuditKind.NOTIFY_FAILED:
            return f"NOT notified {row.coordinator} by {detail.get('channel')}: " \
                   f"{detail.get('error')}"
        if kind == AuditKind.ACKNOWLEDGED:
            return f"acknowledged by {row.coordinator} ({detail.get('by')})"
        if kind == AuditKind.OVERRIDDEN:
            return "overridden: a person chose another owner; leadrouter steps back"
        return None

    def summary(self) -> str:
        c = self.counts
        ttos = sorted(self.time_to_owner)
        timing = (f"; lead created -> owner written: median {statistics.median(ttos):.1f}s, "
                  f"max {ttos[-1]:.1f}s") if ttos else ""
        return (f"{c[AuditKind.ARRIVED]} leads seen: {c[AuditKind.DECISION]} routed, "
                f"{c[AuditKind.HELD]} held for the next shift, {c[AuditKind.SKIPPED]} skipped; "
                f"{c[AuditKind.CONTACT_ATTEMPT]} contacted, {c[AuditKind.BREACH]} SLA breaches, "
                f"{c[AuditKind.ESCALATION]} reassignments/escalations{timing}")
