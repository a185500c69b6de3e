"""Errors the store raises. Messages carry no lead data, no SQL parameters, no passwords."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError


class StoreError(Exception):
    """The state store cannot be opened or used; the message is fit for a user."""


class StoreUnavailable(StoreError):
    """The database is locked past the busy timeout, unreachable or dropped the connection.

    Transient: the unit of work was rolled back; retry the whole unit later.
    """


def driver_reason(exc: SQLAlchemyError) -> str:
    """First line of the driver's message: no SQL, no parameters (which could hold data)."""
    orig = getattr(exc, "orig", None)
    message = (str(orig) if orig is not None else "").strip()
    first = message.splitlines()[0] if message else type(exc).__name__
    return first[:300]
