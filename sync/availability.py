"""Live availability: who is away now, and the step that keeps it current.

A coordinator is away when their CRM owner is unusable (checked at start), when
`leadrouter away` marked them (until `--until`, if given), or when the CRM shows them away
(the connector's optional `away_owners()`: a user status or checkbox, per CRM). Routing
reads the marks from the store at every decision, so a mark made from the command line
counts at the next routing; the step below reads the CRM on
`[service] availability_interval` and notices returns (CRM status back to available,
`leadrouter back`, an `--until` that passed), which retry the leads that found nobody.

Fairness after a return: nothing is back-filled. Round robin resumes at its pointer (the
returning coordinator gets their turn when the rotation reaches them), and least-loaded
compares open leads, which is what a coordinator is carrying now, not what they missed.
"""

from __future__ import annotations

from datetime import datetime

from connectors.base import AuthError, FatalError, away_owners
from state import UnitOfWork
from state.repos.availability import CLI
from sync.context import Context
from sync.logs import get_logger

log = get_logger("leadrouter.availability")


def away_now(uow: UnitOfWork, ctx: Context, now: datetime) -> frozenset[str]:
    """The roster's away set: unusable owners, command-line marks in effect, CRM marks."""
    return ctx.directory.unavailable | frozenset(uow.availability.away(now))


def refresh_from_crm(ctx: Context) -> int:
    """Read who the CRM shows as away and keep the store's CRM marks equal to it (none
    when the connector's availability is off); the number of coordinators back."""
    try:
        owners = away_owners(ctx.connector)  # outside the transaction: a CRM call
    except AuthError as exc:
        # e.g. a token without the users scope: this step fails (and is reported) on its
        # own, the marks stay as last read, and routing and CRM writes go on
        raise FatalError(f"availability: {exc}", status=exc.status) from None
    coordinator_of = ctx.directory.coordinator_of
    away = {coordinator_of[o] for o in owners or () if o in coordinator_of}
    with ctx.store.unit_of_work() as uow:
        newly, back = uow.availability.set_crm_away(away, ctx.clock())
        uow.commit()
    for coordinator in sorted(newly):
        log.info("coordinator.away", coordinator=coordinator, source="crm")
    for coordinator in sorted(back):
        log.info("coordinator.back", coordinator=coordinator, source="crm")
    return len(back)


def sweep_returns(ctx: Context) -> int:
    """Delete the away marks that have ended (`leadrouter back`, `--until` passed); the
    number of coordinators back."""
    with ctx.store.unit_of_work() as uow:
        gone = uow.availability.sweep_expired(ctx.clock())
        uow.commit()
    for coordinator in sorted(set(gone)):
        log.info("coordinator.back", coordinator=coordinator, source=CLI)
    return len(gone)
