"""`leadrouter report` without `--json`: the report as readable tables (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def print_report(report: dict[str, Any], console: Console) -> None:
    window = report["window"]
    leads, sla = report["leads"], report["sla"]
    console.print(f"[bold]Routing report[/bold]  {window['since']} -> {window['until']}")
    head = Table(title="Leads", show_header=True)
    for key in ("arrived", "assigned", "held", "unroutable", "waiting", "skipped", "fallback"):
        head.add_column(key, justify="right")
    head.add_row(*(str(leads[k]) for k in ("arrived", "assigned", "held", "unroutable",
                                           "waiting", "skipped", "fallback")))
    console.print(head)
    speed = Table(title="Speed to lead", show_header=True)
    for column in ("", "n", "p50", "p90", "max", "0-5m", "5-15m", "15-60m", "60m+"):
        speed.add_column(column, justify="right")
    for label, key, bands in (("time to owner", "time_to_owner_seconds", "time_to_owner_bands"),
                              ("time to first attempt", "time_to_first_attempt_seconds",
                               "time_to_first_attempt_bands")):
        s, b = report[key], report[bands]
        speed.add_row(label, str(s["n"]), _seconds(s["p50"]), _seconds(s["p90"]),
                      _seconds(s["max"]), *(str(b[k]) for k in ("0-5m", "5-15m", "15-60m",
                                                                 "60m+")))
    console.print(speed)
    decided = sla["met"] + sla["breached"]
    console.print(f"SLA: {sla['met']} met, {sla['breached']} breached "
                  f"({_share(sla['met'], decided)} met), {sla['pending']} pending, "
                  f"{sla['overridden']} overridden by a person; escalations: "
                  f"{report['escalations']['reassigned']} reassigned, "
                  f"{report['escalations']['final']} to the final owner")
    after = report["after_hours"]
    console.print(f"After hours: {after['arrived']} arrived with nobody on shift: "
                  f"{after['held']} held, {after['on_call']} to on call")
    people = Table(title="Coordinators", show_header=True)
    for column in ("id", "assigned", "open", "capacity", "met", "breached", "response p50",
                   "passed over (why)"):
        people.add_column(column, justify="left" if column in ("id", "passed over (why)")
                          else "right")
    for c in report["coordinators"]:
        why = ", ".join(f"{k} {v}" for k, v in c["passed_over"].items() if v) or "-"
        people.add_row(c["id"], str(c["assigned"]), str(c["open"]),
                       "-" if c["capacity"] is None else str(c["capacity"]), str(c["met"]),
                       str(c["breached"]), _seconds(c["response_p50_seconds"]), why)
    console.print(people)
    rules = Table(title="Rules", show_header=True)
    for column in ("rule", "assigned", "met", "breached"):
        rules.add_column(column, justify="left" if column == "rule" else "right")
    for r in report["rules"]:
        rules.add_row(r["name"], str(r["assigned"]), str(r["met"]), str(r["breached"]))
    console.print(rules)
    sources = Table(title="Sources", show_header=True)
    for column in ("source", "arrived", "first attempt p50"):
        sources.add_column(column, justify="left" if column == "source" else "right")
    for s in report["sources"]:
        sources.add_row(s["source"] or "(none)", str(s["arrived"]),
                        _seconds(s["time_to_first_attempt_p50_seconds"]))
    console.print(sources)
    intake = report.get("email_intake")
    if intake is not None:  # [intake.email]: messages of the window, counts only
        reasons = ", ".join(f"{n} {r}" for r, n in intake["review_reasons"].items())
        console.print(f"Email intake: {intake['leads']} messages made leads, "
                      f"{intake['waiting']} waiting, {intake['review']} sent to review"
                      + (f" ({reasons})" if reasons else ""), highlight=False)
    needing = report["needs_person"]
    if not needing:
        console.print("Needs a person now: nobody.")
        return
    now = Table(title=f"Needs a person now ({len(needing)})", show_header=True)
    for column in ("CRM id", "status", "since", "owner", "why"):
        now.add_column(column)
    for row in needing:
        now.add_row(row["crm_id"], row["status"], row["since"], row["coordinator"] or "-",
                    row["why"])
    console.print(now)
