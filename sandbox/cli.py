"""Command-line helper that runs one CRM emulator in the foreground (``leadrouter sandbox``)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Protocol, TextIO

__all__ = ["describe", "serve"]

TOKEN_ENV = {"hubspot": "HUBSPOT_TOKEN", "salesforce": "SALESFORCE_ACCESS_TOKEN"}


class _Sandbox(Protocol):
    @property
    def base_url(self) -> str: ...

    @property
    def token(self) -> str: ...

    @property
    def ca_file(self) -> str: ...

    def start(self) -> Any: ...

    def stop(self) -> None: ...

    def seed_demo(self) -> Any: ...


def _make(crm: str, port: int) -> _Sandbox:
    # Lazy imports: each emulator is only loaded when asked for.
    if crm == "hubspot":
        from sandbox.hubspot import HubSpotSandbox

        return HubSpotSandbox(port=port)
    if crm == "salesforce":
        from sandbox.salesforce import SalesforceSandbox  # type: ignore[attr-defined,unused-ignore]

        sf: _Sandbox = SalesforceSandbox(port=port)
        return sf
    raise ValueError(f"unknown CRM {crm!r} (expected 'hubspot' or 'salesforce')")


def _seed(box: _Sandbox, crm: str, seed: str | None) -> None:
    """Apply a seed spec: None/'' = empty, 'demo' = demo owners, 'demo:N' = plus N contacts."""
    if not seed:
        return
    name, _, count = seed.partition(":")
    if name != "demo":
        raise ValueError(f"unknown seed {seed!r} (expected 'demo' or 'demo:N')")
    box.seed_demo()
    if count:
        seeder = getattr(box, "seed_contacts", None)
        if seeder is None:
            raise ValueError(f"the {crm} sandbox cannot seed a contact count")
        seeder(int(count))


def describe(crm: str, box: _Sandbox) -> str:
    """Connection details and a config snippet for a running sandbox."""
    env = TOKEN_ENV[crm]
    if crm == "hubspot":
        toml = (
            "[crm.hubspot]\n"
            f'base_url = "{box.base_url}"\n'
            f'token_env = "{env}"\n'
            f'ca_bundle = "{box.ca_file}"\n'
        )
    else:
        toml = (
            "[crm.salesforce]\n"
            f'instance_url = "{box.base_url}"\n'
            f'token_env = "{env}"\n'
            f'ca_bundle = "{box.ca_file}"\n'
        )
    return (
        f"{crm} sandbox listening\n"
        f"  base URL: {box.base_url}\n"
        f"  token:    {box.token}\n"
        f"  CA file:  {box.ca_file}\n\n"
        f"# config snippet\n{toml}\n"
        f"export {env}={box.token}\n"
    )


def serve(crm: str, seed: str | None, port: int, *, out: TextIO | None = None) -> int:
    """Start the chosen emulator, print how to reach it, block until Ctrl-C; exit code."""
    out = out or sys.stdout
    try:
        box = _make(crm, port)
        box.start()
    except (ValueError, OSError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            _seed(box, crm, seed)
        except ValueError as exc:
            print(f"sandbox: {exc}", file=sys.stderr)
            return 2
        out.write(describe(crm, box))
        out.write("\nPress Ctrl-C to stop.\n")
        out.flush()
        stop = threading.Event()
        previous = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, previous)
        return 0
    finally:
        box.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m sandbox.cli hubspot [--seed demo] [--port N]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sandbox.cli")
    parser.add_argument("crm", choices=sorted(TOKEN_ENV))
    parser.add_argument("--seed", default="demo")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    return serve(args.crm, args.seed, args.port)


if __name__ == "__main__":
    raise SystemExit(main())
