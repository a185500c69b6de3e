"""The composition root: config + store + connector + owner directory + clock, built once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connectors.base import AuthError, Connector, CrmError
from connectors.registry import connector_factory
from state import Store, open_store
from state.writer_lock import WriterLock, acquire_writer_lock
from sync.config import Config
from sync.logs import get_logger
from sync.owners import OwnerDirectory, resolve_owners
from sync.subscribers import EventBus

if TYPE_CHECKING:
    from sync.ack_links import AckLinks
    from sync.notify.channels import Channel


def utc_now() -> datetime:
    return datetime.now(UTC)


class StartupError(Exception):
    """leadrouter cannot start: the message says what a person must fix."""

    phi_safe = True


@dataclass
class Context:
    config: Config
    store: Store
    connector: Connector
    directory: OwnerDirectory
    clock: Callable[[], datetime] = utc_now
    # set by the service to wake the pipeline early (webhooks); a no-op elsewhere
    wake: Callable[[], None] = field(default=lambda: None)
    writer_lock: WriterLock | None = None  # SQLite: this process is its only writer
    events: EventBus = field(default_factory=EventBus)  # lead-event subscribers
    # notification channels by name ([notifications.<channel>]); none configured: empty
    channels: Mapping[str, Channel] = field(default_factory=dict)
    # signs and checks acknowledgement links; None: public_url or link_secret_env not set
    links: AckLinks | None = None

    @property
    def crm(self) -> str:
        return self.config.crm_kind

    def close(self) -> None:
        self.connector.close()
        self.store.close()
        if self.writer_lock is not None:
            self.writer_lock.release()
            self.writer_lock = None


def connector_settings(config: Config) -> Any:
    """The selected connector plugin's validated `[crm.<kind>]` settings."""
    settings = config.crm_settings
    if settings is None:
        raise StartupError(f"[crm.{config.crm_kind}] is missing from the config")
    return settings


def build_connector(config: Config, *, environ: Mapping[str, str] | None = None,
                    **options: Any) -> Connector:
    factory = connector_factory(config.crm_kind)
    connector = factory(connector_settings(config), config.fields,
                        environ=os.environ if environ is None else environ, **options)
    if not isinstance(connector, Connector):
        raise StartupError(f'the "{config.crm_kind}" connector does not implement the '
                           "Connector protocol")
    return connector


def subscribe_features(bus: EventBus, config: Config, record_link: Callable[[str], str],
                       links: AckLinks | None, portal: str) -> None:
    """What reacts to lead events (in the transaction of each change)."""
    from sync import paging
    from sync.notify import subscriber  # imports the lifecycle, which imports nothing here
    from sync.report import projection

    projection.subscribe(bus)
    subscriber.subscribe(bus, config.notifications, record_link, links, portal)
    paging.subscribe(bus, config.notifications)


def build_links(config: Config, environ: Mapping[str, str]) -> AckLinks | None:
    """The acknowledgement-link signer, when `public_url` and `link_secret_env` are set."""
    from sync.ack_links import MIN_SECRET_BYTES, AckLinks

    name = config.service.link_secret_env
    if not name:
        return None
    secret = environ.get(name, "").strip().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise StartupError(f"[service] link_secret_env: the environment variable {name} "
                           f"must hold a random secret of at least {MIN_SECRET_BYTES} "
                           "characters")
    if not config.service.public_url:
        get_logger("leadrouter.notify").warning(
            "notify.no_ack_links", reason="link_secret_env is set but public_url is not")
        return None
    return AckLinks(secret, config.service.public_url)


def build_channels(config: Config, environ: Mapping[str, str]) -> dict[str, Channel]:
    """The configured notification channels; StartupError when a secret is missing."""
    from sync.notify.build import MissingSecret
    from sync.notify.build import build_channels as build

    try:
        return build(config.notifications, environ)
    except MissingSecret as exc:
        raise StartupError(str(exc)) from None


def build_context(config: Config, *, environ: Mapping[str, str] | None = None,
                  clock: Callable[[], datetime] = utc_now, shared: Store | None = None,
                  portals: int = 1, **connector_options: Any) -> Context:
    """Open the store, build the connector and resolve every coordinator's CRM owner.

    `shared`: the store of another portal of this process; this portal's handle uses its
    engine (one connection pool) and its writer lock. `portals`: how many will share this
    one's pool (each portal's worker thread holds a few connections at a time). Raises StartupError
    (config/credentials) or StoreError (database) with a message meant for a person;
    nothing half-built is left open.
    """
    channels = build_channels(config, os.environ if environ is None else environ)
    links = build_links(config, os.environ if environ is None else environ)
    writer_lock: WriterLock | None = None
    if shared is not None:
        store = shared.for_portal(config.portal)
    else:
        store = open_store(config.service.state_url, portal=config.portal,
                           max_overflow=5 + 3 * (portals - 1))
        try:
            writer_lock = acquire_writer_lock(store)
        except BaseException:
            store.close()
            raise
    try:
        connector = build_connector(config, environ=environ, **connector_options)
    except (AuthError, LookupError) as exc:
        store.close()
        if writer_lock is not None:
            writer_lock.release()
        raise StartupError(str(exc)) from None
    try:
        owners = connector.owners()
    except CrmError as exc:
        connector.close()
        store.close()
        if writer_lock is not None:
            writer_lock.release()
        if isinstance(exc, AuthError):
            raise StartupError(f"{exc}: check the {config.crm_kind} credentials") from None
        raise StartupError(f"cannot list CRM owners: {exc}") from None
    directory = resolve_owners(config.rulebook.coordinators, owners)
    log = get_logger("leadrouter.owners")
    for coordinator, why in sorted(directory.unusable.items()):
        # reported, never written: the router treats them as away
        log.warning("owner.unusable", coordinator=coordinator, reason=why)
    ctx = Context(config, store, connector, directory, clock, writer_lock=writer_lock,
                  channels=channels, links=links)
    subscribe_features(ctx.events, config, connector.record_link, links, store.portal)
    from sync.scrub import scrub_store  # needs the context; imports it

    try:
        scrub_store(ctx)
    except BaseException:
        ctx.close()
        raise
    return ctx
