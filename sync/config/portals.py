"""A deployment: the main config file and its portals (one CRM connection each).

Without `[service] portals` the main file is the one portal, "default". With it, the main
file holds `[service]` only, and each `*.toml` in that directory (relative to the main file)
is one portal: its own `[crm]`, `[fields]`, `[[coordinators]]`, `[[rules]]`... and no
`[service]`; its id is the file name without `.toml`. Every portal file is validated, and
each problem names its file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from sync.config.loader import (
    ConfigError,
    parse_config,
    parse_service,
    read_config_text,
    read_toml,
)
from sync.config.models import Config, ServiceConfig
from sync.config.reader import LineIndex, Problems

PORTAL_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")  # the store's portal columns hold 64


@dataclass(frozen=True)
class Deployment:
    """The main file's `[service]` and each portal's config, by portal id (sorted)."""

    source: Path
    service: ServiceConfig
    portals: Mapping[str, Config]

    @property
    def ids(self) -> list[str]:
        return list(self.portals)

    def portal(self, ident: str | None) -> Config:
        """The portal `ident`; None picks the only one. ConfigError naming the ids else."""
        if ident is None:
            if len(self.portals) == 1:
                return next(iter(self.portals.values()))
            raise ConfigError([f"{self.source}: {len(self.portals)} portals "
                               f"({', '.join(self.ids)}): choose one with --portal ID"])
        if ident not in self.portals:
            raise ConfigError([f"--portal {ident!r}: no such portal in {self.source} (the "
                               f"portals: {', '.join(self.ids)})"])
        return self.portals[ident]


def load_deployment(path: Path | str) -> Deployment:
    """The main config file and its portal files; ConfigError listing every problem."""
    path = Path(path)
    text = read_config_text(path)
    data = read_toml(text, path)
    raw = data.get("service")
    if not isinstance(raw, dict) or not raw.get("portals"):
        config = parse_config(text, source=path)
        return Deployment(path, config.service, MappingProxyType({config.portal: config}))
    problems = Problems(LineIndex(text))
    service = parse_service(problems, data)
    for key in sorted(set(data) - {"service"}):
        problems.add(key, "with [service] portals, this table goes in each portal file")
    files = _portal_files(problems, path, service)
    errors = [f"{path}: {p}" for p in sorted(problems.items,
                                              key=lambda p: (p.line or 0, p.path))]
    if errors or service is None:
        raise ConfigError(errors)
    portals: dict[str, Config] = {}
    for file in files:
        try:
            portals[file.stem] = _portal(file, service)
        except ConfigError as exc:
            errors.extend(line if line.startswith(str(file)) else f"{file}: {line}"
                          for line in exc.problems)
    errors.extend(_accounts(portals, {f.stem: f for f in files}))
    if errors:
        raise ConfigError(errors)
    return Deployment(path, service, MappingProxyType(portals))


def _portal_files(problems: Problems, path: Path, service: ServiceConfig | None
                  ) -> list[Path]:
    if service is None:
        return []
    folder = path.parent / service.portals
    if not folder.is_dir():
        problems.add("service.portals", f'"{service.portals}" is not a directory (relative '
                     f"to {path.parent})")
        return []
    files = sorted(folder.glob("*.toml"))
    if not files:
        problems.add("service.portals", f"{folder} has no portal file (<portal id>.toml)")
    for file in files:
        if not PORTAL_ID.match(file.stem):
            problems.add("service.portals", f'"{file.name}": a portal file is named by its '
                         "portal id: letters, digits, _ . - (at most 64)")
    return files


def _portal(file: Path, service: ServiceConfig) -> Config:
    return parse_config(read_config_text(file), source=file, service_from=service,
                        portal=file.stem)


def _accounts(portals: Mapping[str, Config], files: Mapping[str, Path]) -> list[str]:
    """Each portal is its own CRM account, named in its `[crm.<kind>]` so that webhooks
    find their portal: required when several portals use one CRM kind, and unique."""
    errors: list[str] = []
    by_kind: dict[str, list[str]] = {}
    for ident, config in portals.items():
        by_kind.setdefault(config.crm_kind, []).append(ident)
    for kind, idents in sorted(by_kind.items()):
        seen: dict[str, str] = {}
        for ident in idents:
            settings = portals[ident].crm_settings
            account = str(getattr(settings, "account", "") or "")
            key = f"crm.{kind}.{getattr(settings, 'ACCOUNT_KEY', 'account')}"
            if not account:
                if len(idents) > 1:
                    errors.append(f"{files[ident]}: {key}: is required when several portals "
                                  f"use {kind} (webhooks are matched to their portal by it)")
                continue
            if account in seen:
                errors.append(f"{files[ident]}: {key}: the same account as portal "
                              f"{seen[account]!r}: each portal is its own CRM account")
            seen.setdefault(account, ident)
    return errors
