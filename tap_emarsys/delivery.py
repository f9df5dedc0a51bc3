"""The tap's file delivery settings: `delivery`, `webdav_*`, `sftp_*`, `notification_*`.

Turned into `emarsys_api` objects once per run, so a missing or contradictory setting is a
configuration error before any export starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emarsys_api import ConfigurationError
from emarsys_api.delivery import FileDelivery, SftpDelivery, WebDavDelivery
from emarsys_api.notifications import parse_listen_address

DELIVERIES = ("api", "webdav", "sftp")


@dataclass(frozen=True)
class NotificationSettings:
    """Where Emarsys calls back (`notification_url`) and where the tap listens for it."""

    url: str
    host: str
    port: int


def _required(config: Mapping[str, Any], setting: str, delivery: str) -> str:
    value = config.get(setting)
    if value is None or str(value).strip() == "":
        raise ConfigurationError(f"is required when delivery is {delivery!r}", setting=setting)
    return str(value)


def file_delivery(config: Mapping[str, Any]) -> FileDelivery | None:
    """The delivery the settings ask for (None: the API download).

    Raises:
        ConfigurationError: unknown `delivery`, or a setting it needs is missing.
    """
    delivery = str(config.get("delivery") or "api")
    if delivery not in DELIVERIES:
        msg = f"must be one of {', '.join(DELIVERIES)}, got {delivery!r}"
        raise ConfigurationError(msg, setting="delivery")
    if delivery == "webdav":
        return WebDavDelivery(
            _required(config, "webdav_url", delivery),
            _required(config, "webdav_username", delivery),
            _required(config, "webdav_password", delivery),
        )
    if delivery == "sftp":
        port = config.get("sftp_port") or 22
        if isinstance(port, bool) or not str(port).isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(f"must be a TCP port, got {port!r}", setting="sftp_port")
        return SftpDelivery(
            _required(config, "sftp_host", delivery),
            int(port),
            _required(config, "sftp_username", delivery),
            _required(config, "sftp_password", delivery),
            _required(config, "sftp_path", delivery),
            host_key=config.get("sftp_host_key") or None,
            delete_after_read=bool(config.get("sftp_delete_after_read", False)),
        )
    return None


def notification_settings(config: Mapping[str, Any]) -> NotificationSettings | None:
    """The callback URL and listen address, or None when `notification_url` is not set.

    Raises:
        ConfigurationError: one of the pair without the other, or a malformed address.
    """
    url = config.get("notification_url")
    listen = config.get("notification_listen")
    if not url:
        if listen:
            raise ConfigurationError(
                "is set but notification_url is not (Emarsys needs the URL to call)",
                setting="notification_url",
            )
        return None
    if not str(url).startswith(("http://", "https://")):
        raise ConfigurationError(f"must be an http(s) URL, got {url!r}", setting="notification_url")
    if not listen:
        raise ConfigurationError(
            "is required with notification_url (host:port this tap listens on)",
            setting="notification_listen",
        )
    host, port = parse_listen_address(str(listen))
    return NotificationSettings(str(url), host, port)
