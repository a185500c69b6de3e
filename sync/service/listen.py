"""The HTTP server's listening socket, its connection cap and its TLS context."""

from __future__ import annotations

import os
import resource
import socket
import ssl

from sync.context import StartupError
from sync.service.webhook_routes import declared_endpoints

# asyncio accepts up to `backlog` connections per wake-up, each taking a descriptor before
# the connection cap can close any: a small burst keeps that overshoot small (and in
# Python 3.11 an accept that fails for lack of descriptors is retried -- and logged -- up
# to `backlog` times in a row). The kernel's queue is set larger after start.
ACCEPT_BURST = 16
LISTEN_QUEUE = 512
# descriptors kept free beyond those open at start: store connections of the thread pool,
# CRM connections, the log, a request's temporary files
FD_RESERVE = 32


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets (else Nagle + delayed
    # ACK add ~40 ms to every response whose headers and body are written separately)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(LISTEN_QUEUE)
    sock.set_inheritable(True)
    return sock


def open_files() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: a generous guess
        return 64


def connection_cap(configured: int) -> int:
    """`max_connections`, lowered so that open connections plus one accept burst can never
    use up the process's file descriptors (then `accept()` fails and nobody gets in).
    First raises the soft open-file limit to the hard one, as servers do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass
    if soft == resource.RLIM_INFINITY:
        return configured
    headroom = soft - open_files() - FD_RESERVE - 2 * ACCEPT_BURST
    return max(8, min(configured, headroom))


def tls_files() -> str:
    """The settings naming TLS files, as a failure to use them cites them: the service's
    certificate and key, and each connector plugin's client-certificate CA."""
    cas = [e.client_ca_setting for e in declared_endpoints() if e.client_ca_setting]
    return ", ".join(["[service] tls_cert / tls_key", *cas])


def tls_context(cert: str, key: str, client_ca: str) -> ssl.SSLContext:
    """The server's TLS context; with `client_ca`, clients may present a certificate, which
    must then chain to that CA (or be that certificate itself: a pinned leaf such as one a
    CRM publishes for its webhook deliveries). Whether a request came with a verified one is
    the webhook source's business (it requires one when it asked for the CA)."""
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        if client_ca:
            context.load_verify_locations(client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise StartupError(f"cannot use the TLS files ({tls_files()}): {exc}") from None
    return context
