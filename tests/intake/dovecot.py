"""A real Dovecot IMAP server on 127.0.0.1, configured in a temp folder by the test.

Debian's `dovecot-imapd` (`/usr/sbin/dovecot`, installed by `.ci/run`); the packaged service
stays stopped. One mail user with a password; maildir under the temp folder; TLS (IMAPS) and
STARTTLS with a certificate from a throw-away `trustme` CA. `deliver()` appends a message to
a folder as a mail server would (IMAP APPEND with an INTERNALDATE).
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import trustme

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "intake@sunrise-recovery.example"
PASSWORD = "imap-secret-7f3a"  # a test mailbox's password, not a real secret


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    def __init__(self, *, move: bool = True, introspection_url: str | None = None) -> None:
        # its own folder, readable by Dovecot's unprivileged processes (pytest's tmp_path is
        # private to the user running the tests)
        self.root = Path(tempfile.mkdtemp(prefix="leadrouter-dovecot-"))
        self.root.chmod(0o755)
        self.port_tls = _free_port()
        self.port_plain = _free_port()
        self.move = move
        # XOAUTH2: Dovecot's oauth2 passdb asks this URL whether a token is valid (RFC 7662)
        self.introspection_url = introspection_url
        self.process: subprocess.Popen[bytes] | None = None
        ca = trustme.CA(organization_name="leadrouter intake test CA")
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = self.root / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.cert_file, self.key_file = self.root / "cert.pem", self.root / "key.pem"
        cert.cert_chain_pems[0].write_to_path(str(self.cert_file))
        cert.private_key_pem.write_to_path(str(self.key_file))
        self.config = self.root / "dovecot.conf"

    def _write_config(self) -> None:
        if os.getuid() == 0:
            # as root, Dovecot's login and mail processes run as the package's own users
            login, internal = "dovenull", "dovecot"
            mail_uid, mail_gid = pwd.getpwnam("dovecot").pw_uid, pwd.getpwnam("dovecot").pw_gid
        else:
            login = internal = pwd.getpwuid(os.getuid()).pw_name
            mail_uid, mail_gid = os.getuid(), os.getgid()
        group = grp.getgrgid(mail_gid).gr_name
        for sub in ("run", "home"):
            (self.root / sub).mkdir(exist_ok=True)
        os.chown(self.root / "home", mail_uid, mail_gid)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        # without MOVE, Dovecot must not advertise it: the COPY + EXPUNGE path is tested
        caps = "" if self.move else (
            "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
            "SORT UIDPLUS STARTTLS AUTH=PLAIN")
        oauth = ""
        if self.introspection_url:
            (self.root / "oauth2.conf").write_text(
                f"introspection_mode = post\nintrospection_url = {self.introspection_url}\n"
                "username_attribute = username\nactive_attribute = active\n"
                "active_value = true\n")
            oauth = (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                     f"  args = {self.root}/oauth2.conf\n}}\n")
        self.config.write_text(oauth + f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert_file}
ssl_key = <{self.key_file}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {group}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
{caps}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={self.root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port_plain}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port_tls}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  chroot =
}}
""")

    def start(self) -> Dovecot:
        self._write_config()
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = (self.root / "dovecot.log").read_text() if \
                    (self.root / "dovecot.log").exists() else ""
                self.stop()
                raise RuntimeError(f"dovecot did not start: {err}\n{log}")
            try:
                with self.client():
                    return self
            except (OSError, imaplib.IMAP4.error, ssl.SSLError):
                time.sleep(0.1)
        self.stop()  # never leave a server behind
        raise RuntimeError("dovecot did not answer within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- a client of the test's own (delivering, checking) ---------------------------------
    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.port_tls, ssl_context=context, timeout=10)
        conn.login(USER, PASSWORD)
        return conn

    def deliver(self, raw: bytes, *, folder: str = "INBOX",
                at: datetime | None = None) -> None:
        with self.client() as conn:
            when = imaplib.Time2Internaldate(at.timestamp()) if at else None
            status, _ = conn.append(f'"{folder}"', "", when, raw)
            assert status == "OK"

    def folder_count(self, folder: str) -> int:
        """Messages in a folder (0 when it does not exist)."""
        with self.client() as conn:
            status, data = conn.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return 0
            return int(data[0] or 0)

    def message_ids(self, folder: str) -> list[str]:
        """The Message-ID headers in a folder (read without setting \\Seen)."""
        ids: list[str] = []
        with self.client() as conn:
            status, _ = conn.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return ids
            _, data = conn.uid("SEARCH", "ALL")
            uids = data[0].split() if data and data[0] else []
            for uid in uids:
                _, parts = conn.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                for part in parts:
                    if isinstance(part, tuple):
                        text = part[1].decode("latin-1").strip()
                        ids.append(text.partition(":")[2].strip())
        return ids

    def environ(self) -> dict[str, str]:
        return {"INTAKE_IMAP_USERNAME": USER, "INTAKE_IMAP_PASSWORD": PASSWORD}
