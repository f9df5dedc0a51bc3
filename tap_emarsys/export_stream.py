"""Base streams for the CSV exports: one stream = one export type, records in unit order.

A stream cuts its work into units (time windows, or one contact list / segment each), lets an
`ExportRunner` build their exports side by side, and types each finished CSV into records as it
downloads. Time-ranged streams move their bookmark (`window_end`) after each window whose
records have all been written, so a killed run resumes at the next window.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from emarsys_api.notifications import ExportNotifications
from tap_emarsys.exports import (
    ExportJobError,
    ExportRequest,
    ExportRunner,
    ExportSettings,
    ExportUnit,
)
from tap_emarsys.join import ContactFieldJoin
from tap_emarsys.records import (
    Column,
    Converter,
    RecordTyper,
    as_integer,
    as_number,
    as_text,
    snake_case,
    timestamp_converter,
)
from tap_emarsys.schema import EXPORT_FIELD_LIMIT, ContactField, field_groups
from tap_emarsys.windows import ExportWindow, parse_instant, time_range_windows

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from emarsys_api import ExportType
    from tap_emarsys.account import Account
    from tap_emarsys.tap import TapEmarsys

BOOKMARK = "window_end"

_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    "number": {"type": ["number", "null"]},
    "timestamp": {"type": ["string", "null"], "format": "date-time"},
}


@dataclass(frozen=True)
class ExtraColumn:
    """A CSV column that is not a contact field (analysis fields, `source`, `last update`).

    Attributes:
        label: the English header label.
        kind: `text`, `integer`, `number` or `timestamp`.
    """

    label: str
    kind: str = "text"

    @property
    def property_name(self) -> str:
        """The record property: snake_case of the label (DESIGN.md)."""
        return snake_case(self.label)

    @property
    def json_schema(self) -> dict[str, Any]:
        """JSON schema of the column's values."""
        return dict(_SCHEMAS[self.kind])

    def converter(self, account: Account) -> Converter:
        """The function typing this column's values."""
        if self.kind == "timestamp":
            return timestamp_converter(account.zone)
        return {"text": as_text, "integer": as_integer, "number": as_number}[self.kind]


class CsvHeaderError(ValueError):
    """An export's header does not match the requested columns (names both)."""


