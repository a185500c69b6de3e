"""Message text: what happened, the CRM id, the record link, the rule and the deadline in the
coordinator's time zone. Rendered from ids and times only: a lead's name, email, phone, free
text or attribute values are never passed to a template, so they cannot appear in one."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

WHAT = {
    "assigned": "New lead assigned to you",
    "reassigned": "Lead reassigned to you (the deadline was missed)",
    "escalated": "Lead escalated to you",
    "on_call": "On-call page: lead assigned to you",
}

_env = Environment(loader=PackageLoader("sync.notify", "templates"), autoescape=False,
                   undefined=StrictUndefined, keep_trailing_newline=False)


def ref_of(key: str) -> str:
    """The marker a message carries to be found again (derived from its outbox key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str


def deadline_text(due: datetime | None, timezone: str) -> str:
    if due is None:
        return "-"
    local = due.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or timezone}"


def render(event: str, crm_id: str, rule: str | None, due: datetime | None, link: str,
           timezone: str, ref: str, ack: str | None = None) -> Rendered:
    """`ack`: the acknowledgement link, when links are signed."""
    facts = {"what": WHAT[event], "crm_id": crm_id, "rule": rule, "link": link or "-",
             "deadline": deadline_text(due, timezone), "ref": ref, "ack": ack}
    subject = _env.get_template("subject.txt.j2").render(facts).strip()
    text = _env.get_template("message.txt.j2").render(facts).strip()
    return Rendered(subject, text)
