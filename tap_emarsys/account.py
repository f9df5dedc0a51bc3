"""The Emarsys account as the tap sees it: client, time zone, contact fields, sync range.

Built once per run from the settings and shared by all streams, so `GET /field` is called once
and every configuration error surfaces before the first export starts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emarsys_api import (
    ClientSettings,
    ConfigurationError,
    EmarsysClient,
    EmarsysError,
    ExportType,
)
from tap_emarsys.contact_fields import ContactField, FieldCatalog
from tap_emarsys.delivery_settings import (
    check_deliverable,
    distribution_body,
    file_delivery,
    notification_settings,
)
from tap_emarsys.export_runner import READY_GRACE, ExportSettings
from tap_emarsys.windows import OutOfCalendarError, parse_instant, read_iso

logger = logging.getLogger("tap_emarsys")
DEFAULT_ZONE = "Europe/Vienna"  # the Emarsys default (docs/emarsys-api.md §4)

MAX_WINDOW_DAYS = 36_500  # a longer window is no different, and a date past 9999 overflows

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


def zone_setting(config: Mapping[str, Any]) -> ZoneInfo | None:
    """The `timezone` setting as a zone, or None when it is not set.

    Args:
        config: the tap settings.

    Returns:
        The zone the user says the account renders naive timestamps in.

    Raises:
        ConfigurationError: the zone is not in the IANA database.
    """
    name = config.get("timezone")
    if name is None or str(name).strip() == "":
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as error:
        msg = f"unknown time zone {name!r} (use an IANA name such as Europe/Vienna)"
        raise ConfigurationError(msg, setting="timezone") from error


def reported_zone(client: EmarsysClient) -> tuple[ZoneInfo | None, str]:
    """The account's zone from `GET /settings` (`timezone`), or None and why not.

    docs/emarsys-api.md §12.7: exports default to CET, but the account has its own zone and
    renders naive timestamps in it.
    """
    try:
        name = client.settings().get("timezone")
    except EmarsysError as error:
        return None, f"GET /settings failed: {error.summary}"
    if not isinstance(name, str) or not name.strip():
        return None, "GET /settings has no timezone"
    try:
        return ZoneInfo(name.strip()), ""
    except (ZoneInfoNotFoundError, ValueError):
        return None, f"GET /settings names timezone {name!r}, which is no IANA zone"


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
        self.zone_setting = zone_setting(config)
        self.client_settings = ClientSettings.from_config(config)
        # The zone may need a request (GET /settings); the dates' format needs none, so it is
        # checked here, and their order too when no zone can change it.
        start = self._instant("start_date", None)
        end = self._instant("end_date", None) if config.get("end_date") else None
        if end is not None and (start.tzinfo is None) == (end.tzinfo is None):
            self._check_order(start, end)
        # In every zone (up to UTC+14) later than now: no end_date can follow it.
        earliest = (
            start if start.tzinfo else start.replace(tzinfo=dt.timezone(dt.timedelta(hours=14)))
        )
        if end is None and earliest > dt.datetime.now(dt.timezone.utc):
            self._future_start()
        self.window_days = int(self._number("export_window_days", 7, minimum=1))
        if self.window_days > MAX_WINDOW_DAYS:
            msg = f"must be at most {MAX_WINDOW_DAYS} (100 years), got {self.window_days}."
            raise ConfigurationError(msg, setting="export_window_days")
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

    def _instant(self, setting: str, zone: ZoneInfo | None) -> dt.datetime:
        """The setting as a datetime; without an offset in `zone` (None: left naive)."""
        value = self.config.get(setting)
        if not value:
            raise ConfigurationError("is required (ISO 8601)", setting=setting)
        try:
            return parse_instant(str(value), zone) if zone else read_iso(str(value))
        except OutOfCalendarError as error:
            raise ConfigurationError(f"{setting} {error}.", setting=setting) from None
        except ValueError as error:
            msg = f"{value!r} is not an ISO 8601 date or timestamp"
            raise ConfigurationError(msg, setting=setting) from error

    def _future_start(self) -> None:
        msg = (
            f"start_date {self.config.get('start_date')!r} is in the future and end_date is "
            "not set (the run would end now); set start_date in the past"
        )
        raise ConfigurationError(msg, setting="start_date")

    @staticmethod
    def _check_order(start: dt.datetime, end: dt.datetime) -> None:
        if end <= start:
            msg = "end_date must be later than start_date"
            raise ConfigurationError(msg, setting="end_date")

    @cached_property
    def zone(self) -> ZoneInfo:
        """The zone the account renders naive timestamps in (and reads `time_range` in).

        The `timezone` setting if set (a warning when the account says otherwise), else the
        account's own zone from `GET /settings`; when that cannot be read, Europe/Vienna (the
        Emarsys default, docs/emarsys-api.md §4, §12.7) with one warning.
        """
        reported, reason = reported_zone(self.client)
        setting = self.zone_setting
        if setting is not None:
            if reported is not None and reported.key != setting.key:
                logger.warning(
                    "The `timezone` setting %s differs from the account's time zone %s (GET "
                    "/settings); naive timestamps and window bounds are read in %s. Remove the "
                    "setting to use the account's zone.",
                    setting.key,
                    reported.key,
                    setting.key,
                )
            return setting
        if reported is None:
            logger.warning(
                "The account's time zone is unknown (%s); naive timestamps and window bounds "
                "are read in %s, the Emarsys default. Set `timezone` to the account's zone if "
                "it is another.",
                reason,
                DEFAULT_ZONE,
            )
            return ZoneInfo(DEFAULT_ZONE)
        logger.info("Account time zone %s (GET /settings).", reported.key)
        return reported

    @cached_property
    def start(self) -> dt.datetime:
        """`start_date` as an instant (without offset: in the account's zone)."""
        return self._instant("start_date", self.zone)

    @cached_property
    def end(self) -> dt.datetime:
        """`end_date` as an instant, or the moment it was first asked for (now)."""
        if not self.config.get("end_date"):
            end = dt.datetime.now(dt.timezone.utc)
            if end <= self.start:  # not end_date's fault: it is not set
                self._future_start()
        else:
            end = self._instant("end_date", self.zone)
        self._check_order(self.start, end)
        return end

    def check_delivery(self, selected: Iterable[tuple[str, ExportType]] = ()) -> None:
        """Check the delivery once per run, before the first export.

        Args:
            selected: `(stream name, export type)` of every selected export stream, so one
                the delivery cannot serve stops the run before any export starts.

        Raises:
            ConfigurationError: a selected stream cannot be delivered this way.
            DeliveryError: wrong credentials, host key or address (names the setting).
        """
        if self._delivery_checked:
            return
        delivery = self.export_settings.delivery
        check_deliverable(delivery, selected)
        if delivery is not None:
            delivery.check_connection()
        self._delivery_checked = True

    def delivery_body(self, export_type: ExportType) -> dict[str, Any]:
        """Export body fields for the file delivery and the notification callback.

        The delivery's fields are named the way `export_type` documents them (§12.6).

        Raises:
            ConfigurationError: the export cannot be delivered the configured way.
        """
        body = distribution_body(export_type, self.export_settings.delivery)
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
