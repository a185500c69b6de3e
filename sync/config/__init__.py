"""Configuration: one TOML file, validated all at once into frozen models."""

from connectors.plugin import format_duration, parse_duration
from sync.config.loader import ConfigError, default_config_path, load_config, parse_config
from sync.config.models import Config, EscalationConfig, ServiceConfig

__all__ = [
    "Config",
    "ConfigError",
    "EscalationConfig",
    "ServiceConfig",
    "default_config_path",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
]
