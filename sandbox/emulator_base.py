"""The part of an emulator that is just its server: URL, CA, faults, request log."""

from __future__ import annotations

from typing import Self

from sandbox._server import Faults, LoggedRequest, TLSServer


class ServedEmulator:
    """What every emulator exposes of its `TLSServer`: URL, CA, faults, request log, and
    use as a context manager. Subclasses set `self.server` and may extend start/stop."""

    server: TLSServer

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ca_file(self) -> str:
        return self.server.ca_file

    @property
    def faults(self) -> Faults:
        return self.server.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self.server.faults = value

    @property
    def request_log(self) -> list[LoggedRequest]:
        return self.server.request_log

    def clear_log(self) -> None:
        self.server.clear_log()
