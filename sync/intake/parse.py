"""A message -> the format that takes it, the labels it matched and the CRM values.

MIME through the standard library (`email`, `policy=default`): charsets (UTF-8,
ISO-8859-1...) and quoted-printable / base64 are decoded by `get_content()`. Values come
from `Label: value` lines of the text part and from the two cells of HTML table rows
(`<tr><td>Label</td><td>value</td></tr>`); labels compare case-insensitively, trimmed, a
trailing colon ignored. Nothing here logs: values are PHI.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser

from sync.config.intake import EmailFormat, is_email, is_phone
from sync.intake.normalize import value_for

_LINE = re.compile(r"^\s*([^:\n]{1,80}?)\s*:\s*(.*?)\s*$")
MAX_PART = 1_000_000  # characters of a part read for labels; the rest is not lead data


@dataclass
class Parsed:
    format: EmailFormat | None
    reason: str | None  # why it goes to review: unknown_sender, no_email_or_phone, unreadable
    properties: dict[str, str] = field(default_factory=dict)  # CRM property -> value (PHI)
    matched: dict[str, str] = field(default_factory=dict)  # CRM property -> the label found
    missing: tuple[str, ...] = ()  # labels of the format the message did not carry

    @property
    def email(self) -> str | None:
        return next((v for p, v in self.properties.items() if is_email(p)), None)

    @property
    def phone(self) -> str | None:
        return next((v for p, v in self.properties.items() if is_phone(p)), None)


def read(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def message_key(message: EmailMessage, raw: bytes) -> str:
    """A stable key (SHA-256 hex): of the Message-ID, or without one of sender + date +
    body, so a redelivered copy is the same work."""
    try:
        message_id = str(message.get("Message-ID") or "").strip().strip("<>").strip()
    except Exception:  # a header the parser cannot make sense of counts as missing
        message_id = ""
    if message_id:
        return hashlib.sha256(f"mid:{message_id.lower()}".encode()).hexdigest()
    digest = hashlib.sha256(b"nomid:")
    for name in ("From", "Date"):
        try:
            digest.update(str(message.get(name) or "").encode("utf-8", "replace") + b"\0")
        except Exception:
            digest.update(b"\0")
    _, _, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    digest.update(body)
    return digest.hexdigest()


def sender(message: EmailMessage) -> str:
    """The From address, lower-cased ("" when there is none)."""
    try:
        pairs = getaddresses([str(message.get("From") or "")])
    except Exception:
        return ""
    return next((addr.strip().lower() for _, addr in pairs if "@" in addr), "")


def subject(message: EmailMessage) -> str:
    try:
        return str(message.get("Subject") or "")
    except Exception:
        return ""


def matching_format(formats: Iterable[EmailFormat], address: str, title: str
                    ) -> EmailFormat | None:
    """The first format naming this sender (or its "@domain") whose subject matches."""
    domain = "@" + address.rpartition("@")[2] if "@" in address else ""
    lowered = title.lower()
    for fmt in formats:
        sender_ok = address in fmt.senders or (domain and domain in fmt.senders)
        if sender_ok and (not fmt.subject or fmt.subject in lowered):
            return fmt
    return None


class _Rows(HTMLParser):
    """The cells of every table row, as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _label(text: str) -> str:
    return " ".join(text.strip().rstrip(":").split()).lower()


def text_pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in text[:MAX_PART].splitlines():
        found = _LINE.match(line)
        if found and found.group(1).strip():
            pairs.setdefault(_label(found.group(1)), found.group(2))
    return pairs


def html_pairs(html: str) -> dict[str, str]:
    rows = _Rows()
    rows.feed(html[:MAX_PART])
    rows.close()
    pairs: dict[str, str] = {}
    for cells in rows.rows:
        if len(cells) == 2 and cells[0].strip():
            pairs.setdefault(_label(cells[0]), cells[1])
    return pairs


def labelled_values(message: EmailMessage) -> dict[str, str]:
    """label (lower-case) -> value, from the text part, then rows of the HTML part."""
    pairs: dict[str, str] = {}
    for kind, reader in (("plain", text_pairs), ("html", html_pairs)):
        part = message.get_body(preferencelist=(kind,))
        if part is None:
            continue
        content = part.get_content()
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        for label, value in reader(str(content)).items():
            pairs.setdefault(label, value)
    return pairs


def parse(raw: bytes, formats: Iterable[EmailFormat], *,
          message: EmailMessage | None = None) -> Parsed:
    try:
        message = message or read(raw)
        fmt = matching_format(formats, sender(message), subject(message))
        if fmt is None:
            return Parsed(None, "unknown_sender")
        pairs = labelled_values(message)
    except Exception:  # a message the library cannot read: review, never an error with text
        return Parsed(None, "unreadable")
    return values(fmt, pairs)


def values(fmt: EmailFormat, pairs: Mapping[str, str]) -> Parsed:
    parsed = Parsed(fmt, None)
    missing: list[str] = []
    for prop, label in fmt.fields.items():
        raw_value = pairs.get(_label(label))
        if raw_value is None:
            missing.append(label)
            continue
        parsed.matched[prop] = label
        value = value_for(prop, raw_value)
        if value is not None:
            parsed.properties[prop] = value
    parsed.missing = tuple(missing)
    if parsed.email is None and parsed.phone is None:
        parsed.reason = "no_email_or_phone"
    return parsed
