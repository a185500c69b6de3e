"""TOML file -> validated `Config`, or a `ConfigError` listing every problem at once."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ConfigDict, ValidationError

from connectors import registry
from connectors.plugin import REFUSE_PROPERTY, SettingsModel, shown
from state.tables import DEFAULT_PORTAL
from sync.config.intake import build_intake
from sync.config.models import Config, EscalationConfig, ServiceConfig
from sync.config.notifications import build_notifications
from sync.config.phi import REFUSAL, identity_names, is_identity_field
from sync.config.reader import LineIndex, Problem, Problems
from sync.config.rulebook import build_rulebook, declared
from sync.config.sections import Document, RoutingTable

_ATTRIBUTE = re.compile(r"^[a-z_][a-z0-9_]*$")


class ConfigError(Exception):
    """The config cannot be used; `problems` holds one line per mistake."""

    def __init__(self, problems: list[Problem] | list[str]) -> None:
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))


class CrmTable(SettingsModel):
    """`[crm]`: `kind` selects the plugin; `[crm.<name>]` tables go to the plugins."""

    model_config = ConfigDict(extra="allow")
    kind: str


def default_config_path() -> Path:
    return Path(os.environ.get("LEADROUTER_CONFIG") or "leadrouter.toml")


def read_config_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file (use --config PATH or set "
                           "LEADROUTER_CONFIG)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None


def load_config(path: Path | str) -> Config:
    """The config of the file's one portal; with `[service] portals` naming several, a
    ConfigError asking which (see `sync.config.portals.load_deployment`)."""
    from sync.config.portals import load_deployment  # it builds on this module

    return load_deployment(path).portal(None)


def read_toml(text: str, source: Path | None) -> dict[str, Any]:
    """The TOML document with its strings trimmed; ConfigError when it is not TOML."""
    try:
        data: dict[str, Any] = _trimmed(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source or 'config'}: not valid TOML: {exc}"]) from None
    except ValueError:  # tomllib lets int() refuse a number over 4300 digits, unwrapped
        raise ConfigError([_too_many_digits(text, source)]) from None
    return data


def parse_service(problems: Problems, data: Mapping[str, Any]) -> ServiceConfig | None:
    """`[service]`, validated (None after recording its problems)."""
    service = problems.validate(ServiceConfig, data.get("service", {}), "service")
    if service is not None and bool(service.tls_cert) != bool(service.tls_key):
        problems.add("service.tls_key" if service.tls_cert else "service.tls_cert",
                     "tls_cert and tls_key go together (PEM certificate chain and its key)")
    return service


def parse_config(text: str, *, source: Path | None = None,
                 service_from: ServiceConfig | None = None,
                 portal: str = DEFAULT_PORTAL) -> Config:
    """One portal's config. `service_from`: a portal file's `[service]`, which lives in the
    main file (a portal file may not have its own); `portal`: its id."""
    config = _parse_config(text, source, service_from)
    return config if portal == DEFAULT_PORTAL else replace(config, portal=portal)


def _parse_config(text: str, source: Path | None, service_from: ServiceConfig | None
                  ) -> Config:
    data = read_toml(text, source)
    problems = Problems(LineIndex(text))
    problems.validate(Document, data, "")
    if service_from is None:
        service = parse_service(problems, data)
    else:
        service = service_from
        if "service" in data:
            problems.add("service", "belongs in the main config file, not in a portal file")
    kind, settings, identity = _crm(problems, data.get("crm"))
    fields = _fields(problems, data.get("fields"), identity)
    routing = problems.validate(RoutingTable, data.get("routing", {}), "routing")
    rulebook = build_rulebook(problems, data, fields, routing)
    notifications = build_notifications(problems, data, rulebook.coordinators)
    intake = build_intake(problems, data, fields)
    escalation = problems.validate(EscalationConfig, data.get("escalation", {}), "escalation")
    final_owner = escalation.final_owner if escalation else None
    if final_owner and final_owner not in declared(data, "coordinators", "id"):
        problems.add("escalation.final_owner", f'no coordinator has id "{final_owner}"')
    if problems.items or service is None or escalation is None or routing is None:
        raise ConfigError(sorted(problems.items, key=lambda p: (p.line or 0, p.path)))
    return Config(source, service, kind, settings, fields, rulebook, escalation,
                  routing.zip_attribute, notifications, intake)


def _trimmed(value: Any) -> Any:
    """Every string value stripped: a stray space is not a different value."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return {key: _trimmed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trimmed(item) for item in value]
    return value


def _too_many_digits(text: str, source: Path | None) -> str:
    found = re.search(r"[0-9_]{4301,}", text)
    newline = "\n"
    line = f" (line {text.count(newline, 0, found.start()) + 1})" if found else ""
    return f"{source or 'config'}: not valid TOML: a number has too many digits{line}"


def _refuser(names: frozenset[str]) -> Callable[[str], str | None]:
    """Why a CRM property may not be read or written (personal data), or None."""
    return lambda name: REFUSAL if is_identity_field(name, names) else None


def _crm(problems: Problems, raw: Any) -> tuple[str, Any, frozenset[str]]:
    """The selected kind, its plugin's validated settings, and the personal-data names.

    Every `[crm.<name>]` table present is validated by the plugin of that name, selected
    or not; a name no installed plugin has is an unknown key.
    """
    table = problems.validate(CrmTable, raw, "crm") if raw is not None else None
    if table is None:
        return "", None, identity_names()
    names = registry.available()
    if table.kind not in names:
        problems.add("crm.kind", f'{shown(table.kind)} is not one of: {", ".join(names)}')
    settings: Any = None
    identity = identity_names()
    for name, section in (table.model_extra or {}).items():
        if name not in names:
            problems.add(f"crm.{name}", "unknown key")
            continue
        plugin = registry.plugin(name)
        own = identity_names(plugin.phi_field_names)
        validated = problems.validate(plugin.settings_model, section, f"crm.{name}",
                                      {REFUSE_PROPERTY: _refuser(own)})
        if name == table.kind:
            settings, identity = validated, own
    if table.kind in names and table.kind not in (table.model_extra or {}):
        plugin = registry.plugin(table.kind)
        identity = identity_names(plugin.phi_field_names)
        try:  # a plugin whose every setting has a default needs no table
            settings = plugin.settings_model.model_validate({})
        except ValidationError:
            problems.add(f"crm.{table.kind}", f'is required when kind = "{table.kind}"')
    return table.kind, settings, identity


def _fields(problems: Problems, raw: Any, identity: frozenset[str]) -> Mapping[str, str]:
    """`[fields]`: lead attribute -> CRM property; personal data refused on either side."""
    table = problems.validate(dict[str, Any], raw, "fields") if raw is not None else None
    fields = {}
    for attribute, value in (table or {}).items():
        path = f"fields.{attribute}"
        name = problems.validate(str, value, path)
        if name is None:
            continue
        if not _ATTRIBUTE.match(attribute):
            problems.add(path, "attribute names use lower-case letters, digits and _")
        elif not name:
            problems.add(path, "must name a CRM property / field")
        elif is_identity_field(attribute, identity):
            problems.add(path, f'"{attribute}" {REFUSAL}')
        elif is_identity_field(name, identity):
            problems.add(path, f'CRM property "{name}" {REFUSAL}')
        else:
            fields[attribute] = name
    return MappingProxyType(fields)