class ExportStream(Stream):
    """A stream fed by one Emarsys export type."""

    export_type: ClassVar[ExportType]
    extra_columns: ClassVar[tuple[ExtraColumn, ...]] = ()
    body_extras: ClassVar[dict[str, Any]] = {}
    unit_properties: ClassVar[dict[str, dict[str, Any]]] = {}
    field_group_size: ClassVar[int] = EXPORT_FIELD_LIMIT
    unit_kind: ClassVar[str]  # what the units are called in the stream's summary log line

    # Records are typed by the column converters; a second pass by the SDK would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: TapEmarsys) -> None:
        """Build the schema from the account's contact fields.

        Args:
            tap: the tap, which owns the account.
        """
        self.account: Account = tap.account
        properties: dict[str, Any] = {"contact_id": {"type": ["integer"]}}
        properties.update(self.unit_properties)
        for field in self.account.contact_fields:
            properties[field.property_name] = field.json_schema
        for extra in self.extra_columns:
            properties[extra.property_name] = extra.json_schema
        schema = {"type": "object", "properties": properties}
        super().__init__(tap, schema=schema)
        self._time_extracted = dt.datetime.now(dt.timezone.utc)  # when the unit's export was read

    def export_body(self, fields: Sequence[ContactField]) -> dict[str, Any]:
        """The body common to every export of this stream, for one group of fields."""
        return {
            "distribution_method": "local",
            "contact_fields": [field.id for field in fields],
            "language": "en",
            "add_field_names_header": 1,
            "delimiter": ",",
            **self.body_extras,
            **self.account.delivery_body,
        }

    def units(
        self, context: Context | None, groups: Sequence[Sequence[ContactField]]
    ) -> Iterable[ExportUnit[Any]]:
        """The units to export, in emission order."""
        raise NotImplementedError

    def unit_record_extra(self, unit: ExportUnit[Any]) -> dict[str, Any]:
        """Properties every record of `unit` gets (e.g. the contact list id)."""
        return {}

    def unit_written(self, unit: ExportUnit[Any], context: Context | None) -> None:
        """Called once every record of `unit` is written (bookmarks move here)."""

    @override
    def _write_record_message(self, record: Record) -> None:
        """Write RECORD messages through the stream maps, without the SDK's per-record passes.

        The SDK would walk every record to drop deselected properties and to conform types;
        the column plan already left deselected columns out and typed every value, so each
        record goes straight to the stream maps (which keep working as usual) and the writer.
        """
        write = self._tap.write_message
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                write(
                    RecordMessage(
                        stream=stream_map.stream_alias,
                        record=mapped,
                        version=self._stream_version,
                        time_extracted=self._time_extracted,
                    )
                )
        self.state_manager.is_flushed = False

    @override
    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> Iterable[Context | None]:
        """Export streams have no child streams: skip the SDK's per-record child handling."""
        return ()

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """Run the exports and yield their typed records, unit by unit.

        Args:
            context: the stream partition (unused: units cover lists and segments).

        Yields:
            Typed records.
        """
        groups = field_groups(self.account.contact_fields, self.field_group_size)
        settings = self.account.export_settings
        if self.ABORT_AT_RECORD_COUNT is not None:  # `--test`: one export at a time is enough
            settings = dataclasses.replace(settings, max_concurrent=1)
        started = time.monotonic()
        records = exports = units = 0
        downloaded_before = self._downloaded_bytes(settings)
        self.account.check_delivery()
        with contextlib.ExitStack() as stack:
            notification = self.account.notification
            if notification is not None:
                listener = ExportNotifications(notification.host, notification.port)
                stack.enter_context(listener)
                settings = dataclasses.replace(settings, notifications=listener)
            runner = ExportRunner(self.account.client, self.name, settings)
            for unit, export_ids in runner.ready(self.units(context, groups)):
                for record in self._unit_records(runner, unit, export_ids, groups):
                    records += 1
                    yield record
                self.unit_written(unit, context)
                units += 1
                exports += len(export_ids)
        # One line per stream, so a nightly log says where the time went.
        self.logger.info(
            "Stream '%s' done: %d records from %d exports (%d %s), %s bytes in %.1f s",
            self.name,
            records,
            exports,
            units,
            self.unit_kind,
            f"{self._downloaded_bytes(settings) - downloaded_before:,}",
            time.monotonic() - started,
        )

    def _downloaded_bytes(self, settings: ExportSettings) -> int:
        """Export file bytes read so far, through the API or the configured delivery."""
        delivery = settings.delivery
        return self.account.client.downloaded_bytes + (
            delivery.downloaded_bytes if delivery is not None else 0
        )

    def _unit_records(
        self,
        runner: ExportRunner,
        unit: ExportUnit[Any],
        export_ids: list[int],
        groups: Sequence[Sequence[ContactField]],
    ) -> Iterator[Record]:
        """The unit's records: the primary export typed, joined with the other field groups."""
        with ContactFieldJoin() as join:
            # The extra groups are parked first, so the primary download is read without pause.
            for request, export_id, group in zip(
                unit.requests[1:], export_ids[1:], groups[1:], strict=True
            ):
                self._park_part(join, runner, unit, request, export_id, group)
            rows = runner.rows(unit.label, unit.requests[0], export_ids[0])
            header = next(rows, None)
            if header is None:  # an empty file: no header, no rows
                return
            selected = self._selected_properties()
            extra = {k: v for k, v in self.unit_record_extra(unit).items() if k in selected}
            columns = self._columns(unit, export_ids[0], header, groups[0], primary=True)
            records = RecordTyper(columns, extra).records(rows)
            self._time_extracted = dt.datetime.now(dt.timezone.utc)
            yield from join.complete(records) if join.has_parts else records

    def _park_part(
        self,
        join: ContactFieldJoin,
        runner: ExportRunner,
        unit: ExportUnit[Any],
        request: ExportRequest,
        export_id: int,
        group: Sequence[ContactField],
    ) -> None:
        """Download one extra field group into the join, keeping only its field columns."""
        rows = runner.rows(unit.label, request, export_id)
        header = next(rows, None)
        if header is None:
            return
        columns = self._columns(unit, export_id, header, group, primary=False)
        kept = [
            (position, column)
            for position, column in enumerate(columns[1 : 1 + len(group)], start=1)
            if column is not None
        ]
        join.add_part(
            [column for _, column in kept],
            ((int(row[0]), [row[i] for i, _ in kept]) for row in rows if row[0]),
        )

    def _columns(
        self,
        unit: ExportUnit[Any],
        export_id: int,
        header: Sequence[str],
        fields: Sequence[ContactField],
        *,
        primary: bool,
    ) -> list[Column | None]:
        """Match the header to properties: `user_id`, the fields by position, then the rest."""
        selected = self._selected_properties()

        def keep(name: str, convert: Converter) -> Column | None:
            return Column(name, convert) if name in selected else None

        def mismatch(position: int, found: str, expected: str) -> CsvHeaderError:
            return CsvHeaderError(
                f"Stream '{self.name}', {unit.label}, export {export_id}: CSV column "
                f"{position + 1} is labelled {found!r}, but {expected} was requested there"
            )

        if not header or header[0].strip().lower() != "user_id":
            raise mismatch(0, header[0] if header else "", "'user_id'")
        columns: list[Column | None] = [Column("contact_id", as_integer)]
        for position, field in enumerate(fields, start=1):
            found = header[position] if position < len(header) else ""
            if found.strip().casefold() != field.label.strip().casefold():
                raise mismatch(position, found, f"contact field {field.id} ({field.label!r})")
            columns.append(keep(field.property_name, field.converter))
        extras = {extra.label.casefold(): extra for extra in self.extra_columns}
        for position in range(1 + len(fields), len(header)):
            extra = extras.get(header[position].strip().casefold())
            if not primary or extra is None:
                if primary:
                    self.logger.warning(
                        "Stream '%s': ignoring unexpected CSV column %r",
                        self.name,
                        header[position],
                    )
                columns.append(None)
                continue
            columns.append(keep(extra.property_name, extra.converter(self.account)))
        return columns

    def _selected_properties(self) -> set[str]:
        properties = self.schema.get("properties", {})
        return {
            name
            for name in properties
            if self.mask.get(("properties", name), True) or name in (self.primary_keys or [])
        }


