"""`leadrouter report --csv`: one row per lead of the window, for a spreadsheet (no PHI)."""

from __future__ import annotations

import csv
from datetime import datetime
from typing import TextIO

from state import Store

COLUMNS = ("crm_id", "created_at", "first_seen_at", "first_owner_at", "contacted_at",
           "status", "coordinator", "crm_owner_id", "rule", "assignment", "reassignments",
           "source", "after_hours", "first_reason")


def write_csv(store: Store, since: datetime, until: datetime, out: TextIO) -> int:
    """Write the window's leads, oldest first; how many rows were written."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    with store.unit_of_work(read_only=True) as uow:
        for row in uow.report.lead_rows(since, until):
            writer.writerow(["" if v is None else v.isoformat() if isinstance(v, datetime)
                             else v for v in (row[c] for c in COLUMNS)])
            count += 1
    return count
