"""What the three destination sinks share: row checks, batches, parallel requests, acks."""

from __future__ import annotations

import logging
import operator
import re
import sys
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import InvalidInputLine, InvalidJSONSchema, InvalidRecord

from emarsys_api import EmarsysError, NotFoundError, ValidationError
from target_emarsys.errors import (
    DestinationWriteError,
    InvalidRowError,
    RecordRejectedError,
    StreamMissingKeyPropertiesError,
)
from target_emarsys.in_flight import AckLedger, BatchTicket, KeyOrder
from target_emarsys.sdk_overrides import VALIDATION_FAILED, SinkOverrides
from target_emarsys.sinks.context import WriteContext
from target_emarsys.validation import CompiledSchemaValidator

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding
    from singer_sdk.sinks.core import BaseJSONSchemaValidator
    from singer_sdk.target_base import Target

REQUEST_LIMIT = 1000
"""Objects per request: the RDS and contacts limit (docs/emarsys-api.md §8, §12.9); the behavior
endpoint's limit is not published (§7, §10), so it gets the same."""

Pair = tuple[Any, dict[str, Any]]
"""A row as it will be sent, with the record it came from (for reports)."""


class _ValidationFailureSaidOnce(logging.Filter):
    """Drops the ERROR line (with a traceback) the SDK logs for every invalid record.

    The target says it once itself: under `fail` the command's `Error:` line, under `log` the
    WARNING that the record was rejected and where it is kept.
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == VALIDATION_FAILED
            and record.exc_info is not None
            and isinstance(record.exc_info[1], InvalidRecord)
        )


row_of: Callable[[Pair], Any] = operator.itemgetter(0)
"""The row of a (row, record) pair."""


class EmarsysSink(SinkOverrides):
    """Turns records into rows, batches into requests, and acknowledged requests into acks.

    Subclasses say how a record becomes a row (`prepare_row`, raising `InvalidRowError` for a
    row Emarsys must never see), how rows are grouped into requests (`plan_requests`) and how
    one request is written (`write`). Everything a sink writes with comes from the run's
    `WriteContext` (`target.write_context`), never from other members of the target.
    """

    MAX_SIZE_DEFAULT = REQUEST_LIMIT
    request_limit = REQUEST_LIMIT

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        """Attach the sink to the run's `WriteContext` (client, request pool, rejects file).

        Raises:
            TypeError: `target` has no `write_context` (sinks are built by `TargetEmarsys`).
        """
        context = getattr(target, "write_context", None)
        if not isinstance(context, WriteContext):
            msg = f"{type(self).__name__} needs a target with a WriteContext (TargetEmarsys)"
            raise TypeError(msg)
        self.write_context = context
        self.rejects = context.rejects
        self.fail_on_error = target.config.get("on_record_error", "fail") != "log"
        self.fail_on_record_validation_exception = self.fail_on_error
        self._invalid_record: dict[str, Any] | None = None
        super().__init__(target, stream_name, schema, key_properties)
        if not any(isinstance(f, _ValidationFailureSaidOnce) for f in self.logger.filters):
            self.logger.addFilter(_ValidationFailureSaidOnce())
        self.destination = context.destination_for(stream_name)
        self.client = context.client
        self.pool = context.pool
        self._key_names = tuple(self.key_properties)
        self.acks = AckLedger()
        self.key_order = KeyOrder()
        self._records_batched = 0
        self._stats_lock = threading.Lock()
        self.rows_sent = 0
        self.rows_skipped = 0
        size = self.batch_size_rows
        self._max_size = max(1, min(size or self.request_limit, self.request_limit))
        if size is not None and size > self.request_limit:
            self.logger.warning(
                "stream '%s': batch_size_rows %d is above the Emarsys limit; using %d",
                stream_name,
                size,
                self.request_limit,
            )

    @property
    @override
    def max_size(self) -> int:
        """`batch_size_rows`, at most the endpoint's limit (1000 objects per request)."""
        return self._max_size

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """A compiled validator; in `log` mode it also keeps the invalid record aside."""
        if not self.validate_schema:
            return None
        sink = self

        class _Validator(CompiledSchemaValidator):
            @override
            def validate(self, record: dict[str, Any]) -> None:
                try:
                    super().validate(record)
                except InvalidRecord as exc:
                    problem = exc.error_message.removeprefix("Record Message Validation Error: ")
                    reason = f"does not match the stream's schema: {problem}"
                    sink._note_invalid(record, reason)
                    key = sink.describe_key(record)
                    raise InvalidRecord(
                        f"stream '{sink.stream_name}', record {key}: {reason}", record
                    ) from exc

        try:
            return _Validator(
                self.schema,
                validate_formats=self.validate_field_string_format,
                present=self.key_properties,
            )
        except InvalidJSONSchema as exc:  # made while its SCHEMA line is read: the reader names it
            msg = (
                f"the schema of stream '{self.stream_name}' is not valid JSON schema: {exc}; "
                "fix the schema the tap sends"
            )
            raise InvalidInputLine(msg) from exc

    def _note_invalid(self, record: dict[str, Any], reason: str) -> None:
        if not self.fail_on_error:
            self._invalid_record = record
            self.rejects.add(self.stream_name, self.describe_key(record), reason, record)

    # Records

    @override
    def check_key_properties(self, record: dict[str, Any]) -> None:
        """Stop at a record missing a key property or with one null, naming the stream and
        the property: no row is ever written with a key property null."""
        if record is not self._invalid_record:
            for key in self._key_names:
                if record.get(key) is None:
                    missing = [key for key in self._key_names if key not in record]
                    null = [key for key in self._key_names if key in record and record[key] is None]
                    raise StreamMissingKeyPropertiesError(self.stream_name, missing, null)

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Check and convert the record now, so a bad row stops the run before it is sent."""
        if record is self._invalid_record:
            self._invalid_record = None
            return
        try:
            row = self.prepare_row(record)
        except InvalidRowError as exc:
            if self.fail_on_error:
                raise
            self.rejects.add(self.stream_name, exc.key, exc.reason, record)
            return
        context["records"].append((row, record))

    @override
    def start_batch(self, context: dict[str, Any]) -> None:
        """A batch holds its (row, record) pairs in `context["records"]`."""
        context["records"] = []

    def prepare_row(self, record: dict[str, Any]) -> Any:
        """The row to send for `record`; raise `InvalidRowError` if Emarsys must not see it."""
        raise NotImplementedError

    def describe_key(self, record: dict[str, Any]) -> str:
        """How a record is named in errors and reports: its key properties, else '(no key)'."""
        if not self.key_properties:
            return "(no key)"
        return ", ".join(f"{key}={record.get(key)!r}" for key in self.key_properties)

    # Batches

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """Send the batch as requests on the pool; acknowledge it when all have succeeded.

        Returns once the requests are submitted (not answered): the target waits for them
        before it emits a STATE message that covers these records.
        """
        pairs: list[Pair] = context.get("records", [])
        start, end = self._records_batched, self.records_taken
        self._records_batched = end
        requests = self.plan_requests(pairs) if pairs else []
        ticket = self.acks.batch(start, end, len(requests))
        for request in requests:
            self.submit(request, ticket)
        self.write_context.release_state()

    def plan_requests(self, pairs: list[Pair]) -> list[list[Pair]]:
        """Group a batch into requests of at most `request_limit` rows."""
        limit = self.request_limit
        return [pairs[i : i + limit] for i in range(0, len(pairs), limit)]

    def last_per_key(
        self,
        pairs: list[Pair],
        key: Callable[[Any], Hashable],
        *,
        at_last_position: bool = False,
    ) -> list[Pair]:
        """The batch with only the last pair per row key.

        One request never holds a key twice; the merged duplicates are tallied as the SDK does.
        A kept pair stands where its key first appeared, or with `at_last_position` where its
        last record did (so rows that may name one entity stay in the order of their last
        records).
        """
        if at_last_position:
            latest: dict[Hashable, Pair] = {}
            for pair in pairs:
                row_key = key(pair[0])
                latest.pop(row_key, None)
                latest[row_key] = pair
        else:  # the usual case, in C-level steps: a key for each pair's row
            latest = dict(zip(map(key, map(row_of, pairs)), pairs, strict=True))
        if len(latest) == len(pairs):
            return pairs
        self.tally_duplicate_merged(len(pairs) - len(latest))
        return list(latest.values())

    def request_keys(self, request: list[Pair]) -> list[Hashable]:
        """Keys whose writes must stay in input order (none by default)."""
        return []

    def submit(self, request: list[Pair], ticket: BatchTicket | None = None) -> Future[Any]:
        """Put one request on the pool after any in-flight request sharing a key.

        When it succeeds, its part of `ticket` is acknowledged and any STATE that was waiting
        for it is emitted.
        """
        request_done = self.write_context.request_done

        def done(future: Future[Any]) -> None:
            if ticket is not None:
                ticket.part_done(future)
            request_done(future)

        keys = self.request_keys(request)
        future = self.pool.submit(
            lambda: self._send(request),
            after=self.key_order.conflicts(keys) if keys else (),
            on_done=done,
        )
        if keys:
            self.key_order.hold(keys, future)
        return future

    def _send(self, request: list[Pair], write: Callable[[list[Pair]], None] | None = None) -> None:
        try:
            (write or self.write)(request)
        except (ValidationError, NotFoundError) as exc:
            fatal = self.fatal_reason(exc)
            if fatal or isinstance(exc, NotFoundError):
                raise DestinationWriteError(f"stream '{self.stream_name}': {fatal or exc}") from exc
            self.reject(request, self.reason(exc), exc)
        with self._stats_lock:
            self.rows_sent += len(request)
            sent = self.rows_sent
        # One line per write request, so a nightly log shows the writes moving.
        self.logger.info(
            "stream '%s': request of %d row(s) answered, %d sent so far",
            self.stream_name,
            len(request),
            sent,
        )

    def write(self, request: list[Pair]) -> None:
        """Send one request through the client (runs on a pool thread)."""
        raise NotImplementedError

    def fatal_reason(self, error: EmarsysError) -> str | None:
        """A message when `error` is about the destination rather than the rows, else None."""
        return None

    @staticmethod
    def reason(error: EmarsysError) -> str:
        """Emarsys's own words for a rejection."""
        text = error.reply_text or str(error)
        return f"{text} (replyCode {error.reply_code})" if error.reply_code is not None else text

    def reject(self, request: list[Pair], reason: str, error: Exception | None = None) -> None:
        """Report rows Emarsys refused: stop the run (`fail`) or keep them aside (`log`)."""
        if not request:
            return
        if self.fail_on_error:
            keys = [self.describe_key(record) for _, record in request]
            where = keys[0] if len(keys) == 1 else f"{keys[0]} (and {len(keys) - 1} more)"
            raise RecordRejectedError(self.stream_name, where, reason) from error
        for _, record in request:
            self.rejects.add(self.stream_name, self.describe_key(record), reason, record)

    def count_skipped(self, skipped: int) -> None:
        """Rows Emarsys accepted the request for but did not write (insert-ignore)."""
        with self._stats_lock:
            self.rows_skipped += skipped

    @override
    def process_batch_files(self, encoding: BaseBatchFileEncoding, files: Sequence[str]) -> None:
        """Singer BATCH messages would bypass the record checks: refuse them clearly."""
        raise NotImplementedError(
            f"stream '{self.stream_name}': target-emarsys does not read Singer BATCH files; "
            "configure the tap to send RECORD messages"
        )

    @override
    def clean_up(self) -> None:
        """Log what this stream wrote, skipped and rejected, once its requests have settled.

        The SDK cleans sinks up right after draining them, while their last requests may still be
        in flight: without waiting, the summary under-counts the rows sent.
        """
        self.pool.settle()
        self.logger.info(
            "stream '%s': %d record(s) read, %d row(s) sent, %d skipped by Emarsys, %d rejected",
            self.stream_name,
            self.records_taken,
            self.rows_sent,
            self.rows_skipped,
            self.rejects.counts[self.stream_name],
        )
        super().clean_up()


_EVENT_NUMBER = re.compile(r"event number:\s*(\d+)")


def event_number(text: str) -> int | None:
    """The 0-based row an HDS error names (`..., event number: 3`, docs/emarsys-api.md §7)."""
    match = _EVENT_NUMBER.search(text or "")
    return int(match.group(1)) if match else None
