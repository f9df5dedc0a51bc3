"""The Emarsys account as the tap sees it: client, time zone, contact fields, sync range.

Built once per run from the settings and shared by all streams, so `GET /field` is called once
and every configuration error surfaces before the first export starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emarsys_api import ClientSettings, ConfigurationError, EmarsysClient
from tap_emarsys.delivery import file_delivery, notification_settings
from tap_emarsys.exports import READY_GRACE, ExportSettings
from tap_emarsys.schema import ContactField, FieldCatalog
from tap_emarsys.windows import parse_instant

# Property names of non-field columns; a contact field with one of these names is renamed.
RESERVED_PROPERTIES = frozenset(
    {
        "contact_id",
        "contact_list_id",
        "segment_id",
        "campaign_title",
        "section_header",
        "section_group",
        "link_title",
        "url",
        "time",
        "campaign_id",
        "version_name",
        "campaign_category",
        "link_category",
        "source",
        "last_update",
        "registered_at",
        "window_start",
    }
)


def account_zone(config: Mapping[str, Any]) -> ZoneInfo:
    """The `timezone` setting as a zone; an unknown zone is a configuration error.

    Args:
        config: the tap settings.

    Returns:
        The zone Emarsys renders naive timestamps in.

    Raises:
        ConfigurationError: the zone is not in the IANA database.
    """
    name = str(config.get("timezone") or "Europe/Vienna")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        msg = f"unknown time zone {name!r} (use an IANA name such as Europe/Vienna)"
        raise ConfigurationError(msg, setting="timezone") from error


class Account:
    """Settings-derived facts shared by every stream of one run."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        """Check the settings that need no request.

        Args:
            config: the validated tap settings.

        Raises:
            ConfigurationError: a setting is unusable (names the setting).
        """
        self.config = config
        self.zone = account_zone(config)
        self.client_settings = ClientSettings.from_config(config)
        self.start = self._instant("start_date")
        end_text = config.get("end_date")
        self.end = self._instant("end_date") if end_text else dt.datetime.now(dt.timezone.utc)
        if self.end <= self.start:
            msg = "end_date must be later than start_date"
            raise ConfigurationError(msg, setting="end_date")
        self.window_days = int(self._number("export_window_days", 7, minimum=1))
        self.export_settings = ExportSettings(
            max_concurrent=int(self._number("max_concurrent_exports", 4, minimum=1)),
            poll_interval=self._number("export_poll_interval", 5.0, minimum=0.0),
            timeout=self._number("export_timeout", 3600.0, minimum=0.0),
            ready_grace=self._number("export_ready_grace", READY_GRACE, minimum=0.0),
            delivery=file_delivery(config),
        )
        self.notification = notification_settings(config)
        self._delivery_checked = False

    def _number(self, setting: str, default: float, *, minimum: float) -> float:
        value = self.config.get(setting)
        if value is None:
            return default
        # Config files are parsed with floats as Decimal by the SDK.
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, Decimal))
            or float(value) < minimum
        ):
            msg = f"must be a number of at least {minimum:g}, got {value!r}"
            raise ConfigurationError(msg, setting=setting)
        return float(value)

    def _instant(self, setting: str) -> dt.datetime:
        value = self.config.get(setting)
        if not value:
            raise ConfigurationError("is required (ISO 8601)", setting=setting)
        try:
            return parse_instant(str(value), self.zone)
        except ValueError as error:
            msg = f"{value!r} is not an ISO 8601 date or timestamp"
            raise ConfigurationError(msg, setting=setting) from error

    def check_delivery(self) -> None:
        """Log in to the WebDAV or SFTP server once per run, before the first export.

        Raises:
            DeliveryError: wrong credentials, host key or address (names the setting).
        """
        if self.export_settings.delivery is not None and not self._delivery_checked:
            self.export_settings.delivery.check_connection()
            self._delivery_checked = True

    @cached_property
    def delivery_body(self) -> dict[str, Any]:
        """Export body fields for the file delivery and the notification callback."""
        body: dict[str, Any] = {}
        if self.export_settings.delivery is not None:
            body.update(self.export_settings.delivery.export_body())
        if self.notification is not None:
            body["notification_url"] = self.notification.url
        return body

    @cached_property
    def client(self) -> EmarsysClient:
        """The one Emarsys client of this run."""
        return EmarsysClient(self.client_settings)

    @cached_property
    def fields(self) -> FieldCatalog:
        """The account's contact fields (`GET /field/translate/en`)."""
        return FieldCatalog(self.client.fields(language="en"), reserved=RESERVED_PROPERTIES)

    @cached_property
    def contact_fields(self) -> list[ContactField]:
        """The fields the exports carry (`contact_fields` setting, or the default fields)."""
        return self.fields.resolve(self.config.get("contact_fields"))

    @cached_property
    def member_key_field(self) -> ContactField:
        """The field member exports are resolved by when they lack `user_id` (§12.1).

        The `member_key_field` setting (id or string id, default `email`), looked up like
        `contact_fields`; member exports always carry it.
        """
        wanted = self.config.get("member_key_field")
        if wanted is None or str(wanted).strip() == "":
            # The default names the e-mail field; field id 3 is it in every account (§9).
            by_name = [f for f in self.fields.by_id.values() if f.string_id == "email"]
            return by_name[0] if by_name else self.fields.resolve([3])[0]
        return self.fields.resolve([wanted], setting="member_key_field")[0]
