"""Lead notification emails as the senders' systems write them (text or HTML tables, UTF-8
or ISO-8859-1, quoted-printable or 8bit), with canary personal data the tests look for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

FORM_SENDER = "forms@sunrise-recovery.example"
DIRECTORY_DOMAIN = "@listings.example"  # every sender of that domain


@dataclass(frozen=True)
class Person:
    """Canary personal data: each value is unique and searched for in logs and files."""

    n: int
    insurance: str = "commercial"

    @property
    def first(self) -> str:
        return f"Zéphyrine{self.n:03d}"  # non-ASCII: survives ISO-8859-1 and QP

    @property
    def last(self) -> str:
        return f"Quillfeather{self.n:03d}"

    @property
    def email(self) -> str:
        return f"Canary.Patient{self.n:03d}@Patients.example"

    @property
    def phone_written(self) -> str:
        return f"(626) 555-{1000 + self.n:04d}"

    @property
    def phone(self) -> str:
        return f"+1626555{1000 + self.n:04d}"

    def canaries(self) -> list[str]:
        return [self.first, self.last, self.email.lower(), self.email,
                f"555-{1000 + self.n:04d}", f"555{1000 + self.n:04d}"]


def _rows(p: Person, *, email: bool = True, phone: bool = True) -> list[tuple[str, str]]:
    rows = [("First Name", p.first), ("Last Name", p.last)]
    if email:
        rows.append(("Email", p.email))
    if phone:
        rows.append(("Phone", p.phone_written))
    rows += [("Insurance", p.insurance), ("Zip Code", "85004-1234"), ("State", "Arizona"),
             ("Level of Care", "detox"), ("Message", "Please call me after 5pm: it is urgent")]
    return rows


def text_message(p: Person, *, charset: str = "utf-8", cte: str | None = None,
                 message_id: str | None = None, sender: str = FORM_SENDER,
                 subject: str = "New inquiry from the website", email: bool = True,
                 phone: bool = True) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Website Forms <{sender}>"
    msg["To"] = "admissions@sunrise-recovery.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or f"<inquiry-{p.n}@forms.sunrise-recovery.example>"
    body = "A new inquiry was submitted:\n\n" + "\n".join(
        f"{label}: {value}" for label, value in _rows(p, email=email, phone=phone)) + "\n"
    msg.set_content(body, charset=charset, cte=cte)
    return bytes(msg)


def html_message(p: Person, *, charset: str = "utf-8", cte: str | None = None,
                 message_id: str | None = None,
                 sender: str = "notify" + DIRECTORY_DOMAIN) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "admissions@sunrise-recovery.example"
    msg["Subject"] = "Lead from the treatment directory"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or f"<listing-{p.n}@listings.example>"
    cells = "".join(f"<tr><td><b>{label}:</b></td><td>{value}</td></tr>\n"
                    for label, value in _rows(p))
    msg.set_content("This message is best viewed as HTML.", charset=charset)
    msg.add_alternative(f"<html><body><p>New lead</p><table>\n{cells}</table></body></html>",
                        subtype="html", charset=charset, cte=cte)
    return bytes(msg)


def no_message_id(p: Person) -> bytes:
    raw = text_message(p)
    return b"\n".join(line for line in raw.split(b"\n")
                      if not line.lower().startswith(b"message-id:"))
