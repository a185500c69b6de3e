"""What the dashboard page shows, computed from the report JSON: formatted figures and the
charts' data (labels + series) that `static/dashboard.js` draws with uPlot.

Everything here is ids, rule names, categories and counts: the report carries nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

BAND_LABELS = {"0-5m": "0–5 min", "5-15m": "5–15 min", "15-60m": "15–60 min", "60m+": "60+ min"}
BAND_COLORS = ("#2e7d32", "#f9a825", "#ef6c00", "#c62828")
SLA_COLORS = {"met": "#2e7d32", "breached": "#c62828", "pending": "#9e9e9e",
              "overridden": "#1565c0"}
PASSED_OVER = (("off_shift", "off shift"), ("holiday", "holiday"), ("pto", "PTO"),
               ("away", "away"), ("at_capacity", "at capacity"),
               ("previously_failed", "failed it before"))
STATUS_ORDER = ("breached", "unroutable", "waiting", "held")


def duration(seconds: float | None) -> str:
    """`None` -> "–"; else the two largest units: "45s", "4m 12s", "2h 05m", "3d 4h"."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def share(part: int, whole: int) -> str:
    return "–" if whole <= 0 else f"{100 * part / whole:.0f}%"


def shown_time(iso: str) -> str:
    """An ISO time as "2026-11-30 17:05 UTC" (the browser rewrites it in local time)."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _bands_chart(bands: dict[str, int], title: str) -> dict[str, Any]:
    return {"axis": "band", "labels": [BAND_LABELS.get(k, k) for k in bands],
            "series": [{"label": title, "values": list(bands.values()),
                        "colors": list(BAND_COLORS[:len(bands)])}]}


def _series(label: str, color: str, values: list[Any]) -> dict[str, Any]:
    return {"label": label, "color": color, "values": values}


def charts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Chart id -> {"axis", "labels", "series": [{"label", "values", "color" | "colors"}],
    "line"?}: bars per label, one bar per series (`static/dashboard.js`)."""
    days = report.get("sla_by_day", [])
    coordinators = report["coordinators"]
    after = report["after_hours"]
    return {
        "time-to-owner": _bands_chart(report.get("time_to_owner_bands", {}), "leads"),
        "time-to-attempt": _bands_chart(report.get("time_to_first_attempt_bands", {}),
                                        "leads"),
        "sla-by-day": {
            "axis": "day",
            "labels": [datetime.fromisoformat(d["day"]).strftime("%b %d") for d in days],
            "series": [_series(key, color, [d[key] for d in days])
                       for key, color in SLA_COLORS.items()],
            # attainment: met among the decided (met or breached) assignments of the day
            "line": {"label": "% met", "color": "#37474f",
                     "values": [round(100 * d["met"] / (d["met"] + d["breached"]))
                                if d["met"] + d["breached"] else None for d in days]}},
        "open-vs-capacity": {
            "axis": "coordinator", "labels": [c["id"] for c in coordinators],
            "series": [_series("open now", "#1565c0", [c["open"] for c in coordinators]),
                       _series("capacity", "#b0bec5",
                               [c.get("capacity") for c in coordinators])]},
        "by-rule": {
            "axis": "rule", "labels": [r["name"] for r in report["rules"]],
            "series": [_series("assigned", "#5c6bc0", [r["assigned"] for r in report["rules"]]),
                       _series("met", SLA_COLORS["met"], [r["met"] for r in report["rules"]]),
                       _series("breached", SLA_COLORS["breached"],
                               [r["breached"] for r in report["rules"]])]},
        "by-source": {
            "axis": "source", "labels": [s["source"] if s["source"] is not None else "(none)"
                       for s in report["sources"]],
            "series": [_series("arrived", "#00838f", [s["arrived"] for s in report["sources"]])]},
        "after-hours": {
            "axis": "after hours", "labels": ["arrived", "held", "on call", "other"],
            "series": [{"label": "leads", "colors": ["#6a1b9a", "#9e9e9e", "#ef6c00", "#5c6bc0"],
                        "values": [after["arrived"], after["held"], after["on_call"],
                                   max(after["arrived"] - after["held"] - after["on_call"],
                                       0)]}]},
    }


def page_view(report: dict[str, Any]) -> dict[str, Any]:
    """The template's figures, formatted; the chart data goes in as JSON."""
    leads, sla = report["leads"], report["sla"]
    needing = sorted(report.get("needs_person", []),
                     key=lambda row: (STATUS_ORDER.index(row["status"])
                                      if row["status"] in STATUS_ORDER else len(STATUS_ORDER),
                                      row["since"]))
    counts = {status: sum(1 for row in needing if row["status"] == status)
              for status in STATUS_ORDER}
    coordinators = [
        {**c, "response": duration(c.get("response_p50_seconds")),
         "passed": [c.get("passed_over", {}).get(key, 0) for key, _ in PASSED_OVER],
         "load": (f"{c['open']} / {c['capacity']}" if c.get("capacity") is not None
                  else f"{c['open']} / –"),
         "full": c.get("capacity") is not None and c["open"] >= c["capacity"]}
        for c in report["coordinators"]]
    return {
        "leads": leads,
        "sla": sla,
        "attainment": share(sla["met"], sla["met"] + sla["breached"]),
        "owner": {k: duration(report["time_to_owner_seconds"][k]) for k in ("p50", "p90")},
        "attempt": {k: duration(report["time_to_first_attempt_seconds"][k])
                    for k in ("p50", "p90")},
        "owner_n": report["time_to_owner_seconds"]["n"],
        "attempt_n": report["time_to_first_attempt_seconds"]["n"],
        "escalations": report["escalations"],
        "pages": report["pages"],
        "after_hours": report["after_hours"],
        "needing": [{**row, "since_shown": shown_time(row["since"])} for row in needing],
        "needing_counts": counts,
        "coordinators": coordinators,
        "passed_over_labels": [label for _, label in PASSED_OVER],
        "rules": report["rules"],
        "sources": [{**s, "attempt": duration(s.get("time_to_first_attempt_p50_seconds"))}
                    for s in report["sources"]],
        "since": shown_time(report["window"]["since"]),
        "until": shown_time(report["window"]["until"]),
    }
