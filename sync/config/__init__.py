"""Configuration: one TOML file, validated all at once into frozen models."""

from sync.config.loader import ConfigError, default_config_path, load_config, parse_config
from sync.config.models import (
    Config,
    EscalationConfig,
    HubSpotConfig,
    SalesforceConfig,
    ServiceConfig,
)
from sync.config.reader import format_duration, parse_duration

__all__ = [
    "Config",
    "ConfigError",
    "EscalationConfig",
    "HubSpotConfig",
    "SalesforceConfig",
    "ServiceConfig",
    "default_config_path",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
]
