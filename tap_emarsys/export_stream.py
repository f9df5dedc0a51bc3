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

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from emarsys_api.errors import ConfigurationError
from emarsys_api.notifications import ExportNotifications
from tap_emarsys.contact_fields import EXPORT_FIELD_LIMIT, ContactField, field_groups
from tap_emarsys.export_runner import (
    ExportJobError,
    ExportRequest,
    ExportRunner,
    ExportUnit,
    downloaded_bytes,
)
from tap_emarsys.join import ContactFieldJoin
from tap_emarsys.members import MemberIdResolver
from tap_emarsys.records import (
    Column,
    Converter,
    CsvRowError,
    RecordTyper,
    as_integer,
    normalised_label,
    snake_case,
    value_converter,
    value_schema,
)
from tap_emarsys.sdk_overrides import TypedRecordWriting, WindowBookmarks
from tap_emarsys.snapshots import ActivatedAfterSnapshot
from tap_emarsys.windows import ExportWindow, parse_instant, time_range_windows

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

    from emarsys_api import ExportType
    from tap_emarsys.account import Account

BOOKMARK = "window_end"
SNAPSHOT_AT = "snapshot_at"  # member streams: the UTC time this run's snapshot was taken


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
        """The record property: snake_case of the label."""
        return snake_case(self.label)

    @property
    def json_schema(self) -> dict[str, Any]:
        """JSON schema of the column's values."""
        return value_schema(self.kind)

    def converter(self, account: Account) -> Converter:
        """The function typing this column's values."""
        return value_converter(self.kind, account.zone)


class ExportDataError(ExportJobError):
    """An export's file cannot become records as requested (one line naming what is wrong).

    Unlike a failed export, requesting it again does not help: the message says what to fix.
    """

    def __init__(self, stream: str, unit: str, export_id: int, reason: str) -> None:
        """Name the stream, the unit and the export, then the reason.

        Args:
            stream: the stream name.
            unit: the window or list/segment label.
            export_id: the export whose file it is.
            reason: what is wrong and what to do.
        """
        super().__init__(stream, unit, export_id, reason)

    @override
    def _compose(self) -> str:
        return f"Stream '{self.stream}', {self.unit}, export {self.export_id}: {self.reason}"


class CsvHeaderError(ExportDataError):
    """An export's header cannot fit the requested columns (names both headers)."""


