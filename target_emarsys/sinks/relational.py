"""Relational Data (RDS) tables: upsert, insert (append-only) or replace (overwrite)."""

from __future__ import annotations

import operator
import re
import sys
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from emarsys_api import ValidationError
from target_emarsys.destinations import RelationalDestination
from target_emarsys.errors import InvalidRowError
from target_emarsys.sinks.base import EmarsysSink, Pair, row_of
from target_emarsys.values import (
    OutOfRangeError,
    is_scalar_schema,
    property_format,
    property_types,
    rds_date,
    rds_datetime_cached,
    rds_flag,
    rds_value,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from emarsys_api import EmarsysError

UPSERT, APPEND_ONLY, OVERWRITE = "upsert", "append-only", "overwrite"
ISOLATION_REQUESTS = 100
"""Extra requests one refused request may cost to find its refused rows (log mode): about
2 x log2(1000) = 20 per refused row, so up to about five rows in a request of 1000."""
_MISSING_FIELDS = re.compile(r"Missing fields:\s*\[?([^\]]*)\]?")


class RelationalSink(EmarsysSink):
    """Writes a stream into one RDS table, every row with the same columns.

    `load_method`: `upsert` (`records/upsert`, the default for streams with key properties:
    idempotent, so a rerun after a kill duplicates nothing), `append-only` (insert, which
    Emarsys treats as insert-ignore: rows clashing with the table's keys are skipped, and
    counted), `overwrite` (replace with the first request, insert after it; the table holds
    only part of the data until the stream ends).
    """

    destination: RelationalDestination

    @override
    def setup(self) -> None:
        """Fix the columns and the load method for this stream."""
        super().setup()
        # Every object in one request must have the same keys (15001, docs/emarsys-api.md §8).
        properties = self.schema.get("properties", {})
        self.columns = list(properties)
        self._column_set = frozenset(self.columns)
        self._told_of_dropped = False  # whether the warning about unwritten properties is out
        self.converters = self._value_converters(properties)
        configured = self.config.get("load_method")
        method = configured or (UPSERT if self.key_properties else APPEND_ONLY)
        if method == UPSERT and not self.key_properties:
            self.logger.warning(
                "stream '%s' has no key properties, so it cannot be upserted; appending",
                self.stream_name,
            )
            method = APPEND_ONLY
        self.load_method = method
        # A row's key: one value, or a tuple for a compound key (unused without keys).
        self.row_key: Callable[[dict[str, Any]], Hashable] = (
            operator.itemgetter(*self.key_properties) if self.key_properties else id
        )
        self.table_name = f"{self.destination.connection}.{self.destination.table}"
        self.logger.info(
            "stream '%s' -> RDS table %s (%s)", self.stream_name, self.table_name, method
        )

    def _value_converters(
        self, properties: dict[str, Any]
    ) -> list[tuple[str, Callable[[Any], Any], str]]:
        """For each column whose values need another form: the conversion and what it expects.

        RDS tables are typed MySQL tables (docs/emarsys-api.md §12.10): date-time properties
        go as `YYYY-MM-DD HH:MM:SS` Vienna time, dates as `YYYY-MM-DD`, booleans as 1/0.
        Validated records hold JSON scalars where the schema says so; other columns may hold
        anything, objects and arrays becoming JSON text. Integers and fractions go as JSON
        numbers, text as it is: those columns need nothing.
        """
        converters: list[tuple[str, Callable[[Any], Any], str]] = []
        for column, spec in properties.items():
            kind = property_format(spec)
            if kind == "date-time":
                converters.append((column, rds_datetime_cached, "date-time"))
            elif kind == "date":
                converters.append((column, rds_date, "date"))
            elif not (self.validate_schema and is_scalar_schema(spec)):
                converters.append((column, rds_value, "value"))
            elif "boolean" in property_types(spec):
                converters.append((column, rds_flag, "boolean"))
        return converters

    @override
    def prepare_row(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record's values for every schema column (missing ones as null), in the forms
        a typed RDS table takes; a date or date-time that does not parse is a row error."""
        # The usual case, found while the record was taken, else by comparing: one C copy.
        if record is self.schema_keyed_record or record.keys() == self._column_set:
            row = dict(record)
        else:
            get = record.get
            row = {column: get(column) for column in self.columns}
            if not self._told_of_dropped and not record.keys() <= self._column_set:
                self._tell_of_dropped(record)
        for column, convert, kind in self.converters:
            value = row[column]
            if value is not None:
                try:
                    row[column] = convert(value)
                except OutOfRangeError:
                    raise InvalidRowError(
                        self.stream_name,
                        self.describe_key(record),
                        f"column {column}: {value!r} is before year 1 or after year 9999 in "
                        "Vienna time, which a DATETIME column cannot hold",
                    ) from None
                except (ValueError, TypeError):  # TypeError: a list or dict, for a cache
                    raise InvalidRowError(
                        self.stream_name,
                        self.describe_key(record),
                        f"column {column}: {value!r} is not a {kind} (ISO 8601 text expected)",
                    ) from None
        return row

    def _tell_of_dropped(self, record: dict[str, Any]) -> None:
        """Warn once per stream that a record holds properties its SCHEMA does not declare:
        the table gets only the SCHEMA's columns, so those values are not written."""
        self._told_of_dropped = True
        extra = sorted(map(str, record.keys() - self._column_set))
        self.logger.warning(
            "stream '%s': record %s has propert%s %s that the stream's SCHEMA does not declare; "
            "they are not written to %s (declare them in the tap's schema to keep them; this "
            "is said once per stream)",
            self.stream_name,
            self.describe_key(record),
            "y" if len(extra) == 1 else "ies",
            ", ".join(extra[:20]) + (", ..." if len(extra) > 20 else ""),
            self.table_name,
        )

    @override
    def takes_runs(self) -> bool:
        """Runs are taken while `process_record` and `prepare_row` are the ones that
        `process_record_run` does for a run (a subclass that changes either takes records
        one by one)."""
        cls = type(self)
        return (
            cls.process_record is EmarsysSink.process_record
            and cls.prepare_row is RelationalSink.prepare_row
            and cls.process_record_run is RelationalSink.process_record_run
        )

    @override
    def process_record_run(self, records: list[dict[str, Any]], context: dict[str, Any]) -> bool:
        """`process_record` for records that each have exactly the schema's columns, column
        by column: the rows `prepare_row` makes. A value that does not convert declines these
        records (nothing is batched), so that they and the rest of their run are taken one by
        one, and that one is rejected or stops the run, named by its input line."""
        rows = list(map(dict, records))
        for column, convert, _ in self.converters:
            try:
                for row in rows:
                    value = row[column]
                    if value is not None:
                        row[column] = convert(value)
            except Exception:  # whatever `prepare_row` would make of it, it decides
                return False
        context["records"].extend(zip(rows, records, strict=True))
        return True

    @override
    def plan_requests(self, pairs: list[Pair]) -> list[list[Pair]]:
        """Upserts keep only the last row per key, so one request never holds a key twice."""
        if self.load_method == UPSERT:
            pairs = self.last_per_key(pairs, self.row_key)
        return super().plan_requests(pairs)

    @override
    def request_keys(self, request: list[Pair]) -> list[Hashable]:
        """Rows with the same key are written in input order."""
        if not self.key_properties:
            return []
        return list(map(self.row_key, map(row_of, request)))

    @property
    def replaces_by_request(self) -> bool:
        """Whether an overwrite empties the table with a replace request (`PUT records`).

        True in overwrite mode; a sink that says "overwrite" some other way (a file name)
        returns False, and then neither a batch nor the end of the stream sends one.
        """
        return self.load_method == OVERWRITE

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """In overwrite mode, the table's first request replaces it, and is awaited."""
        if self.replaces_by_request and context.get("records") and self._claim_replace():
            pairs = context["records"]
            first, context["records"] = pairs[: self.request_limit], pairs[self.request_limit :]
            self.pool.wait_for(self.submit_replace(first))
        super().process_batch(context)

    def _claim_replace(self) -> bool:
        return self.write_context.replaced_tables.claim(self.table_name)

    def submit_replace(self, request: list[Pair]) -> Any:
        """Empty the table and write `request` into it (PUT records)."""
        return self.pool.submit(lambda: self._send(request, self._replace))

    def _replace(self, request: list[Pair]) -> None:
        rows = [row for row, _ in request]
        self.client.rds_replace(self.destination.connection, self.destination.table, rows)

    @override
    def write(self, request: list[Pair]) -> None:
        """One upsert or insert call with up to 1000 rows.

        Emarsys refuses a request as a whole when one value does not fit its column (a typed
        table, docs/emarsys-api.md §12.10) and stores none of it. With `on_record_error: log`
        the refused request is split in halves, again and again, so that only the refused
        rows are kept aside and the others are written; after `ISOLATION_REQUESTS` extra
        requests a part still refused is kept aside whole. With `fail` the run stops at once.
        """
        if self.fail_on_error:
            self.store(request)
            return
        self._store_isolating(request, [ISOLATION_REQUESTS])

    def _store_isolating(self, request: list[Pair], budget: list[int]) -> None:
        try:
            self.store(request)
        except ValidationError as exc:
            if self.fatal_reason(exc) is not None:
                raise
            if len(request) == 1 or budget[0] < 2:
                self.reject(request, self.reason(exc), exc)
                return
            if budget[0] == ISOLATION_REQUESTS:
                self.logger.warning(
                    "stream '%s': Emarsys refused a request of %d row(s) for %s (%s); "
                    "sending it in parts to keep aside only the refused rows",
                    self.stream_name,
                    len(request),
                    self.table_name,
                    self.reason(exc),
                )
            budget[0] -= 2
            half = len(request) // 2
            self._store_isolating(request[:half], budget)
            self._store_isolating(request[half:], budget)

    def store(self, request: list[Pair]) -> None:
        """Send the rows of `request` in one upsert or insert call."""
        rows = [row for row, _ in request]
        connection, table = self.destination.connection, self.destination.table
        if self.load_method == UPSERT:
            self.client.rds_upsert(connection, table, rows)
            return
        inserted = self.client.rds_insert(connection, table, rows)
        if inserted < len(rows):
            skipped = len(rows) - inserted
            self.count_skipped(skipped)
            self.logger.warning(
                "stream '%s': Emarsys skipped %d of %d row(s) inserted into %s "
                "(insert-ignore: they clash with rows already in the table)",
                self.stream_name,
                skipped,
                len(rows),
                self.table_name,
            )

    @override
    def fatal_reason(self, error: EmarsysError) -> str | None:
        """Unknown columns, table or connection: no row can fix those."""
        if error.reply_code == 15003:
            match = _MISSING_FIELDS.search(error.reply_text or "")
            columns = match.group(1).strip() if match else error.reply_text
            return (
                f"RDS table {self.table_name} has no column(s) {columns} "
                f"(replyCode 15003); add them to the table or drop them with a stream map"
            )
        if error.reply_code in (15004, 15010):
            return f"RDS table {self.table_name} not found: {self.reason(error)}"
        return None

    @override
    def clean_up(self) -> None:
        """An overwritten stream without records still empties its table."""
        if self.replaces_by_request and not self.pool.failed and self._claim_replace():
            self.pool.wait_for(self.submit_replace([]))
        super().clean_up()
