"""Human output of `simulate`: a progress bar for large files and summary tables."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from sync.config import Config
from sync.simulate import Summary

LARGE_FILE = 2000  # leads; below this the run is too quick for a bar to help


class Progress:
    """A transient bar on stderr for large inputs; silent otherwise."""

    def __init__(self, console: Console, total: int) -> None:
        self._bar: RichProgress | None = None
        if total >= LARGE_FILE and console.is_terminal:
            self._bar = RichProgress(TextColumn("routing"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), console=console, transient=True)
            self._task = self._bar.add_task("routing", total=total)

    def __enter__(self) -> Progress:
        if self._bar:
            self._bar.start()
        return self

    def advance(self) -> None:
        if self._bar:
            self._bar.advance(self._task)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar:
            self._bar.stop()


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def print_summary(summary: Summary, config: Config, console: Console) -> None:
    total = summary.total
    status = Table(title=f"{total} leads simulated")
    status.add_column("status")
    status.add_column("leads", justify="right")
    status.add_column("share", justify="right")
    for name in ("assigned", "held", "unroutable"):
        count = summary.by_status.get(name, 0)
        status.add_row(name, str(count), _share(count, total))
    console.print(status)

    owners = Table(title="per coordinator")
    for column in ("coordinator", "teams", "leads", "share", "capacity", "peak open"):
        owners.add_column(column, justify="left" if column in ("coordinator", "teams")
                          else "right")
    for ident, coordinator in config.rulebook.coordinators.items():
        count = summary.by_owner.get(ident, 0)
        capacity = "-" if coordinator.capacity is None else str(coordinator.capacity)
        owners.add_row(ident, ", ".join(sorted(coordinator.teams)), str(count),
                       _share(count, total), capacity, str(summary.peak_open.get(ident, 0)))
    console.print(owners)

    rules = Table(title="per rule (first match)")
    rules.add_column("rule")
    rules.add_column("leads", justify="right")
    rules.add_column("share", justify="right")
    names = [rule.name for rule in config.rulebook.rules] + ["(no rule matched)"]
    for name in names:
        count = summary.by_rule.get(name, 0)
        if count or name != "(no rule matched)":
            rules.add_row(name, str(count), _share(count, total))
    console.print(rules)

    reasons = Table(title="how owners were picked")
    reasons.add_column("reason")
    reasons.add_column("leads", justify="right")
    for reason, count in summary.by_reason.most_common():
        reasons.add_row(reason, str(count))
    console.print(reasons)
