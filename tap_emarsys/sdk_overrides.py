"""Every private singer-sdk member the tap overrides or relies on, in one module.

Mirrors singer-sdk 0.54.x. The SDK's public hooks do not reach three things the tap needs:
ACTIVATE_VERSION only after a whole snapshot (`snapshots.py`), a RECORD path without the SDK's
per-record passes (the export streams type every value once, from the header), and a STATE
that moves per export window, not per record. The private members those need are overridden
or called here and nowhere else; the rest of the tap speaks only to these classes' public
methods. `tests/tap/test_sdk_guard.py` pins the source of every SDK member named below: when
an SDK upgrade changes one, that test fails naming it, and this module is re-checked against
the new SDK before the pin moves.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import msgspec
from singer_sdk import Stream, Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from emarsys_api import PermissionDeniedError
from emarsys_singer.command_errors import UserFacingError
from emarsys_singer.stream_maps import is_identity
from emarsys_singer.stream_maps import transform as map_record
from tap_emarsys.stream_errors import StreamPermissionDeniedError

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.mapper import StreamMap
    from singer_sdk.singerlib import Message

#: The singer-sdk series these overrides mirror.
SDK_SERIES = "0.54"

#: The SDK members this module overrides or relies on, and what to re-check when one changes.
MIRRORED: Mapping[str, str] = {
    "singer_sdk.streams.core.Stream._sync_records": (
        "StreamOverrides._sync_records wraps it: it must still run the whole stream (child "
        "streams included), write the stream's ACTIVATE_VERSION only when "
        "emit_activate_version_messages is true, and use self._stream_version for RECORDs. "
        "TypedRecordWriting.plain_loop mirrors it for one partition: the same calls before and "
        "after the records, per record what plain_loop_applies says is all it does"
    ),
    "singer_sdk.streams.core.Stream._process_record": (
        "plain_loop skips it: without a partition context and child streams it must do nothing"
    ),
    "singer_sdk.streams.core.Stream._check_max_record_limit": (
        "plain_loop skips it: it must do nothing while ABORT_AT_RECORD_COUNT is None"
    ),
    "singer_sdk.streams.core.Stream._get_state_partition_context": (
        "plain_loop calls it as _sync_records does, for the context None"
    ),
    "singer_sdk.streams.core.Stream._write_starting_replication_value": (
        "plain_loop calls it as _sync_records does, before the first record"
    ),
    "singer_sdk.streams.core.Stream._finalize_state": (
        "plain_loop calls it as _sync_records does, after the last record"
    ),
    "singer_sdk.mapper.SameRecordTransform.transform": (
        "plain_loop skips it when emarsys_singer.stream_maps.is_identity: it must still return "
        "its record unchanged while flattening is off"
    ),
    "singer_sdk.mapper.StreamMap.flatten_record": (
        "SameRecordTransform.transform returns through it: it must return its record as it is "
        "while flattening is off"
    ),
    "singer_sdk.streams.core.Stream._write_record_message": (
        "TypedRecordWriting._write_record_message replaces it: same RECORD messages (stream "
        "maps, stream alias, version), and state_manager.is_flushed still set False"
    ),
    "singer_sdk.singerlib.encoding.simple.RecordMessage.to_dict": (
        "record_messages mirrors it: the keys and their order, version only when set"
    ),
    "singer_sdk.singerlib.encoding.simple.RecordMessage.__post_init__": (
        "instant_text mirrors it: time_extracted converted to UTC before it is encoded"
    ),
    "singer_sdk.plugin_base.BaseSingerWriter.write_message": (
        "TypedRecordWriting writes RECORDs to self._tap.message_writer directly: this must "
        "still do nothing but hand the message to message_writer"
    ),
    "singer_sdk.streams.core.Stream._generate_record_messages": (
        "TypedRecordWriting skips it: it may only pop deselected properties and conform types "
        "(the export streams leave deselected columns out and type every value themselves)"
    ),
    "singer_sdk.streams.core.Stream._increment_stream_state": (
        "WindowBookmarks._increment_stream_state turns it off: the bookmark is the end of the "
        "last fully written window, set in unit_written"
    ),
    "singer_sdk.streams.core.Stream._write_state_message": (
        "StreamOverrides.write_state_now calls it: it must still write tap_state when "
        "state_manager.is_flushed is False"
    ),
    "singer_sdk.streams.core.Stream._write_activate_version_message": (
        "StreamOverrides._sync_records calls it after a complete snapshot"
    ),
    "singer_sdk.streams.core.Stream.__init__": (
        "the overrides use self._tap (write_message, streams) and self._stream_version"
    ),
    "singer_sdk.plugin_base.PluginBase._validate_config": (
        "TapOverrides._validate_config types self._config first (prepare_config), then calls it"
    ),
    "singer_sdk.tap_base.Tap._handle_termination": (
        "TapOverrides._handle_termination replaces it (stop_for_signal): exit 128 + signal "
        "instead of the SDK's state write from the handler and exit 0"
    ),
    "singer_sdk.contrib.msgspec.serialize_jsonl": (
        "encode_record_into mirrors it (the module's `encoder`, one line per message)"
    ),
    "singer_sdk.contrib.msgspec.MsgSpecWriter.serialize_message": (
        "encode_record_into must produce the same bytes as this for a RECORD message"
    ),
    "singer_sdk.plugin_base._ConfigInput": (
        "config_input_settings reads its `config` and `parse_env` (the parsed --config option)"
    ),
}


class StreamOverrides(Stream):
    """The private `Stream` members every tap stream needs (singer-sdk 0.54.x).

    `_sync_records` is where all of a stream's requests and records run (`Stream.sync` is
    final): the one place to end a complete snapshot with ACTIVATE_VERSION and to name the
    stream in a missing-permission error.
    """

    @property
    def activates_versions(self) -> bool:
        """Whether a complete sync of this stream ends with ACTIVATE_VERSION (default: no)."""
        return False

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        activate = write_messages and self.activates_versions
        if activate:
            # Milliseconds: a later run always carries a larger version than an earlier one.
            self._stream_version = time.time_ns() // 1_000_000
        try:
            result = yield from self.record_loop(context, write_messages=write_messages)
        except PermissionDeniedError as error:
            if isinstance(error, StreamPermissionDeniedError):
                raise
            raise StreamPermissionDeniedError(self.name, error) from None
        if activate and self._stream_version is not None:
            self._write_activate_version_message(self._stream_version)
        return result

    def record_loop(
        self, context: Context | None, *, write_messages: bool
    ) -> Generator[dict[str, Any], Any, Any]:
        """Where the records are read, written and yielded (default: the SDK's loop)."""
        return super()._sync_records(context, write_messages=write_messages)

    def write_message(self, message: Message) -> None:
        """Write one Singer message through the tap's writer."""
        self._tap.write_message(message)

    def tap_streams(self) -> Iterable[Stream]:
        """Every stream of the tap (selected or not)."""
        return self._tap.streams.values()

    def write_state_now(self) -> None:
        """Write the tap's STATE now (after this stream's bookmark moved)."""
        self.state_manager.is_flushed = False
        self._write_state_message()


class StreamMapKeyError(UserFacingError):
    """A stream map gave a record without a value for one of its key properties."""


def mapped_key_checks(stream: str, maps: Iterable[StreamMap]) -> list[Callable[[Record], None]]:
    """Per map of `stream`, what refuses a mapped record whose key property is null or absent.

    A stream map may set a key property to an expression (`"None"`) or name a nullable column
    in `__key_properties__`; the loader would get records it cannot key. An identity map keeps
    the stream's own key properties, which the export streams never leave empty: no check.
    """

    def check(keys: tuple[str, ...], alias: str) -> Callable[[Record], None]:
        def refuse_null_keys(mapped: Record) -> None:
            for key in keys:
                if mapped.get(key) is None:
                    msg = (
                        f"stream {stream}: the stream map (stream_maps setting) gives a "
                        f"{alias} record whose key property {key} is null; map {key} to a "
                        "value that is never null, or name other key properties in "
                        "__key_properties__"
                    )
                    raise StreamMapKeyError(msg)

        return refuse_null_keys

    return [
        (lambda _: None)
        if is_identity(stream_map)
        else check(tuple(stream_map.transformed_key_properties or ()), stream_map.stream_alias)
        for stream_map in maps
    ]


class RecordLineWriter(MsgSpecWriter):
    """A msgspec writer that also takes RECORD messages as the dicts `record_messages` builds.

    Building a `RecordMessage` per record (its `__post_init__` converts the time to UTC) and
    turning it back into a dict costs more than the record's own typing; the export streams
    hand the writer the dict directly.
    """

    def write_record(self, message: dict[str, Any]) -> None:
        """Write one RECORD message given as `record_messages` built it."""
        self.write_message(
            RecordMessage(
                stream=message["stream"],
                record=message["record"],
                version=message.get("version"),
                time_extracted=dt.datetime.fromisoformat(message["time_extracted"]),
            )
        )


class TypedRecordWriting(StreamOverrides):
    """RECORD messages without the SDK's per-record passes (singer-sdk 0.54.x).

    The SDK walks every record to drop deselected properties and to conform types, and stamps
    each with the current time; an export stream already left deselected columns out and typed
    every value, so each record goes straight to the stream maps (which work as usual) and the
    writer, stamped with the time its export was read (`time_extracted`, encoded once per
    export instead of once per record).

    When nothing in the SDK's record loop has work to do per record (`plain_loop_applies`), the
    records run through `plain_loop` instead: the SDK's loop for one partition, with only the
    steps that do something for an export stream.
    """

    _time_extracted: dt.datetime
    _time_extracted_text: str

    #: Records counted locally between two increments of the SDK's record counter.
    COUNT_EVERY = 1000

    @property
    def time_extracted(self) -> dt.datetime:
        """When the export being written was read (every RECORD of it carries this time)."""
        return self._time_extracted

    @time_extracted.setter
    def time_extracted(self, moment: dt.datetime) -> None:
        self._time_extracted = moment
        self._time_extracted_text = instant_text(moment)

    @cached_property
    def key_checks(self) -> list[Callable[[Record], None]]:
        """Per stream map, what refuses a mapped record with a null key (`mapped_key_checks`)."""
        return mapped_key_checks(self.name, self.stream_maps)

    @override
    def _write_record_message(self, record: Record) -> None:
        writer = self._tap.message_writer
        checks = self.key_checks
        if not isinstance(writer, RecordLineWriter):
            for stream_map, check in zip(self.stream_maps, checks, strict=True):
                mapped = map_record(stream_map, record)
                if mapped is not None:
                    check(mapped)
                    writer.write_message(
                        RecordMessage(
                            stream=stream_map.stream_alias,
                            record=mapped,
                            version=self._stream_version,
                            time_extracted=self._time_extracted,
                        )
                    )
            self.state_manager.is_flushed = False
            return
        write = writer.write_record
        extracted = self._time_extracted_text
        for stream_map, check in zip(self.stream_maps, checks, strict=True):
            mapped = map_record(stream_map, record)
            if mapped is not None:
                check(mapped)
                message = record_messages(stream_map.stream_alias, self._stream_version)
                write(message(mapped, extracted))
        self.state_manager.is_flushed = False

    @override
    def record_loop(
        self, context: Context | None, *, write_messages: bool
    ) -> Generator[dict[str, Any], Any, Any]:
        if self.plain_loop_applies(context, write_messages=write_messages):
            return self.plain_loop()
        return super().record_loop(context, write_messages=write_messages)

    def plain_loop_applies(self, context: Context | None, *, write_messages: bool) -> bool:
        """Whether `Stream._sync_records` would do nothing per record but write and count it.

        That is: one partition (no context), records written (selected, `write_messages`),
        no `--test` record limit, no `post_process`, no per-record bookmark, no child stream,
        no subclass overriding a per-record step, one stream map that hands records on
        unchanged, and the tap's own writer.
        """
        maps = self.stream_maps
        cls = type(self)
        return (
            context is None
            and not self.partitions
            and write_messages
            and self.selected
            and self.ABORT_AT_RECORD_COUNT is None
            # the per-record steps it leaves out are the ones this module knows
            and cls.post_process is Stream.post_process
            and cls._process_record is Stream._process_record
            and cls._check_max_record_limit is Stream._check_max_record_limit
            and cls._write_record_message is TypedRecordWriting._write_record_message
            and (
                cls._increment_stream_state is WindowBookmarks._increment_stream_state
                or (
                    cls._increment_stream_state is Stream._increment_stream_state
                    and self.replication_method != "INCREMENTAL"
                )
            )
            and not self.child_streams
            and len(maps) == 1
            and is_identity(maps[0])
            and isinstance(self._tap.message_writer, RecordLineWriter)
        )

    def plain_loop(self) -> Generator[dict[str, Any], Any, Any]:
        """`Stream._sync_records` for one partition, keeping only what has work to do.

        Per record, it writes the RECORD message and marks the state unflushed, as
        `_write_record_message` does, and writes STATE every `STATE_MSG_FREQUENCY` records, as
        the SDK does; the record counter is incremented every `COUNT_EVERY` records and at the
        end, so a progress line (due once a minute) may wait for the next `COUNT_EVERY`th
        record, while the totals stay the SDK's. Before and after the records, the SDK's own
        calls in the SDK's order.
        """
        counter, timer = self.get_record_counter(), self.get_sync_timer()
        state_every, count_every = self.STATE_MSG_FREQUENCY, self.COUNT_EVERY
        state = self.state_manager
        write = cast("RecordLineWriter", self._tap.message_writer).write_record
        message = record_messages(self.stream_maps[0].stream_alias, self._stream_version)
        written = 0
        with counter, timer:
            counter.with_context({})
            timer.with_context({})
            partition_context = self._get_state_partition_context(None)
            self._write_starting_replication_value(None)
            # export streams yield records, never the SDK's deprecated (record, context) pairs
            records = cast("Iterable[Record]", self.get_records(None))
            try:
                for record in records:
                    write(message(record, self._time_extracted_text))
                    state.is_flushed = False
                    # the SDK's order: the record counts once the STATE after it is written
                    if not (written + 1) % state_every:
                        self._write_state_message()
                    written += 1
                    if not written % count_every:
                        counter.increment(count_every)
                    yield record
            finally:
                counter.increment(written % count_every)
            if partition_context is None:
                self._finalize_state(self.get_context_state(None))
        self._finalize_state(self.stream_state)
        self._write_state_message()


class WindowBookmarks(StreamOverrides):
    """A bookmark that is the end of the last fully written window, never a record value.

    Rows inside a window are not ordered by time, so the SDK's per-record state increment is
    off; the stream moves the bookmark and calls `write_state_now` once a window is written.
    """

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        return


class TapOverrides(Tap):
    """The private `Tap` members the tap overrides (singer-sdk 0.54.x), as two public hooks."""

    def prepare_config(self, config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
        """The config to validate, from the config as read (default: unchanged).

        Args:
            config: the settings as read.
            schema: the full settings schema (the SDK's built-in settings included).
        """
        return config

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        schema = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(schema)
        self._config = self.prepare_config(dict(self._config), schema)
        return super()._validate_config(raise_errors=raise_errors)

    def stop_for_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT arrived (default: the SDK's handling)."""
        super()._handle_termination(signum, None)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.stop_for_signal(signum)


def record_messages(stream: str, version: int | None) -> Callable[[Record, str], dict[str, Any]]:
    """What builds `RecordMessage(...).to_dict()` for `stream`'s records, given the time
    already encoded by `instant_text`: the keys in the SDK's order, `version` only when set."""
    if version is None:

        def unversioned(record: Record, time_extracted: str) -> dict[str, Any]:
            return {
                "type": "RECORD",
                "stream": stream,
                "record": record,
                "time_extracted": time_extracted,
            }

        return unversioned

    def versioned(record: Record, time_extracted: str) -> dict[str, Any]:
        return {
            "type": "RECORD",
            "stream": stream,
            "record": record,
            "version": version,
            "time_extracted": time_extracted,
        }

    return versioned


def instant_text(moment: dt.datetime) -> str:
    """The text the SDK's writer writes for `moment` as a RECORD's `time_extracted` (UTC)."""
    text: str = msgspec.json.decode(encoder.encode(moment.astimezone(dt.timezone.utc)))
    return text


def encode_record_into(message: RecordMessage | dict[str, Any], block: bytearray) -> None:
    """Append one RECORD line to `block`, byte for byte what the SDK's msgspec writer writes.

    `MsgSpecWriter` encodes each message into a shared buffer and returns it; appending
    straight into the writer's block (offset -1 = at the end) saves a copy per record.
    """
    encoder.encode_into(message if isinstance(message, dict) else message.to_dict(), block, -1)
    block += b"\n"


def config_input_settings(value: object) -> tuple[dict[str, Any], bool]:
    """The settings and the env-parsing flag of the SDK's parsed `--config` option value."""
    return dict(getattr(value, "config", None) or {}), bool(getattr(value, "parse_env", False))
