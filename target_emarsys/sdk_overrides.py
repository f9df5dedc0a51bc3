"""Every private singer-sdk member target-emarsys overrides or relies on, in one place.

The SDK's `Target` and `Sink` do per-record work this target does not need and, for STATE and
signals, something this target must not do. The private members involved are overridden here
and nowhere else; each override names the SDK version whose code it mirrors (`SDK_SERIES`).
`tests/target/test_sdk_guard.py` pins a hash of the source of every SDK member in
`MIRRORED_SDK_MEMBERS`, so an SDK upgrade that changes one fails with a message naming it: the
upgrade is then a deliberate step (re-read the SDK code, adjust the mirror here, update the pin)
instead of silent drift.

The record path exists twice: `TargetOverrides._process_record_message` for one RECORD, and
`TargetOverrides.take_record_run` with `SinkOverrides.take_run` for a run of RECORDs of one
stream that the reader read together (`reader.SingerLineReader.take_runs`); both take the
SDK's steps of `Target._process_record_message` in its order.

The rest of the target uses public SDK hooks, plus the few named hooks these classes call
(`hold_state`, `write_state_after_drain`, `stop_on_signal`, `process_batch_message`,
`check_key_properties`, `process_record_run`).
"""

from __future__ import annotations

import copy
import operator
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.mapper import DefaultStreamMap, SameRecordTransform, StreamMap
from singer_sdk.plugin_base import PluginBase
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.sinks import BatchSink, Sink
from singer_sdk.target_base import Target

from emarsys_singer.stream_maps import is_identity
from emarsys_singer.stream_maps import transform as map_record

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum

SDK_SERIES = "0.54"
"""The singer-sdk release series whose private code the overrides below mirror (0.54.x)."""

MIRRORED_SDK_MEMBERS: dict[str, Callable[..., Any]] = {
    # overridden
    "Target._process_record_message": Target._process_record_message,
    "Target._process_state_message": Target._process_state_message,
    "Target._process_schema_message": Target._process_schema_message,
    "Target._process_activate_version_message": Target._process_activate_version_message,
    "Target._process_batch_message": Target._process_batch_message,
    "Target._write_state_message": Target._write_state_message,
    "Target._handle_termination": Target._handle_termination,
    "PluginBase._validate_config": PluginBase._validate_config,
    "Sink._parse_timestamps_in_record": Sink._parse_timestamps_in_record,
    "Sink._singer_validate_message": Sink._singer_validate_message,
    "Sink._after_process_record": Sink._after_process_record,
    "Sink.is_full": Sink.is_full.fget,  # type: ignore[attr-defined]
    "Sink.include_sdc_metadata_properties": Sink.include_sdc_metadata_properties.fget,  # type: ignore[attr-defined]
    # called or read by the mirrored record path
    "Target._assert_sink_exists": Target._assert_sink_exists,
    "Target._handle_max_record_age": Target._handle_max_record_age,
    "Target._reset_max_record_age": Target._reset_max_record_age,
    "Target.drain_all": Target.drain_all,
    "Sink.__init__": Sink.__init__,
    "Sink.tally_record_read": Sink.tally_record_read,
    "Sink._add_sdc_metadata_to_record": Sink._add_sdc_metadata_to_record,
    "Sink._remove_sdc_metadata_from_record": Sink._remove_sdc_metadata_from_record,
    "Sink._validate_and_parse": Sink._validate_and_parse,
    "Sink.preprocess_record": Sink.preprocess_record,
    "Sink.mark_drained": Sink.mark_drained,
    "Sink.record_counter_metric": Sink.record_counter_metric.fget,  # type: ignore[attr-defined]
    "BatchSink._get_context": BatchSink._get_context,
    "SameRecordTransform.transform": SameRecordTransform.transform,
    "DefaultStreamMap.transform": DefaultStreamMap.transform,
    "StreamMap.flatten_record": StreamMap.flatten_record,
    "StreamMap.flattening_enabled": StreamMap.flattening_enabled.fget,  # type: ignore[attr-defined]
    # re-implemented by `reader.SingerLineReader` (public names, but the loop is the SDK's)
    "GenericSingerReader.process_lines": GenericSingerReader.process_lines,
    "GenericSingerReader._process_unknown_message": GenericSingerReader._process_unknown_message,
    "MsgSpecReader.deserialize_json": MsgSpecReader.deserialize_json,
}
"""SDK members (as `Class.member`) whose 0.54 code the overrides in this module mirror."""

