"""The shared mailbox over IMAP (stdlib `imaplib`): TLS or STARTTLS with `ca_bundle`,
LOGIN from environment variables, new messages by UID, folders created when missing,
MOVE (or COPY + \\Deleted + UID EXPUNGE where the server lacks MOVE).

Messages are read with BODY.PEEK[] (no \\Seen flag is set) and never deleted: a move is
the only change. Server answers are never put into errors (they can echo a subject).
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from sync.config.intake import EmailTable

_FETCH_HEAD = re.compile(rb"UID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
FETCH_CHUNK = 25  # messages per UID FETCH


class MailboxError(Exception):
    """The mailbox could not be read or changed (connection, login, a refused command).

    Messages name the step and the server's status word only."""

    phi_safe = True


class MailboxAuthError(MailboxError):
    """Login refused or credentials missing: a person must act."""


@dataclass(frozen=True, slots=True)
class Fetched:
    uid: int
    internaldate: datetime  # when the message arrived in the mailbox (the SLA clock)
    raw: bytes


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    """One IMAP session; use as a context manager."""

    def __init__(self, table: EmailTable, environ: Mapping[str, str]) -> None:
        self.table = table
        self.environ = environ
        self.conn: imaplib.IMAP4 | None = None
        self.capabilities: frozenset[str] = frozenset()

    # --- session -------------------------------------------------------------------------
    def __enter__(self) -> Mailbox:
        t = self.table
        user = self.environ.get(t.username_env, "")
        password = self.environ.get(t.password_env, "")
        if t.auth == "xoauth2":
            if not user:
                raise MailboxAuthError(f"environment variable {t.username_env} "
                                       "(intake.email) must hold the mailbox's address")
        elif not user or not password:
            raise MailboxAuthError(f"environment variables {t.username_env} and "
                                   f"{t.password_env} (intake.email) must hold the mailbox's "
                                   "username and password")
        context = ssl.create_default_context(cafile=t.ca_bundle or None)
        timeout = t.timeout.total_seconds()
        try:
            if t.security == "tls":
                self.conn = imaplib.IMAP4_SSL(t.host, t.port, ssl_context=context,
                                              timeout=timeout)
            else:
                self.conn = imaplib.IMAP4(t.host, t.port, timeout=timeout)
                if t.security == "starttls":
                    self.conn.starttls(ssl_context=context)
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            self._drop()
            raise MailboxError(f"IMAP connect to {t.host}:{t.port} ({t.security}) failed: "
                               f"{type(exc).__name__}") from None
        try:
            if t.auth == "xoauth2":
                from sync.intake.oauth import access_token, xoauth2

                token = access_token(t, self.environ, user)
                self.conn.authenticate("XOAUTH2", lambda _: xoauth2(user, token))
            else:
                self.conn.login(user, password)
        except MailboxAuthError:
            self._drop()
            raise
        except imaplib.IMAP4.error:
            self._drop()
            raise MailboxAuthError(f"IMAP login to {t.host} refused: check "
                                   f"{t.username_env} / {t.password_env}") from None
        except OSError as exc:
            self._drop()
            raise MailboxError(f"IMAP login: {type(exc).__name__}") from None
        self.capabilities = frozenset(str(c).upper() for c in self.conn.capabilities)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self.conn.logout()
        self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error, AttributeError):
                self.conn.shutdown()
        self.conn = None

    def _ok(self, step: str, answer: tuple[str, list[object]]) -> list[object]:
        status, data = answer
        if status != "OK":
            raise MailboxError(f"IMAP {step}: {status}")
        return data

    def _call(self, step: str, name: str, *args: str) -> list[object]:
        assert self.conn is not None
        try:
            return self._ok(step, getattr(self.conn, name)(*args))
        except (TimeoutError, imaplib.IMAP4.abort, OSError) as exc:
            raise MailboxError(f"IMAP {step}: {type(exc).__name__}") from None
        except imaplib.IMAP4.error:
            raise MailboxError(f"IMAP {step}: refused") from None

    def _uid(self, step: str, *args: str) -> list[object]:
        return self._call(step, "uid", *args)

    # --- folders -------------------------------------------------------------------------
    def ensure_folders(self, names: Sequence[str]) -> None:
        """Create the folders that do not exist yet (and subscribe to them)."""
        for name in names:
            listed = self._call("LIST", "list", '""', _quote(name))
            if any(item for item in listed if item):
                continue
            self._call("CREATE", "create", _quote(name))
            with contextlib.suppress(MailboxError):  # no subscriptions: the folder is there
                self._call("SUBSCRIBE", "subscribe", _quote(name))

    def select(self, folder: str) -> int:
        """Open `folder` read-write; its UIDVALIDITY."""
        self._call("SELECT", "select", _quote(folder))
        assert self.conn is not None
        _, data = self.conn.response("UIDVALIDITY")
        for item in data or []:
            if isinstance(item, bytes) and item.strip().isdigit():
                return int(item)
        raise MailboxError("IMAP SELECT: the server sent no UIDVALIDITY")

    # --- messages ------------------------------------------------------------------------
    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above `last_uid`, ascending (`N:*` always names the newest message, even
        below N: filtered here)."""
        data = self._uid("UID SEARCH", "SEARCH", f"UID {last_uid + 1}:*")
        found: list[int] = []
        for item in data:
            if isinstance(item, bytes):
                found.extend(int(x) for x in item.split() if x.isdigit())
        return sorted(u for u in set(found) if u > last_uid)

    def fetch(self, uids: Sequence[int]) -> list[Fetched]:
        """The messages (whole, unchanged, \\Seen not set) with their INTERNALDATE."""
        out: list[Fetched] = []
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start:start + FETCH_CHUNK]
            data = self._uid("UID FETCH", "FETCH", ",".join(map(str, chunk)),
                             "(UID INTERNALDATE BODY.PEEK[])")
            for item in data:
                if not isinstance(item, tuple) or len(item) < 2:
                    continue
                head, raw = item[0], item[1]
                uid = _FETCH_HEAD.search(head)
                when = _INTERNALDATE.search(head)
                if uid is None or when is None or not isinstance(raw, bytes):
                    continue
                out.append(Fetched(int(uid.group(1)), _internaldate(when.group(1)), raw))
        return sorted(out, key=lambda f: f.uid)

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move messages to `folder`: MOVE, else COPY + \\Deleted + UID EXPUNGE of exactly
        these messages (plain EXPUNGE only where UIDPLUS is missing too)."""
        if not uids:
            return
        uid_set = ",".join(map(str, uids))
        if "MOVE" in self.capabilities:
            self._uid("UID MOVE", "MOVE", uid_set, _quote(folder))
            return
        self._uid("UID COPY", "COPY", uid_set, _quote(folder))
        self._uid("UID STORE", "STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)")
        if "UIDPLUS" in self.capabilities:
            self._uid("UID EXPUNGE", "EXPUNGE", uid_set)
        else:
            self._call("EXPUNGE", "expunge")


def _internaldate(text: bytes) -> datetime:
    """`01-Dec-2026 02:10:33 +0000` (the day may be space-padded)."""
    return datetime.strptime(text.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
