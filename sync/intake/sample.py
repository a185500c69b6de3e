"""`leadrouter intake test FILE.eml`: what one message would become, values masked.

Shows the format that takes it (or why none does), each mapped CRM property with the label
found for it, and the labels the message lacks, so an admin can build a format from a real
sample without sending it anywhere. Values are masked: a sample is a real inquiry (PHI).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from sync.config import Config
from sync.intake.parse import parse, read, sender


class SampleError(Exception):
    """The file cannot be read; `problems` is what the CLI prints (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.problems = [message]


def mask(value: str) -> str:
    """Nothing of the value but its length."""
    return f"<{len(value)} characters>"


def _domain(address: str) -> str:
    return "@" + address.rpartition("@")[2] if "@" in address else "(none)"


def test_sample(config: Config, path: Path, out: TextIO) -> int:
    """Print the analysis; 0 when the message would become a lead, 1 when it would go to
    review."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SampleError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}"
                          ) from None
    intake = config.intake
    if intake is None:
        raise SampleError(f"{config.source}: no [intake.email] table: nothing to test against")
    try:
        from_domain = _domain(sender(read(raw)))
    except Exception:
        from_domain = "(unreadable)"
    parsed = parse(raw, intake.formats)
    out.write(f"sender domain: {from_domain}\n")
    if parsed.format is None:
        out.write(f"format: none — would go to {intake.mailbox.review_folder} "
                  f"(reason {parsed.reason})\n")
        names = ", ".join(f.name for f in intake.formats)
        out.write(f"formats tried: {names} (sender and subject must match)\n")
        return 1
    fmt = parsed.format
    out.write(f"format: {fmt.name}\n")
    for prop, label in fmt.fields.items():
        if prop in parsed.properties:
            out.write(f"  {prop:<24} <- {label!r}: {mask(parsed.properties[prop])}\n")
        elif prop in parsed.matched:
            out.write(f"  {prop:<24} <- {label!r}: (found, but not a usable value)\n")
        else:
            out.write(f"  {prop:<24} <- {label!r}: (label not found)\n")
    if fmt.source:
        target = intake.source_property or "(no [fields] source)"
        out.write(f"  {target:<24} = source of the format: {fmt.source}\n")
    if parsed.reason is not None:
        out.write(f"result: would go to {intake.mailbox.review_folder} "
                  f"(reason {parsed.reason})\n")
        return 1
    found = [name for name, value in (("email", parsed.email), ("phone", parsed.phone))
             if value]
    out.write(f"result: would become a lead (matched by {' and '.join(found)})\n")
    return 0
