"""The page's figures from a report of the contract's shape: formatting, the chart data, and
an empty window (no browser needed)."""

from __future__ import annotations

from typing import Any

from sync.service.views import charts, duration, page_view


def report(**extra: Any) -> dict[str, Any]:
    summary = {"n": 0, "p50": None, "p90": None, "max": None}
    bands = {"0-5m": 0, "5-15m": 0, "15-60m": 0, "60m+": 0}
    return {
        "window": {"since": "2026-11-29T17:00:00+00:00", "until": "2026-11-30T17:00:00+00:00"},
        "leads": {"arrived": 0, "assigned": 0, "held": 0, "unroutable": 0, "waiting": 0,
                  "skipped": 0, "fallback": 0},
        "time_to_owner_seconds": summary, "time_to_first_attempt_seconds": summary,
        "time_to_owner_bands": bands, "time_to_first_attempt_bands": bands,
        "sla": {"met": 0, "breached": 0, "pending": 0, "overridden": 0}, "sla_by_day": [],
        "escalations": {"reassigned": 0, "final": 0},
        "pages": {"sent": 0, "acknowledged": 0, "passed_on": 0, "escalated": 0},
        "after_hours": {"arrived": 0, "held": 0, "on_call": 0},
        "coordinators": [{"id": "maria", "assigned": 0, "open": 0, "met": 0, "breached": 0,
                          "response_p50_seconds": None, "capacity": None,
                          "passed_over": {}}],
        "rules": [{"name": "everyone", "assigned": 0, "met": 0, "breached": 0}],
        "sources": [], "needs_person": [], **extra}


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (None, 0, 44.6, 252, 3600 * 2 + 300, 86400 * 3 + 3600 * 4)] \
        == ["–", "0s", "45s", "4m 12s", "2h 05m", "3d 4h"]


def test_an_empty_window_gives_empty_charts_and_dashes() -> None:
    view = page_view(report())
    assert view["attainment"] == "–" and view["owner"] == {"p50": "–", "p90": "–"}
    assert view["coordinators"][0]["load"] == "0 / –"
    assert view["coordinators"][0]["passed"] == [0] * 6
    data = charts(report())
    assert data["sla-by-day"]["labels"] == [] and data["by-source"]["labels"] == []
    assert data["open-vs-capacity"]["series"][1]["values"] == [None]  # no cap: no bar


def test_figures_and_the_list_of_leads_needing_a_person() -> None:
    needing = [
        {"crm_id": "7", "status": "held", "why": "nobody on shift",
         "since": "2026-11-30T08:00:00+00:00", "coordinator": None, "link": None},
        {"crm_id": "9", "status": "breached", "why": "no attempt",
         "since": "2026-11-30T09:00:00+00:00", "coordinator": "maria", "link": "https://x/9"},
    ]
    days = [{"day": "2026-11-29", "met": 3, "breached": 1, "pending": 0, "overridden": 0},
            {"day": "2026-11-30", "met": 0, "breached": 0, "pending": 2, "overridden": 1}]
    r = report(needs_person=needing, sla_by_day=days,
               sla={"met": 3, "breached": 1, "pending": 2, "overridden": 1},
               after_hours={"arrived": 5, "held": 2, "on_call": 1},
               sources=[{"source": None, "arrived": 2,
                         "time_to_first_attempt_p50_seconds": 90.0}])
    view = page_view(r)
    assert view["attainment"] == "75%"
    assert [row["crm_id"] for row in view["needing"]] == ["9", "7"]  # breached first
    assert view["needing_counts"]["held"] == 1
    data = charts(r)
    assert data["sla-by-day"]["labels"] == ["Nov 29", "Nov 30"]
    assert data["sla-by-day"]["line"]["values"] == [75, None]  # nothing decided yet: no point
    assert data["after-hours"]["series"][0]["values"] == [5, 2, 1, 2]
    assert data["by-source"]["labels"] == ["(none)"]
    assert view["sources"][0]["attempt"] == "1m 30s"