_SDC_COLUMNS = frozenset(
    (
        "_sdc_extracted_at",
        "_sdc_received_at",
        "_sdc_batched_at",
        "_sdc_deleted_at",
        "_sdc_sequence",
        "_sdc_table_version",
        "_sdc_sync_started_at",
    )
)
"""The columns `Sink._remove_sdc_metadata_from_record` pops (singer-sdk 0.54)."""


_MapStep = tuple[StreamMap, str, bool]
"""A stream map, its stream alias, and whether it is the identity (`is_identity`)."""
_RecordPlan = tuple["SinkOverrides | None", list[_MapStep]]
"""A stream's maps as steps, and its sink when there is one step and it is the identity."""


_RECORD_OF = operator.itemgetter("record")

VALIDATION_FAILED = "Record validation failed"
"""The message `Sink._validate_and_parse` logs (with a traceback) for an invalid record."""


class TargetOverrides(Target):
    """The private `Target` members target-emarsys overrides (mirroring singer-sdk 0.54.x)."""

    def __init__(self, **kwargs: Any) -> None:
        """The SDK's target, plus a record plan per stream (built at its first RECORD)."""
        self._record_plans: dict[str, _RecordPlan] = {}
        """Per stream: `_RecordPlan`, all dropped when a SCHEMA message arrives (the only
        message after which the SDK may replace a sink, for any alias)."""
        super().__init__(**kwargs)
        self._max_record_age_seconds = self._MAX_RECORD_AGE_IN_MINUTES * 60
        if hasattr(self.message_reader, "take_runs"):  # `reader.SingerLineReader`
            self.message_reader.take_runs = self.take_record_run

    def check_config(self, config: dict[str, Any]) -> None:
        """Check the settings as read, before the SDK validates them (default: nothing)."""

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        self.check_config(self._config)
        return super()._validate_config(raise_errors=raise_errors)

    @override
    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's SCHEMA steps; record plans are made again at each stream's next RECORD.

        `Target._process_schema_message` is where the SDK registers a stream's maps anew and
        replaces a sink whose schema or keys changed (`Target.get_sink`); a stream map's alias
        may name another stream's sink, so every plan goes.
        """
        try:
            super()._process_schema_message(message_dict)
        finally:
            self._record_plans.clear()

    @override
    def _process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's ACTIVATE_VERSION steps, for a stream that has had its SCHEMA (`has_maps`)."""
        if self.has_maps(message_dict["stream"], "An ACTIVATE_VERSION message"):
            super()._process_activate_version_message(message_dict)

    @override
    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        """`process_batch_message` for a stream that has had its SCHEMA (`has_maps`), before
        the SDK's decoding of `encoding` (a `TypeError` for one without a `format`)."""
        if self.has_maps(message_dict["stream"], "A BATCH message"):
            self.process_batch_message(message_dict)

    def process_batch_message(self, message_dict: dict[str, Any]) -> None:
        """A BATCH message of a stream with a SCHEMA."""
        raise NotImplementedError

    def has_maps(self, stream_name: str, what: str) -> bool:
        """Whether the stream has had a SCHEMA (the SDK looks its maps up without checking:
        a `KeyError`); if not, the SDK's error for a RECORD before its SCHEMA, naming `what`
        came instead, or False for a stream without maps that names a sink (ignored, as
        `_process_record_message` does)."""
        if stream_name in self.mapper.stream_maps:
            return True
        if not self.sink_exists(stream_name):
            msg = (
                f"{what} for stream '{stream_name}' came before the stream's SCHEMA. Check "
                "that the tap sends a SCHEMA first, as the Singer spec says."
            )
            raise RecordsWithoutSchemaException(msg)
        return False

    def _record_plan(self, stream_name: str) -> _RecordPlan | None:
        """How RECORDs of `stream_name` reach their sinks, or None for a stream without maps."""
        stream_maps = self.mapper.stream_maps.get(stream_name)
        if stream_maps is None:
            return None
        steps = [(m, m.stream_alias, is_identity(m)) for m in stream_maps]
        only = None
        if len(steps) == 1 and steps[0][2]:
            # None: the general path, which asserts the sink exists
            only = self._sinks_active.get(steps[0][1])
        plan: _RecordPlan = (only, steps)  # type: ignore[assignment]  # our sinks only
        self._record_plans[stream_name] = plan
        return plan

    @override
    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's RECORD steps, in the SDK's order, without its per-record overhead.

        Mirrors `Target._process_record_message` of singer-sdk 0.54: same stream maps,
        metadata, validation, key check, batching and draining. What it leaves out costs
        time on every record and does nothing here: building sets to check two keys, looking
        the sink up three ways, a per-record debug call, copying the record when only one
        stream map reads it, passing it through the SDK's default map when that map does not
        flatten, and the sink steps done one call each (`Sink.take_record`).
        """
        try:
            stream_name = message_dict["stream"]
            raw = message_dict["record"]
        except KeyError:
            self._assert_line_requires(message_dict, requires={"stream", "record"})
            raise
        plan = self._record_plans.get(stream_name) or self._record_plan(stream_name)
        if plan is None:
            self._assert_sink_exists(stream_name)
            return
        only, steps = plan
        if only is not None:  # one map that hands the record on as it is, to this sink
            if only.take_record(raw, message_dict):
                self.drain_one(only)
        else:
            sinks: dict[str, SinkOverrides] = self._sinks_active  # type: ignore[assignment]
            shared = len(steps) > 1
            for stream_map, alias, _ in steps:
                record = map_record(stream_map, copy.copy(raw) if shared else raw)
                if record is None:  # filtered out by a stream map
                    continue
                sink = sinks.get(alias)
                if sink is None:
                    self._assert_sink_exists(alias)
                    continue
                if sink.take_record(record, message_dict):
                    self.drain_one(sink)
        # `record_age_passed`, inlined (a call per record costs), as often as the SDK checks.
        if time.time() - self._last_full_drain_at > self._max_record_age_seconds:
            self._handle_max_record_age()

    def record_age_passed(self) -> bool:
        """Whether the SDK's maximum record age has passed since the last full drain: the
        test of `_handle_max_record_age`, without its property call."""
        return time.time() - self._last_full_drain_at > self._max_record_age_seconds

    def take_record_run(self, stream_name: str, messages: list[dict[str, Any]]) -> int:
        """`_process_record_message` for RECORDs of one stream read together, each with a
        `record` object; how many of the leading messages it took (0: none).

        Only a stream whose one map hands records on as they are, to a sink that takes runs
        (`SinkOverrides.take_run`), is taken here, in parts that end where the batch is
        full: those records take the SDK's steps of `_process_record_message` in its order,
        the same as one at a time. The record age is checked after each part, as the SDK
        checks it after each record; when it has already passed as a part starts, that part
        is one record, so every sink is drained after the same record as one at a time (the
        age can still pass during a part, a few milliseconds of records, and the drain then
        comes at the part's end).
        """
        plan = self._record_plans.get(stream_name) or self._record_plan(stream_name)
        sink = plan[0] if plan is not None else None
        if sink is None or sink.run_check is None:
            return 0
        records = list(map(_RECORD_OF, messages))
        taken = 0
        while taken < len(records):
            aged = self.record_age_passed()
            part = sink.take_run(records, taken, 1 if aged else len(records))
            if not part:
                break
            taken += part
            if sink.is_full:
                self.drain_one(sink)
            if aged or self.record_age_passed():
                self._handle_max_record_age()
        return taken

    @override
    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's STATE bookkeeping, then `hold_state` for a new STATE (not one repeated)."""
        previous = self._latest_state
        super()._process_state_message(message_dict)
        state = self._latest_state
        if state is not None and state is not previous:
            self.hold_state(state, [*self._sinks_to_clear, *self._sinks_active.values()])

    def hold_state(self, state: dict[str, Any], sinks: list[Sink]) -> None:
        """A new STATE arrived while `sinks` are open (the replaced ones first)."""
        raise NotImplementedError

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        """Called by `Target.drain_all` after every full drain: `write_state_after_drain`."""
        self.write_state_after_drain(state)

    def write_state_after_drain(self, state: dict[str, Any]) -> None:
        """Every sink is drained and `state` is the latest STATE."""
        raise NotImplementedError

    def write_state_line(self, state: dict[str, Any]) -> None:
        """The SDK's own STATE writer (one JSON line on stdout, singer-sdk 0.54)."""
        Target._write_state_message(self, state)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: `stop_on_signal` instead of the SDK's drain in the signal handler."""
        self.stop_on_signal(signum)

    def stop_on_signal(self, signum: int) -> None:
        """Stop the run for signal `signum` (must not return)."""
        raise NotImplementedError


class SinkOverrides(BatchSink):
    """The private `Sink` members target-emarsys overrides (mirroring singer-sdk 0.54.x)."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        """The SDK's sink, plus what the record path reads once instead of per record."""
        self._include_sdc = bool(target.config.get("add_record_metadata", False))
        super().__init__(target, stream_name, schema, key_properties)
        # `preprocess_record` is a public hook: called only when a subclass overrides it.
        self._preprocesses = type(self).preprocess_record is not Sink.preprocess_record
        # A validator's `check(record)` raises on an invalid record and does nothing else
        # (`validation.CompiledSchemaValidator`); without one, every record takes the SDK path.
        self._fast_check: Callable[[dict[str, Any]], Any] | None = getattr(
            self._validator, "check", None
        )
        # Whether a record that passes `check` is known to have every key property.
        present: frozenset[str] = getattr(self._validator, "checks_present", frozenset())
        self._check_sees_keys = set(self.key_properties) <= present
        # The usual sink: no metadata columns to add, a fast check that also sees the keys,
        # no `preprocess_record`. Its records take the short branch of `take_record`, with
        # this check; None for any other sink.
        plain = self._check_sees_keys and not (self._include_sdc or self._preprocesses)
        self._plain_check = self._fast_check if plain else None
        self._full_at = 0
        """`max_size`, read when a batch starts (a property read for every record costs)."""
        self._schema_keys = frozenset(self.schema.get("properties", {}))
        # A record whose keys are exactly the schema's properties carries no metadata column,
        # unless the schema names one.
        self._schema_keys_exclude_sdc = _SDC_COLUMNS.isdisjoint(self._schema_keys)
        runs = self.takes_runs()
        self.run_check: Callable[[list[dict[str, Any]]], bool] | None = (
            getattr(self._validator, "check_run", None)
            if runs and plain and self._schema_keys_exclude_sdc
            else None
        )
        """For a plain sink whose records can be processed in runs (`process_record_run`):
        true when every record of a run would pass its check and has exactly the schema's
        properties (`validation.FastChecks.check_run`). None: records are taken one by one."""
        self.schema_keyed_record: dict[str, Any] | None = None
        """The record being taken, when its keys are exactly the schema's properties (found
        while looking for metadata columns; a sink's `process_record` may rely on it)."""

    @property
    def records_taken(self) -> int:
        """Records handed to `process_record` so far (the SDK's record tally).

        `_total_records_read` is brought up to date when a batch is drained (`mark_drained`);
        the SDK itself never reads it.
        """
        return self._total_records_read + self._batch_records_read

    def take_record(self, record: dict[str, Any], message: dict[str, Any]) -> bool:
        """The sink's part of one RECORD; True when the batch is full and must be drained.

        The steps of singer-sdk 0.54's `Target._process_record_message` for one sink, in its
        order: context, metadata columns, validation (`_validate_and_parse`, whose timestamp
        parsing is switched off below; a valid record only goes through the validator's
        `check`), `preprocess_record`, key check (done by `check` when it passes a record
        and no `preprocess_record` follows), tally, `process_record`. The record counter
        is incremented per batch (`mark_drained`); `_after_process_record` does nothing here.
        """
        context = self._pending_batch or self._start_batch_context(record)
        plain_check = self._plain_check
        if plain_check is not None:
            if record.keys() == self._schema_keys and self._schema_keys_exclude_sdc:
                self.schema_keyed_record = record
            else:
                self.schema_keyed_record = None
                if not _SDC_COLUMNS.isdisjoint(record):
                    self._remove_sdc_metadata_from_record(record)
            try:
                plain_check(record)
            except Exception:  # invalid (or worse): the SDK path reports it
                self._validate_and_parse(record)
                self.check_key_properties(record)
        else:
            record = self._checked(record, message, context)
        # `tally_record_read`, inlined; the total is added per batch (`mark_drained`)
        self._batch_records_read = count = self._batch_records_read + 1
        self.process_record(record, context)
        return count >= (self._full_at or self.max_size)

    def take_run(self, records: list[dict[str, Any]], start: int, most: int) -> int:
        """`take_record` for at most `most` records from `start` on, up to where the batch is
        full; how many it took: all of those, or none (0) when `run_check` cannot vouch for
        each or `process_record_run` declines them.

        Those records are each a record `take_record` takes by its short branch: checked,
        with the schema's properties and no others, so no metadata column to remove. Until
        both answers are yes nothing changes but the batch's start, which the first record
        would make too, so the caller can take the same records one by one instead.
        """
        context = self._pending_batch or self._start_batch_context(records[start])
        end = start + min(most, self._full_at - self._batch_records_read)
        part = records[start:end] if start or end < len(records) else records
        if not part or not self.run_check(part):  # type: ignore[misc]
            return 0
        self.schema_keyed_record = None
        if not self.process_record_run(part, context):
            return 0
        # `tally_record_read` for each, as in `take_record`
        self._batch_records_read += len(part)
        return len(part)

    def process_record_run(self, records: list[dict[str, Any]], context: dict[str, Any]) -> bool:
        """`process_record` for each of `records`, all checked and with exactly the schema's
        properties; or False, having changed nothing, to have them taken one by one (they and
        the rest of their run).

        Only a sink whose `takes_runs` is true gets here (`run_check`).
        """
        return False

    def takes_runs(self) -> bool:
        """Whether `process_record_run` does what `process_record` would do for each record:
        by default, whether a subclass overrides it at all."""
        return type(self).process_record_run is not SinkOverrides.process_record_run

    def _checked(
        self, record: dict[str, Any], message: dict[str, Any], context: dict[str, Any]
    ) -> dict[str, Any]:
        """`take_record`'s steps up to the key check, for any sink; the record to process."""
        self.schema_keyed_record = None
        if self._include_sdc:
            self._add_sdc_metadata_to_record(record, message, context)
        elif not _SDC_COLUMNS.isdisjoint(record):
            self._remove_sdc_metadata_from_record(record)
        keys_checked = False
        check = self._fast_check
        if check is not None:
            try:
                check(record)
            except Exception:  # invalid (or worse): the SDK path reports it
                self._validate_and_parse(record)
            else:
                keys_checked = self._check_sees_keys
        elif self._validator is not None:
            self._validate_and_parse(record)
        if self._preprocesses:
            record = self.preprocess_record(record, context)
            keys_checked = False
        if not keys_checked:
            self.check_key_properties(record)
        return record

    def _start_batch_context(self, record: dict[str, Any]) -> dict[str, Any]:
        """`_get_context` for the first record of a batch, which also reads `max_size`."""
        self._full_at = self.max_size
        return self._get_context(record)

    @override
    def mark_drained(self) -> None:
        """The SDK's reset after a drain, counting the batch's records in its record counter
        and its record total (`_total_records_read`).

        The SDK increments both once per record (a method call, a clock read); counted per
        batch, the totals are the same and a metric line lags by at most one batch.
        """
        if self._batch_records_read:
            self._total_records_read += self._batch_records_read
            self.record_counter_metric.increment(self._batch_records_read)
        super().mark_drained()

    @override
    def _parse_timestamps_in_record(
        self, record: dict[str, Any], schema: dict[str, Any], treatment: DatetimeErrorTreatmentEnum
    ) -> None:
        """Keep timestamps as the tap wrote them.

        The SDK would turn every date-time string into a Python object, inspecting the schema
        of every property of every record, only for this target to turn it back into text:
        the largest cost per record. The compiled validator already checks that each such
        string parses (see `validation.py`), and Emarsys takes the ISO 8601 text itself.
        """

    @override
    def _singer_validate_message(self, record: dict[str, Any]) -> None:
        """The SDK's key check, as `check_key_properties`."""
        self.check_key_properties(record)

    def check_key_properties(self, record: dict[str, Any]) -> None:
        """Raise when `record` lacks a key property."""
        raise NotImplementedError

    @override
    def _after_process_record(self, context: dict[str, Any]) -> None:
        """Nothing per record (the SDK logs a debug line for each one)."""

    @property
    @override
    def is_full(self) -> bool:
        """The batch holds `max_size` records (checked after every record, so kept cheap)."""
        return self._batch_records_read >= self.max_size

    @property
    @override
    def include_sdc_metadata_properties(self) -> bool:
        """The `add_record_metadata` setting, read once (the SDK reads it for every record)."""
        return self._include_sdc