class TimeRangedExportStream(ExportStream):
    """An export over a time range, walked in windows; incremental by `window_end`."""

    dates_only: ClassVar[bool] = False
    forced_replication_method = "INCREMENTAL"
    unit_kind = "windows"

    def window_body(self, window: ExportWindow) -> dict[str, Any]:
        """The window's part of the body."""
        return {"time_range": window.time_range(dates_only=self.dates_only)}

    @override
    def units(
        self, context: Context | None, groups: Sequence[Sequence[ContactField]]
    ) -> Iterable[ExportUnit[ExportWindow]]:
        """One unit per window from the bookmark (or `start_date`) to `end_date` (or now)."""
        start = self.account.start
        bookmark = self.get_context_state(context).get(BOOKMARK)
        if bookmark:
            start = max(start, parse_instant(str(bookmark), self.account.zone))
        windows = time_range_windows(
            start,
            self.account.end,
            days=self.account.window_days,
            zone=self.account.zone,
            whole_days=self.dates_only,
        )
        if not windows:
            self.logger.info("Stream '%s': nothing new to export after %s.", self.name, start)
        for window in windows:
            requests = [
                ExportRequest(
                    self.export_type, {**self.export_body(group), **self.window_body(window)}
                )
                for group in groups
            ]
            yield ExportUnit(window, f"window {window.label}", requests)

    @override
    def unit_written(self, unit: ExportUnit[Any], context: Context | None) -> None:
        """Move the bookmark to the window's end and say so in a STATE message."""
        window: ExportWindow = unit.key
        state = self.get_context_state(context)
        state[BOOKMARK] = window.end.astimezone(dt.timezone.utc).isoformat()
        self.state_manager.is_flushed = False
        self._write_state_message()

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        # The bookmark is the end of the last fully written window (`unit_written`), not a
        # record value: rows inside a window are not ordered by time.
        return


class AudienceExportStream(ExportStream):
    """A snapshot export per contact list or segment (full table, one unit each)."""

    audience_property: ClassVar[str]
    audience_body_key: ClassVar[str]
    unit_kind = "lists or segments"

    def audiences(self) -> list[dict[str, Any]]:
        """The lists or segments of the account."""
        raise NotImplementedError

    @override
    def units(
        self, context: Context | None, groups: Sequence[Sequence[ContactField]]
    ) -> Iterable[ExportUnit[int]]:
        """One unit per list or segment, in id order."""
        ids = sorted(int(item["id"]) for item in self.audiences())
        for audience_id in ids:
            requests = [
                ExportRequest(
                    self.export_type,
                    {**self.export_body(group), self.audience_body_key: audience_id},
                )
                for group in groups
            ]
            yield ExportUnit(audience_id, f"{self.audience_property} {audience_id}", requests)

    @override
    def unit_record_extra(self, unit: ExportUnit[Any]) -> dict[str, Any]:
        """Every member record names its list or segment."""
        return {self.audience_property: unit.key}


__all__ = [
    "AudienceExportStream",
    "CsvHeaderError",
    "ExportJobError",
    "ExportStream",
    "ExtraColumn",
    "TimeRangedExportStream",
]
