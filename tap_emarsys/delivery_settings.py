"""The tap's file delivery settings: `delivery`, `webdav_*`, `sftp_*`, `notification_*`.

Turned into `emarsys_api` objects once per run, so a missing or contradictory setting is a
configuration error before any export starts. The export bodies for a file delivery differ per
endpoint (docs/emarsys-api.md §12.6): `distribution_body` writes each one the way its endpoint
documents it, and `check_deliverable` refuses a stream the delivery cannot serve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from emarsys_api import ConfigurationError, ExportType
from emarsys_api.file_delivery import FileDelivery, SftpDelivery, WebDavDelivery
from emarsys_api.notifications import parse_listen_address
from emarsys_singer.sftp_settings import SftpSettings

DELIVERIES = ("api", "webdav", "sftp")

#: The SFTP server `delivery: sftp` uses (declared with the target's in `emarsys_singer`).
#: `sftp_path` is the tap's own folder: where Emarsys uploads the export files.
#: `sftp_delete_after_read` is declared in `tap_emarsys.tap`, as only the tap removes files.
TAP_SFTP = SftpSettings(
    prefix="sftp",
    role="Emarsys uploads the exports to and the tap reads from",
    folder="sftp_path",
    folder_description="Folder on the SFTP server the export files are uploaded to.",
    required_when="`delivery: sftp`",
)

# docs/emarsys-api.md §12.6: the key each export names its SFTP server under; getresponses
# offers `local` and `ftp` only, so it has none.
SFTP_SERVER_KEYS: dict[ExportType, str] = {
    ExportType.CONTACT_CHANGES: "ftp_settings",
    ExportType.CONTACT_REGISTRATIONS: "sftp_settings",
    ExportType.CONTACT_LIST_MEMBERS: "sftp_settings",
    ExportType.SEGMENT_MEMBERS: "ftp_settings",
}
# Older pages spell export/filter's port `ftp_port` (§4.2, §12.6): that body carries both.
FTP_PORT_ALIAS = {ExportType.SEGMENT_MEMBERS}


@dataclass(frozen=True)
class NotificationSettings:
    """Where Emarsys calls back (`notification_url`) and where the tap listens for it."""

    url: str
    host: str
    port: int


def _required(config: Mapping[str, Any], setting: str, delivery: str) -> str:
    value = config.get(setting)
    if value is None or str(value).strip() == "":
        msg = f"`{setting}` is required when `delivery` is {delivery!r}."
        raise ConfigurationError(msg, setting=setting)
    return str(value)


def file_delivery(config: Mapping[str, Any]) -> FileDelivery | None:
    """The delivery the settings ask for (None: the API download).

    The `sftp_*` server is parsed by `TAP_SFTP` (the same checks and messages as the
    target's `rds_sftp_*` one).

    Raises:
        ConfigurationError: unknown `delivery`, a setting it needs is missing, or an SFTP
            port or host key that cannot be used (one line naming the setting).
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
        server = TAP_SFTP.server(config)
        return SftpDelivery(
            server.login,
            server.folder,
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


def distribution_body(export_type: ExportType, delivery: FileDelivery | None) -> dict[str, Any]:
    """The export body fields that say where Emarsys puts the file, as `export_type` wants them.

    `local` (API download, WebDAV) is the same for every export. For `sftp` the server goes
    under the key the endpoint documents (`ftp_settings` for getchanges and export/filter,
    `sftp_settings` for getregistrations and getcontacts), with export/filter's port also as
    `ftp_port`: an account that accepts only the documented form gets it, one that accepts
    either loses nothing.

    Raises:
        ConfigurationError: the export cannot be delivered this way (getresponses by sftp).
    """
    if delivery is None:
        return {"distribution_method": "local"}
    body = delivery.export_body()
    if body.get("distribution_method") != "sftp":
        return body
    key = SFTP_SERVER_KEYS.get(export_type)
    if key is None:
        raise _not_deliverable(export_type.value, delivery.method)
    server = dict(body.pop("sftp_settings"))
    if export_type in FTP_PORT_ALIAS:
        server["ftp_port"] = server["port"]
    body[key] = server
    return body


def check_deliverable(
    delivery: FileDelivery | None, streams: Iterable[tuple[str, ExportType]]
) -> None:
    """Refuse, before any export starts, a selected stream the delivery cannot serve.

    Args:
        delivery: the configured delivery (None: the API download, which serves all).
        streams: `(stream name, export type)` of every selected export stream.

    Raises:
        ConfigurationError: names the stream, the `delivery` setting and what to do.
    """
    if delivery is None or delivery.method != "sftp":
        return
    for name, export_type in streams:
        if export_type not in SFTP_SERVER_KEYS:
            raise _not_deliverable(export_type.value, delivery.method, stream=name)


def _not_deliverable(endpoint: str, method: str, *, stream: str = "") -> ConfigurationError:
    who = f"stream '{stream}' ({endpoint})" if stream else endpoint
    return ConfigurationError(
        f"{who} cannot be delivered by {method}: Emarsys offers that export only as `local` or "
        "`ftp`. Deselect the stream, or set `delivery` to `api` or `webdav`.",
        setting="delivery",
    )
