"""SLA deadlines and the follow-up task for the owner."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from string import Formatter

from routing.calendar import Blocked, CompiledSchedule, add_business_time
from routing.models import TaskSpec, TaskTemplate

TASK_FIELDS = frozenset({"lead_id", "rule", "sla", "owner"})


@lru_cache(maxsize=256)
def human_duration(d: timedelta) -> str:
    """5m, 1h30m, 2d, 45s, 0s."""
    total = int(d.total_seconds())
    if total <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


def business_deadline(
    cs: CompiledSchedule, start: datetime, sla: timedelta, blocked: Blocked | None
) -> datetime | None:
    """`sla` of the owner's working time from `start`; None if no working time is found."""
    return add_business_time(cs, start, sla, blocked)


@lru_cache(maxsize=256)
def _parse(template: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    try:
        return tuple(Formatter().parse(template))
    except ValueError:  # unbalanced braces: use the text as is
        return ((template, None, "", None),)


def render_subject(template: str, values: dict[str, str]) -> str:
    """Substitute only the allowed fields (`lead_id`, `rule`, `sla`, `owner`). Any other
    placeholder, attribute or index access is left as literal text: a template can never
    pull other lead data (PHI) into the CRM task."""
    out: list[str] = []
    for literal, field_name, spec, conversion in _parse(template):
        out.append(literal)
        if field_name is None:
            continue
        if field_name in TASK_FIELDS and not conversion:
            try:
                out.append(format(values[field_name], spec or ""))
                continue
            except ValueError:
                pass
        raw = field_name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        out.append("{" + raw + "}")
    return "".join(out)


def task_spec(
    template: TaskTemplate,
    lead_id: str,
    rule: str | None,
    sla: timedelta,
    owner: str,
    due: datetime,
) -> TaskSpec:
    subject = render_subject(
        template.subject,
        {"lead_id": lead_id, "rule": rule or "(none)", "sla": human_duration(sla), "owner": owner},
    )
    return TaskSpec(subject=subject, due=due, priority=template.priority, type=template.type)
