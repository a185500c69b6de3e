"""The configured channels, with their secrets read from the environment at start."""

from __future__ import annotations

from collections.abc import Mapping

from sync.config.notifications import NotificationsConfig
from sync.notify.channels import Channel


class MissingSecret(Exception):
    """A channel's secret is not in the environment: the message names the variable."""

    phi_safe = True


def _secret(environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name, "").strip() if name else ""
    if name and not value:
        raise MissingSecret(f"{what}: the environment variable {name} is not set")
    return value


def build_channels(config: NotificationsConfig, environ: Mapping[str, str]
                   ) -> dict[str, Channel]:
    """One channel per configured `[notifications.<channel>]` table."""
    channels: dict[str, Channel] = {}
    if config.email is not None:
        from sync.notify.email import EmailChannel

        t = config.email
        channels["email"] = EmailChannel(
            t, _secret(environ, t.username_env, "[notifications.email] username_env"),
            _secret(environ, t.password_env, "[notifications.email] password_env"))
    if config.slack is not None:
        from sync.notify.slack import SlackChannel

        s = config.slack
        url = _secret(environ, s.webhook_url_env, "[notifications.slack] webhook_url_env")
        if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            raise MissingSecret(f"[notifications.slack] webhook_url_env: {s.webhook_url_env} "
                                "does not hold an https:// webhook URL")
        channels["slack"] = SlackChannel(url, s.ca_bundle)
    if config.sms is not None:
        from sync.notify.sms import SmsChannel

        m = config.sms
        channels["sms"] = SmsChannel(
            m, _secret(environ, m.account_sid_env, "[notifications.sms] account_sid_env"),
            _secret(environ, m.auth_token_env, "[notifications.sms] auth_token_env"))
    return channels
