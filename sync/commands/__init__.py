"""What the `leadrouter` subcommands share: exit codes and the config a command is for."""

from __future__ import annotations

import argparse

from sync.config import Config, default_config_path
from sync.config.portals import Deployment, load_deployment

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def portal_config(args: argparse.Namespace) -> Config:
    """The config of the portal the command is for: `--portal ID`, required when the
    deployment has several (`[service] portals`)."""
    return deployment_of(args).portal(getattr(args, "portal", None))


def deployment_of(args: argparse.Namespace) -> Deployment:
    return load_deployment(args.config or default_config_path())
