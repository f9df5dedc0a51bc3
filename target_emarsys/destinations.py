"""Where each stream goes: the parsed `stream_destinations` setting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from emarsys_api import ConfigurationError
from emarsys_singer.sftp_settings import SftpSettings
from target_emarsys.errors import DestinationConfigError
from target_emarsys.values import is_digits

DESTINATION_TYPES = ("relational", "behavior", "contacts")
VIAS = ("api", "sftp")
MODES = ("append", "overwrite")
#: The keys each destination type takes; any other key is refused, so a typo (`tabel`) does
#: not silently send the rows to the default table.
DESTINATION_KEYS = {
    "relational": ("type", "table", "connection", "via", "mode"),
    "behavior": ("type", "provider", "channel", "campaign_type", "event_type"),
    "contacts": ("type", "key_field"),
}
#: The SFTP server of `"via": "sftp"` destinations (declared with the tap's in `emarsys_singer`).
#: `rds_sftp_folder` is the target's own folder: where the CSV files go, named by table and mode.
TARGET_SFTP = SftpSettings(
    prefix="rds_sftp",
    role="`via: sftp` destinations upload their CSV files to",
    folder="rds_sftp_folder",
    folder_description="Folder the CSV files go to; names say table and append/overwrite.",
    required_when="`'via': 'sftp'`",
)


@dataclass(frozen=True)
class RelationalDestination:
    """An RDS table; the SDK's `load_method` chooses upsert, insert or replace.

    `via` `sftp` loads it from CSV files instead (`mode`: `append`, `overwrite`, or None to
    follow `load_method`).
    """

    table: str
    connection: str
    via: str = "api"
    mode: str | None = None


@dataclass(frozen=True)
class BehaviorDestination:
    """The behavior-data (HDS) endpoint of one provider, channel, campaign type and event type."""

    customer_id: str
    provider: str
    channel: str
    campaign_type: str
    event_type: str


@dataclass(frozen=True)
class ContactsDestination:
    """Contact upserts keyed by one contact field (string id such as `email`, or numeric id)."""

    key_field: str


Destination = RelationalDestination | BehaviorDestination | ContactsDestination


def _text(stream: str, raw: Mapping[str, Any], name: str, default: Any = None) -> str:
    value = raw.get(name, default)
    if value is None or (isinstance(value, str) and not value.strip()):
        kind = raw.get("type")
        raise DestinationConfigError(stream, f"a {kind} destination needs '{name}'")
    return str(value)


def _check_keys(stream: str, raw: Mapping[str, Any]) -> None:
    """Refuse a key the destination's type does not take, suggesting the closest valid one."""
    valid = DESTINATION_KEYS.get(str(raw.get("type")), ())
    for key in raw:
        if valid and key not in valid:
            close = get_close_matches(str(key), valid, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid: {', '.join(valid)}"
            raise DestinationConfigError(
                stream, f"unknown key {key!r} for a {raw['type']} destination{hint}"
            )


def parse_destination(
    stream: str, raw: Mapping[str, Any] | None, config: Mapping[str, Any]
) -> Destination:
    """Turn one `stream_destinations` entry into a destination, or say clearly what is wrong.

    A stream with no entry goes to the RDS table of the same name in `rds_connection`.

    Args:
        stream: The stream name (named in every error).
        raw: The entry from `stream_destinations`, or None when the stream has none.
        config: The target's whole config (for `rds_connection` and `customer_id`).

    Returns:
        The destination.

    Raises:
        DestinationConfigError: Unknown type or key, missing fields, or a missing setting; for
            `"via": "sftp"` also an unusable `rds_sftp_*` setting (port, host key).
    """
    raw = raw or {"type": "relational"}
    _check_keys(stream, raw)
    kind = raw.get("type")
    if kind == "relational":
        connection = raw.get("connection") or config.get("rds_connection")
        if not connection:
            raise DestinationConfigError(
                stream,
                "a relational destination needs 'connection' or the 'rds_connection' setting",
            )
        via = str(raw.get("via") or "api")
        if via not in VIAS:
            raise DestinationConfigError(
                stream, f"unknown 'via' {via!r}; expected one of {', '.join(VIAS)}"
            )
        mode = raw.get("mode")
        if mode is not None and mode not in MODES:
            raise DestinationConfigError(
                stream, f"unknown 'mode' {mode!r}; expected one of {', '.join(MODES)}"
            )
        if via == "sftp":
            try:
                TARGET_SFTP.server(config)  # the sink logs in with it; check it before input
            except ConfigurationError as exc:
                raise DestinationConfigError(stream, f"{exc.reply_text} {exc.hint}") from None
        return RelationalDestination(
            table=_text(stream, raw, "table", stream),
            connection=str(connection),
            via=via,
            mode=mode,
        )
    if kind == "behavior":
        customer_id = str(config.get("customer_id") or "")
        if not is_digits(customer_id):  # it goes into the URL path
            raise DestinationConfigError(
                stream, "a behavior destination needs the 'customer_id' setting (digits)"
            )
        return BehaviorDestination(
            customer_id=customer_id,
            provider=_text(stream, raw, "provider"),
            channel=_text(stream, raw, "channel"),
            campaign_type=_text(stream, raw, "campaign_type"),
            event_type=_text(stream, raw, "event_type"),
        )
    if kind == "contacts":
        return ContactsDestination(key_field=_text(stream, raw, "key_field"))
    raise DestinationConfigError(
        stream,
        f"unknown destination type {kind!r}; expected one of {', '.join(DESTINATION_TYPES)}",
    )


def parse_destinations(config: Mapping[str, Any]) -> dict[str, Destination]:
    """Check every configured destination at start-up, before any input is read."""
    entries = config.get("stream_destinations") or {}
    return {stream: parse_destination(stream, raw, config) for stream, raw in entries.items()}
