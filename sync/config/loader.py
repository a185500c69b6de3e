"""TOML file -> validated `Config`, or a `ConfigError` listing every problem at once."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path
from types import MappingProxyType

from sync.config.models import (
    Config,
    EscalationConfig,
    HubSpotConfig,
    IPNetwork,
    SalesforceConfig,
    ServiceConfig,
)
from sync.config.phi import REFUSAL, is_identity_field
from sync.config.reader import LineIndex, Problem, Problems, Section
from sync.config.rulebook import build_rulebook

CRM_KINDS = ("hubspot", "salesforce")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(?P<port>\d{1,5})$")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_API_VERSION = re.compile(r"^\d{2}\.\d$")
# units for the per-key bounds below (each bound is documented in config.example.toml)
ZERO, MS, SECOND = timedelta(0), timedelta(milliseconds=1), timedelta(seconds=1)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
MAX_WEBHOOK_BYTES = 16 * 1024 * 1024


class ConfigError(Exception):
    """The config cannot be used; `problems` holds one line per mistake."""

    def __init__(self, problems: list[Problem] | list[str]) -> None:
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))


def default_config_path() -> Path:
    return Path(os.environ.get("LEADROUTER_CONFIG") or "leadrouter.toml")


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file (use --config PATH or set "
                           "LEADROUTER_CONFIG)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    return parse_config(text, source=path)


def parse_config(text: str, *, source: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source or 'config'}: not valid TOML: {exc}"]) from None
    except ValueError:  # tomllib lets int() refuse a number over 4300 digits, unwrapped
        raise ConfigError([_too_many_digits(text, source)]) from None
    problems = Problems(LineIndex(text))
    root = Section(data, "", problems)
    service = _service(root)
    crm_kind, hubspot, salesforce = _crm(root)
    fields = _fields(root)
    rulebook = build_rulebook(root, fields)
    escalation = _escalation(root, set(rulebook.coordinators))
    zip_attribute = str((data.get("routing") or {}).get("zip_attribute", "zip"))
    for key in ("coordinators", "rules", "facilities", "on_call", "schedules"):
        root.has(key)
    root.finish()
    if problems.items:
        raise ConfigError(sorted(problems.items, key=lambda p: (p.line or 0, p.path)))
    return Config(source, service, crm_kind, hubspot, salesforce, fields, rulebook,
                  escalation, zip_attribute)


def _too_many_digits(text: str, source: Path | None) -> str:
    found = re.search(r"[0-9_]{4301,}", text)
    newline = "\n"
    line = f" (line {text.count(newline, 0, found.start()) + 1})" if found else ""
    return f"{source or 'config'}: not valid TOML: a number has too many digits{line}"


def _service(root: Section) -> ServiceConfig:
    section = root.table("service") or Section({}, "service", root.problems)
    defaults = ServiceConfig()
    state_url = section.text("state_url", defaults.state_url)
    if not re.match(r"^(sqlite|postgresql(\+psycopg)?)://", state_url):
        section.error("state_url", 'must start with "sqlite:///" or "postgresql+psycopg://"')
    listen = section.text("listen", f"{defaults.listen_host}:{defaults.listen_port}")
    match = _LISTEN.match(listen)
    host, port = defaults.listen_host, defaults.listen_port
    if match and 0 < int(match["port"]) < 65536:
        host, port = match["host"].strip("[]"), int(match["port"])
    else:
        section.error("listen", f'"{listen}" is not HOST:PORT like "127.0.0.1:8080"')
    config = ServiceConfig(
        state_url=state_url,
        backfill=section.span("backfill", "24h", minimum=HOUR, maximum=90 * DAY),
        poll_interval=section.span("poll_interval", "30s", minimum=SECOND, maximum=DAY),
        escalation_interval=section.span("escalation_interval", "1m", minimum=100 * MS,
                                         maximum=DAY),
        apply_interval=section.span("apply_interval", "5s", minimum=100 * MS, maximum=HOUR),
        claim_lease=section.span("claim_lease", "2m", minimum=SECOND, maximum=DAY),
        listen_host=host,
        listen_port=port,
        webhook_max_bytes=section.integer("webhook_max_bytes", defaults.webhook_max_bytes,
                                      minimum=1024, maximum=MAX_WEBHOOK_BYTES)
        or defaults.webhook_max_bytes,
        log_format=section.text("log_format", "auto", choices=("auto", "json", "console")),
        public_url=_public_url(section),
        webhook_rate=section.integer("webhook_rate", defaults.webhook_rate, minimum=1,
                                     maximum=1_000_000) or defaults.webhook_rate,
        webhook_allow=_networks(section, "webhook_allow", ()),
        trusted_proxies=_networks(section, "trusted_proxies", defaults.trusted_proxies),
        tls_cert=_pem_file(section, "tls_cert"),
        tls_key=_pem_file(section, "tls_key"),
        max_connections=section.integer("max_connections", defaults.max_connections,
                                        minimum=8, maximum=100_000)
        or defaults.max_connections,
        header_timeout=section.span("header_timeout", "10s", minimum=SECOND,
                                    maximum=5 * MINUTE),
        body_timeout=section.span("body_timeout", "30s", minimum=SECOND, maximum=HOUR),
    )
    if bool(config.tls_cert) != bool(config.tls_key):
        section.error("tls_cert" if not config.tls_cert else "tls_key",
                      "tls_cert and tls_key go together (PEM certificate chain and its key)")
    section.finish()
    return config


def _public_url(section: Section) -> str:
    url = section.text("public_url", "").rstrip("/")
    if url and not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", url):
        section.error("public_url", f'"{url}" must be a base URL like '
                      '"https://leads.example.org" (no query)')
    return url


def _networks(section: Section, key: str, default: tuple[IPNetwork, ...]
              ) -> tuple[IPNetwork, ...]:
    """A list of networks in CIDR notation (a bare address is a /32 or /128)."""
    if not section.has(key):
        return default
    networks = []
    for text in section.str_list(key):
        try:
            networks.append(ip_network(text, strict=False))
        except ValueError:
            section.error(key, f'"{text[:60]}" is not a network like "13.108.0.0/14" or an '
                          "IP address")
    return tuple(networks)


def _pem_file(section: Section, key: str) -> str:
    path = section.text(key)
    if path and not Path(path).is_file():
        section.error(key, f'"{path}" is not a readable file')
    return path


def _env_name(section: Section, key: str, default: str, *, required: bool = True) -> str:
    """Secrets live in the environment; the TOML only names the variable."""
    name = section.text(key, default)
    if name and not _ENV_NAME.match(name):
        section.error(key, "must be the NAME of an environment variable holding the secret "
                      "(e.g. HUBSPOT_TOKEN), never the secret itself")
        return default
    if required and not name:
        section.error(key, "is required")
    return name


def _https_url(section: Section, key: str, default: str) -> str:
    url = section.text(key, default).rstrip("/")
    if not re.match(r"^https://[^/\s]+", url):
        section.error(key, f'"{url}" must be an https:// URL')
    return url


def _ca_bundle(section: Section) -> str:
    path = section.text("ca_bundle")
    if path and not Path(path).is_file():
        section.error("ca_bundle", f'"{path}" is not a readable file')
    return path


def _filters(section: Section) -> Mapping[str, tuple[str, ...]]:
    table = section.table("filters")
    if table is None:
        return MappingProxyType({})
    result = {name: table.str_list(name, allow_single=True) for name in list(table.data)}
    for name in [name for name in result if is_identity_field(name)]:
        table.error(name, f'CRM property "{name}" {REFUSAL}; filter on categories instead')
        del result[name]
    return MappingProxyType(result)


def _names(section: Section, key: str, allowed: tuple[str, ...]) -> Mapping[str, str]:
    table = section.table(key)
    if table is None:
        return MappingProxyType({})
    result = {}
    for name in allowed:
        value = table.opt_text(name)
        if value and not _PROPERTY.match(value):
            table.error(name, f'"{value}" is not a CRM property name')
        elif value and is_identity_field(value):
            # routing metadata written there would overwrite the person's details in the CRM
            table.error(name, f'CRM property "{value}" {REFUSAL}; name a property of its own')
        elif value:
            result[name] = value
    table.finish()
    return MappingProxyType(result)


_METADATA = ("rule", "routed_at", "sla_due", "coordinator")


def _hubspot(section: Section) -> HubSpotConfig:
    d = HubSpotConfig()
    config = HubSpotConfig(
        base_url=_https_url(section, "base_url", d.base_url),
        token_env=_env_name(section, "token_env", d.token_env),
        webhook_secret_env=_env_name(section, "webhook_secret_env", d.webhook_secret_env,
                                     required=False),
        ca_bundle=_ca_bundle(section),
        placeholder_owners=section.str_list("placeholder_owners"),
        filters=_filters(section),
        metadata_properties=_names(section, "metadata_properties", _METADATA),
        requests_per_10s=section.integer("requests_per_10s", d.requests_per_10s, minimum=1,
                                     maximum=1000) or d.requests_per_10s,
        searches_per_second=section.integer("searches_per_second", d.searches_per_second,
                                        minimum=1, maximum=50) or d.searches_per_second,
        poll_overlap=section.span("poll_overlap", "2m", minimum=ZERO, maximum=HOUR),
        timeout=section.span("timeout", "30s", minimum=SECOND, maximum=10 * MINUTE),
    )
    section.finish()
    return config


def _salesforce(section: Section) -> SalesforceConfig:
    d = SalesforceConfig()
    auth = section.text("auth", "token", choices=("token", "jwt", "client_credentials"))
    config = SalesforceConfig(
        instance_url=_https_url(section, "instance_url", d.instance_url),
        token_env=_env_name(section, "token_env", d.token_env, required=auth == "token"),
        object=section.text("object", "Lead", choices=("Lead", "Contact")),
        ca_bundle=_ca_bundle(section),
        auth=auth,
        api_version=_api_version(section, d.api_version),
        username=section.text("username"),
        consumer_key_env=_env_name(section, "consumer_key_env", "", required=auth != "token"),
        client_secret_env=_env_name(section, "client_secret_env", "",
                                    required=auth == "client_credentials"),
        private_key_file=section.text("private_key_file"),
        login_url=_https_url(section, "login_url", d.login_url),
        organization_id=section.text("organization_id"),
        placeholder_owners=section.str_list("placeholder_owners"),
        filters=_filters(section),
        metadata_fields=_names(section, "metadata_fields", _METADATA),
        api_reserve=section.integer("api_reserve", d.api_reserve, minimum=0, maximum=10**7) or 0,
        poll_overlap=section.span("poll_overlap", "2m", minimum=ZERO, maximum=HOUR),
        timeout=section.span("timeout", "30s", minimum=SECOND, maximum=10 * MINUTE),
        outbound_path_secret_env=_env_name(section, "outbound_path_secret_env", "",
                                           required=False),
        outbound_client_ca=_pem_file(section, "outbound_client_ca"),
    )
    if auth == "jwt" and not (config.username and config.private_key_file):
        section.error("auth", 'auth = "jwt" needs username and private_key_file')
    section.finish()
    return config


def _api_version(section: Section, default: str) -> str:
    version = section.text("api_version", default)
    if not _API_VERSION.match(version):
        section.error("api_version", f'"{version[:20]}" is not an API version like "59.0"')
        return default
    return version


def _crm(root: Section) -> tuple[str, HubSpotConfig | None, SalesforceConfig | None]:
    section = root.table("crm", required=True) or Section({}, "crm", root.problems)
    kind = section.text("kind", "hubspot", required=True, choices=CRM_KINDS)
    hub = section.table("hubspot")
    sf = section.table("salesforce")
    hubspot = _hubspot(hub) if hub else None
    salesforce = _salesforce(sf) if sf else None
    if kind == "hubspot" and hubspot is None:
        hubspot = _hubspot(Section({}, "crm.hubspot", root.problems))
    if kind == "salesforce" and salesforce is None:
        section.error("salesforce", 'is required when kind = "salesforce"')
    section.finish()
    return kind, hubspot, salesforce


def _fields(root: Section) -> Mapping[str, str]:
    section = root.table("fields", required=True)
    if section is None:
        return MappingProxyType({})
    fields = {}
    for attribute in list(section.data):
        name = section.text(attribute)
        if not re.match(r"^[a-z_][a-z0-9_]*$", attribute):
            section.error(attribute, "attribute names use lower-case letters, digits and _")
        elif not name:
            section.error(attribute, "must name a CRM property / field")
        elif is_identity_field(attribute):
            section.error(attribute, f'"{attribute}" {REFUSAL}')
        elif is_identity_field(name):
            section.error(attribute, f'CRM property "{name}" {REFUSAL}')
        else:
            fields[attribute] = name
    return MappingProxyType(fields)


def _escalation(root: Section, coordinators: set[str]) -> EscalationConfig:
    section = root.table("escalation") or Section({}, "escalation", root.problems)
    final_owner = section.opt_text("final_owner")
    if final_owner and final_owner not in coordinators:
        section.error("final_owner", f'no coordinator has id "{final_owner}"')
    config = EscalationConfig(
        max_reassignments=section.integer("max_reassignments", 2, minimum=0, maximum=20) or 0,
        final_owner=final_owner,
    )
    section.finish()
    return config