@dataclass(frozen=True)
class ExportLayout:
    """How one export's header lines up with the request (docs/emarsys-api.md §12.1-12.3).

    Attributes:
        user_id: whether the first column is `user_id`.
        columns: the header's columns matched to properties (`None`: dropped), with a
            `user_id` column in front when the ids are resolved (`resolver` is set).
        missing: extra columns the export does not have (their properties stay null).
        renamed: `(label found, label requested)` for columns matched by position whose
            label differs.
        ignored: labels of columns the request did not ask for.
        resolver: looks up the contact ids of a member export without `user_id`.
    """

    user_id: bool
    columns: list[Column | None]
    missing: tuple[ExtraColumn, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    ignored: tuple[str, ...] = ()
    resolver: MemberIdResolver | None = None


class ExportStream(ActivatedAfterSnapshot, TypedRecordWriting):
    """A stream fed by one Emarsys export type."""

    export_type: ClassVar[ExportType]
    extra_columns: ClassVar[tuple[ExtraColumn, ...]] = ()
    body_extras: ClassVar[dict[str, Any]] = {}
    unit_properties: ClassVar[dict[str, dict[str, Any]]] = {}
    field_group_size: ClassVar[int] = EXPORT_FIELD_LIMIT
    unit_kind: ClassVar[str]  # what the units are called in the stream's summary log line
    # Time-ranged exports always start with `user_id` (§4.4); member exports may not (§12.1).
    user_id_optional: ClassVar[bool] = False

    # Records are typed by the column converters; a second pass by the SDK would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap, account: Account) -> None:
        """Build the schema from the account's contact fields.

        Args:
            tap: the tap the stream belongs to (the SDK's `Stream` needs it).
            account: the account of this run (settings, client, contact fields), passed in
                so no stream module imports the tap.
        """
        self.account = account
        properties: dict[str, Any] = {"contact_id": {"type": ["integer"]}}
        properties.update(self.unit_schema())
        for field in self.exported_fields:
            properties[field.property_name] = field.json_schema
        for extra in self.extra_columns:
            properties[extra.property_name] = extra.json_schema
        schema = {"type": "object", "properties": properties}
        super().__init__(tap, schema=schema)
        self.time_extracted = dt.datetime.now(dt.timezone.utc)  # when the unit's export was read
        self._layout_logged = ""  # the last layout description logged (once per change)
        self._labels_warned = False  # label differences are told once per run
        self._unresolved = 0  # member rows left out for want of a contact id

    def unit_schema(self) -> dict[str, dict[str, Any]]:
        """Schemas of the properties `unit_record_extra` adds to every record."""
        return dict(self.unit_properties)

    @property
    def exported_fields(self) -> list[ContactField]:
        """The contact fields this stream's exports carry, in request order."""
        return self.account.contact_fields

    def field_groups(self) -> list[list[ContactField]]:
        """The exported fields in export-sized groups; one export per group and unit."""
        return field_groups(self.exported_fields, self.field_group_size)

    def export_body(self, fields: Sequence[ContactField]) -> dict[str, Any]:
        """The body common to every export of this stream, for one group of fields."""
        return {
            "distribution_method": "local",
            "contact_fields": [field.id for field in fields],
            "language": "en",
            "add_field_names_header": 1,
            "delimiter": ",",
            **self.body_extras,
            **self.account.delivery_body(self.export_type),
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
        groups = self.field_groups()
        settings = self.account.export_settings
        if self.ABORT_AT_RECORD_COUNT is not None:  # `--test`: one export at a time is enough
            settings = dataclasses.replace(settings, max_concurrent=1)
        started = time.monotonic()
        records = exports = units = 0
        self._unresolved = 0
        downloaded_before = downloaded_bytes(self.account.client, settings)
        self.account.check_delivery(
            (stream.name, stream.export_type)
            for stream in self.tap_streams()
            if isinstance(stream, ExportStream) and stream.selected
        )
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
        left_out = (
            f", {self._unresolved} member rows left out without a contact id"
            if self._unresolved
            else ""
        )
        # One line per stream, so a nightly log says where the time went.
        self.logger.info(
            "Stream '%s' done: %d records from %d exports (%d %s), %s bytes in %.1f s%s",
            self.name,
            records,
            exports,
            units,
            self.unit_kind,
            f"{downloaded_bytes(self.account.client, settings) - downloaded_before:,}",
            time.monotonic() - started,
            left_out,
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
            export_id = export_ids[0]
            rows: Iterator[list[str]] = runner.rows(unit.label, unit.requests[0], export_id)
            header = next(rows, None)
            if header is None:  # an empty file: no header, no rows
                return
            layout = self._layout(unit, export_id, header, groups[0], primary=True)
            self._tell_layout(unit, export_id, layout)
            if layout.resolver is not None:
                rows = layout.resolver.rows(rows)
            selected = self._selected_properties()
            extra = {k: v for k, v in self.unit_record_extra(unit).items() if k in selected}
            # A column the account's layout lacks is a null property, never an absent one.
            extra.update(
                {c.property_name: None for c in layout.missing if c.property_name in selected}
            )
            typer = RecordTyper(layout.columns, extra, keys=self.primary_keys or (), header=header)
            records = typer.records(rows)
            self.time_extracted = dt.datetime.now(dt.timezone.utc)
            try:
                yield from join.complete(records) if join.has_parts else records
            except CsvRowError as error:
                raise ExportDataError(
                    self.name, unit.label, export_id, f"{error}; {self._row_error_hint(error)}"
                ) from None
            finally:
                if layout.resolver is not None:
                    self._tell_unresolved(unit, export_id, layout.resolver)

    def _row_error_hint(self, error: CsvRowError) -> str:
        """What to do about a row: nothing but a new export, unless it lacks a key property
        the catalog chose (`key_properties` other than the stream's own)."""
        discovered: Sequence[str] = getattr(type(self), "primary_keys", ())  # the class's own
        if error.key is not None and error.key not in discovered:
            return (
                "the catalog's key_properties name it, and a key property needs a value in "
                "every row: name one that always has a value"
            )
        return "the export cannot be read"

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
        rows: Iterator[list[str]] = runner.rows(unit.label, request, export_id)
        header = next(rows, None)
        if header is None:
            return
        layout = self._layout(unit, export_id, header, group, primary=False)
        if layout.resolver is not None:
            rows = layout.resolver.rows(rows)  # left-out rows are told by the primary export
        columns = layout.columns
        primary_names = {field.property_name for field in self.field_groups()[0]}
        kept = [
            (position, column)
            for position, column in enumerate(columns[1 : 1 + len(group)], start=1)
            if column is not None and column.name not in primary_names
        ]
        try:
            join.add_part(
                [column for _, column in kept],
                ((int(row[0]), [row[i] for i, _ in kept]) for row in rows if row[0]),
            )
        except CsvRowError as error:
            raise ExportDataError(
                self.name, unit.label, export_id, f"{error}; the export cannot be read"
            ) from None

    def _layout(
        self,
        unit: ExportUnit[Any],
        export_id: int,
        header: Sequence[str],
        fields: Sequence[ContactField],
        *,
        primary: bool,
    ) -> ExportLayout:
        """Match the header to properties: `user_id`, the fields by position, then the rest.

        Contact-field columns are matched by position (labels vary between accounts and
        languages, §12.3). Extra columns (analysis fields, `source`, `last update`) are matched
        by position when their count fits, else by normalised label. Only a header that
        cannot fit the request stops the stream.

        Raises:
            CsvHeaderError: too few columns, no `user_id` where the export must have it, or
                a member export with neither `user_id` nor the `member_key_field` column.
        """
        selected = self._selected_properties()
        extras = self.extra_columns

        def keep(name: str, convert: Converter) -> Column | None:
            return Column(name, convert) if name in selected else None

        def cannot_fit(problem: str) -> CsvHeaderError:
            requested = ["user_id", *(f.label for f in fields)]
            requested += [extra.label for extra in extras]
            return CsvHeaderError(
                self.name,
                unit.label,
                export_id,
                f"the CSV header cannot fit the request ({problem}): requested "
                f"{','.join(requested)!r}, received {','.join(header)!r}",
            )

        user_id = bool(header) and normalised_label(header[0]) == "userid"
        resolver = None
        if not user_id:
            if not self.user_id_optional:
                raise cannot_fit("the first column must be user_id")
            key_field = self.account.member_key_field
            if key_field not in fields:
                raise cannot_fit(
                    f"no user_id column, and no column of member_key_field {key_field.id}"
                )
            if len(header) < len(fields):
                raise cannot_fit(f"{len(header)} columns for {len(fields)} contact fields")
            resolver = MemberIdResolver(
                self.account.client, key_field, fields.index(key_field), len(header)
            )
            header = ["user_id", *header]
        if len(header) < 1 + len(fields):
            raise cannot_fit(f"{len(header)} columns for user_id and {len(fields)} contact fields")
        columns: list[Column | None] = [Column("contact_id", as_integer)]
        renamed: list[tuple[str, str]] = []
        for position, field in enumerate(fields, start=1):
            if header[position].strip() != field.label.strip():
                renamed.append((header[position], field.label))
            columns.append(keep(field.property_name, field.converter))
        rest = list(header[1 + len(fields) :])
        if not primary:
            columns.extend(None for _ in rest)
            return ExportLayout(user_id, columns, resolver=resolver)
        ignored: list[str] = []
        if len(rest) == len(extras):  # the count fits: by position
            for label, extra in zip(rest, extras, strict=True):
                if label.strip() != extra.label:
                    renamed.append((label, extra.label))
                columns.append(keep(extra.property_name, extra.converter(self.account)))
            missing: tuple[ExtraColumn, ...] = ()
        else:  # by normalised label
            by_label = {normalised_label(extra.label): extra for extra in extras}
            found: set[ExtraColumn] = set()
            for label in rest:
                match = by_label.get(normalised_label(label))
                if match is None or match in found:
                    ignored.append(label)
                    columns.append(None)
                    continue
                found.add(match)
                columns.append(keep(match.property_name, match.converter(self.account)))
            missing = tuple(extra for extra in extras if extra not in found)
            keys = set(self.primary_keys or ())
            lacking = [extra.label for extra in missing if extra.property_name in keys]
            if lacking:
                raise cannot_fit(f"no {', '.join(repr(label) for label in lacking)} column")
        return ExportLayout(
            user_id, columns, missing, tuple(renamed), tuple(ignored), resolver=resolver
        )

    def _tell_layout(self, unit: ExportUnit[Any], export_id: int, layout: ExportLayout) -> None:
        """Log which layout the account returned (INFO, when it changes) and label differences.

        Label differences and ignored columns are one WARNING per stream and run: they never
        stop the stream, but a renamed or translated field is worth knowing about.
        """
        if layout.user_id:
            ids = "with user_id"
        else:
            key_field = self.account.member_key_field
            ids = (
                f"without user_id (contact ids looked up through contact/getdata by "
                f"member_key_field {key_field.id} {key_field.label!r})"
            )
        parts = [ids]
        if self.extra_columns:
            present = [e.label for e in self.extra_columns if e not in layout.missing]
            if layout.missing:
                lacking = ", ".join(repr(extra.label) for extra in layout.missing)
                parts.append(f"without {lacking} (null in every record)")
            elif len(present) <= 2:
                parts.append(f"with {', '.join(repr(label) for label in present)}")
            else:
                parts.append(f"with all {len(present)} extra columns")
        description = "; ".join(parts)
        if description != self._layout_logged:
            self._layout_logged = description
            self.logger.info(
                "Stream '%s': the account's %s export layout is %s (%s, export %s)",
                self.name,
                self.export_type.value,
                description,
                unit.label,
                export_id,
            )
        if (layout.renamed or layout.ignored) and not self._labels_warned:
            self._labels_warned = True
            differences = [f"{found!r} for {wanted!r}" for found, wanted in layout.renamed]
            differences += [f"{label!r} not requested (ignored)" for label in layout.ignored]
            self.logger.warning(
                "Stream '%s': export %s (%s) labels CSV columns differently from GET /field: "
                "%s; columns are matched by position, values are unaffected (told once per run)",
                self.name,
                export_id,
                unit.label,
                "; ".join(differences),
            )

    def _tell_unresolved(
        self, unit: ExportUnit[Any], export_id: int, resolver: MemberIdResolver
    ) -> None:
        """One WARNING per member export whose rows could not all get a contact id."""
        if not resolver.unresolved:
            return
        self._unresolved += resolver.unresolved_count
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(resolver.unresolved.items()))
        key_field = resolver.key_field
        self.logger.warning(
            "Stream '%s', %s, export %s: %d rows left out, their contact id could not be "
            "looked up by member_key_field %s (%r): %s; they cannot carry the key "
            "contact_id (set member_key_field to a field unique per contact)",
            self.name,
            unit.label,
            export_id,
            resolver.unresolved_count,
            key_field.id,
            key_field.label,
            counts,
        )

    def _selected_properties(self) -> set[str]:
        properties = self.schema.get("properties", {})
        return {
            name
            for name in properties
            if self.mask.get(("properties", name), True) or name in (self.primary_keys or [])
        }


class TimeRangedExportStream(ExportStream, WindowBookmarks):
    """An export over a time range, walked in windows; incremental by `window_end`."""

    dates_only: ClassVar[bool] = False
    unit_kind = "windows"

    @property
    @override
    def replication_method(self) -> str:
        """Always INCREMENTAL: the stream walks windows from its `window_end` bookmark.

        A class attribute `forced_replication_method` would not do: singer-sdk's
        `Stream.__init__` sets that instance attribute to None, so the stream was announced as
        FULL_TABLE, and with `emit_activate_version_messages` a loader then deleted the rows of
        every earlier run. A catalog asking for FULL_TABLE cannot change how windows are read,
        so it does not change this either.
        """
        return "INCREMENTAL"

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
        self.write_state_now()


class AudienceExportStream(ExportStream):
    """A snapshot export per contact list or segment (full table, one unit each)."""

    audience_property: ClassVar[str]
    audience_body_key: ClassVar[str]
    # The setting that picks a subset of the lists or segments (a partition); empty: all.
    audience_ids_setting: ClassVar[str]
    unit_kind = "lists or segments"
    user_id_optional = True

    @override
    def unit_schema(self) -> dict[str, dict[str, Any]]:
        """The list or segment id, and `snapshot_at`: when this run's snapshot was taken.

        A loader that ignores ACTIVATE_VERSION keeps the rows of members who left; with the
        snapshot time on every row a model keeps only each list's latest snapshot.
        """
        return {**self.unit_properties, SNAPSHOT_AT: {"type": ["string"], "format": "date-time"}}

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """The members of every list or segment, each row stamped with the snapshot's time."""
        self._snapshot_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        yield from super().get_records(context)

    @property
    @override
    def exported_fields(self) -> list[ContactField]:
        """The `contact_fields`, plus the `member_key_field` if they do not list it.

        A member export without `user_id` (§12.1) gets its contact ids back by that field, so
        every member export carries it.
        """
        fields = list(self.account.contact_fields)
        key_field = self.account.member_key_field
        return fields if key_field in fields else [*fields, key_field]

    @override
    def field_groups(self) -> list[list[ContactField]]:
        """Export-sized groups, each with the member key field (the join key without user_id)."""
        return field_groups(
            self.exported_fields,
            self.field_group_size,
            in_every_group=self.account.member_key_field,
        )

    def audiences(self) -> list[dict[str, Any]]:
        """The lists or segments of the account."""
        raise NotImplementedError

    @override
    def units(
        self, context: Context | None, groups: Sequence[Sequence[ContactField]]
    ) -> Iterable[ExportUnit[int]]:
        """One unit per list or segment, in id order: those `audience_ids_setting` names, or all.

        Raises:
            ConfigurationError: the setting names an id the account has no list or segment of
                (a partition would silently export nothing for it).
        """
        ids = sorted(int(item["id"]) for item in self.audiences())
        wanted = {
            int(audience_id) for audience_id in self.config.get(self.audience_ids_setting) or []
        }
        unknown = sorted(wanted - set(ids))
        if unknown:
            noun = self.audience_property.removesuffix("_id").replace("_", " ")
            msg = (
                f"{self.audience_ids_setting} names {', '.join(map(str, unknown))}: the account "
                f"has no {noun} with that id (its ids: {', '.join(map(str, ids)) or 'none'})."
            )
            raise ConfigurationError(msg, setting=self.audience_ids_setting)
        if wanted:
            ids = [audience_id for audience_id in ids if audience_id in wanted]
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
        """Every member record names its list or segment and the snapshot it belongs to."""
        snapshot_at = getattr(self, "_snapshot_at", None) or dt.datetime.now(
            dt.timezone.utc
        ).isoformat(timespec="seconds")
        return {self.audience_property: unit.key, SNAPSHOT_AT: snapshot_at}


__all__ = [
    "AudienceExportStream",
    "CsvHeaderError",
    "ExportDataError",
    "ExportJobError",
    "ExportLayout",
    "ExportStream",
    "ExtraColumn",
    "TimeRangedExportStream",
]
