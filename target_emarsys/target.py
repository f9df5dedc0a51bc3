"""target-emarsys: settings, the sink for each stream, and when STATE may leave."""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, InvalidInputLine
from singer_sdk.helpers.capabilities import TargetLoadMethods

from emarsys_api import ClientSettings, ConfigurationError, EmarsysClient
from emarsys_singer.command_errors import with_one_line_errors
from emarsys_singer.connection_settings import CONNECTION_SETTINGS
from emarsys_singer.process_end import run_as_process
from emarsys_singer.sdk_settings import check_sdk_settings
from emarsys_singer.stop_signals import SignalStop
from target_emarsys.destinations import (
    TARGET_SFTP,
    BehaviorDestination,
    ContactsDestination,
    Destination,
    parse_destination,
    parse_destinations,
)
from target_emarsys.in_flight import AcknowledgedStates, RequestPool
from target_emarsys.reader import SingerLineReader
from target_emarsys.rejects import RejectedRows, default_rejects_path
from target_emarsys.sdk_overrides import TargetOverrides
from target_emarsys.sinks import BehaviorSink, ContactsSink, RelationalFileSink, RelationalSink
from target_emarsys.sinks.context import WriteContext

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Sequence
    from concurrent.futures import Future
    from pathlib import PurePath

    from singer_sdk.sinks import Sink

    from target_emarsys.sinks.base import EmarsysSink

_DESTINATION = th.ObjectType(
    th.Property(
        "type",
        th.StringType,
        required=True,
        description="`relational` (an RDS table), `behavior` (HDS events) or `contacts`.",
    ),
    th.Property(
        "table", th.StringType, description="relational: RDS table (default: stream name)."
    ),
    th.Property(
        "connection",
        th.StringType,
        description="relational: RDS connection (default: the `rds_connection` setting).",
    ),
    th.Property(
        "via",
        th.StringType,
        allowed_values=["api", "sftp"],
        description="relational: `api` (RDS requests, default) or `sftp` (CSV files on the "
        "`rds_sftp_*` server, one per `csv_batch_rows` records).",
    ),
    th.Property(
        "mode",
        th.StringType,
        allowed_values=["append", "overwrite"],
        description="relational via sftp: `append` or `overwrite`, said by the file names "
        "(default: `overwrite` when `load_method` is overwrite, else `append`).",
    ),
    th.Property("provider", th.StringType, description="behavior: event provider, e.g. `sendkit`."),
    th.Property("channel", th.StringType, description="behavior: channel, e.g. `email`."),
    th.Property("campaign_type", th.StringType, description="behavior: campaign type, e.g. `txn`."),
    th.Property("event_type", th.StringType, description="behavior: event type, e.g. `open`."),
    th.Property(
        "key_field",
        th.StringType,
        description="contacts: the field contacts are matched by (string id such as `email`, "
        "or numeric field id).",
    ),
)


class TargetEmarsys(TargetOverrides):
    """Writes Singer streams into Emarsys RDS tables, behavior events and contacts."""

    name = "target-emarsys"
    package_name = "emarsys-singer"
    message_reader_class = SingerLineReader

    config_jsonschema = th.PropertiesList(
        *CONNECTION_SETTINGS,
        th.Property(
            "rds_connection",
            th.StringType,
            description="RDS connection of relational destinations that name none.",
        ),
        th.Property(
            "customer_id",
            th.StringType(pattern=r"^\d+$"),
            description="Emarsys customer id (digits): the path of behavior-data requests.",
        ),
        th.Property(
            "max_parallel_requests",
            th.IntegerType(minimum=1, maximum=32),
            default=4,
            description="Write requests in flight at once (the client honours rate limits).",
        ),
        th.Property(
            "on_record_error",
            th.StringType,
            default="fail",
            allowed_values=["fail", "log"],
            description="A row Emarsys (or the target's checks) rejects: `fail` stops with an "
            "error naming stream, key and reason; `log` keeps it in the rejected-rows file "
            "and continues.",
        ),
        th.Property(
            "rejected_rows_path",
            th.StringType,
            description="JSON-lines file for rows rejected under `on_record_error: log` "
            "(default: `target-emarsys-rejected-<UTC time>.jsonl` in the working directory).",
        ),
        th.Property(
            "stream_destinations",
            th.ObjectType(additional_properties=_DESTINATION),
            description="Stream name -> destination object. A stream not named goes to the "
            "RDS table of the same name in `rds_connection`.",
        ),
        th.Property(
            "csv_batch_rows",
            th.IntegerType(minimum=1),
            default=100_000,
            description="Relational destinations with `via: sftp`: records per CSV file.",
        ),
        *TARGET_SFTP.properties(),  # rds_sftp_host ... rds_sftp_host_key, worded as the tap's
        # The SDK's own `load_method`, without its `append-only` default: upsert is the
        # default for streams with key properties, append-only for the others.
        th.Property(
            "load_method",
            th.StringType,
            allowed_values=[
                TargetLoadMethods.APPEND_ONLY,
                TargetLoadMethods.UPSERT,
                TargetLoadMethods.OVERWRITE,
            ],
            description="Relational destinations: `upsert` (default for streams with key "
            "properties), `append-only` (insert; rows clashing with the table's key are "
            "skipped and counted; default without keys) or `overwrite` (the first request "
            "replaces the table, later ones insert).",
        ),
    ).to_dict()

    def __init__(
        self,
        *,
        config: dict[str, Any] | PurePath | str | list[PurePath | str] | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        message_reader: Any = None,
        client: EmarsysClient | None = None,
    ) -> None:
        """Check the destinations and credentials before any input is read.

        Args:
            config: The SDK's `config` (a mapping or the paths of config files).
            parse_env_config: Also read settings from environment variables.
            validate_config: Check `config` against `config_jsonschema`.
            setup_mapper: Set up stream maps now.
            message_reader: The SDK's reader of Singer input.
            client: The client the sinks write through; by default one built from `config`
                (tests hand in a recording stand-in here). The credentials are checked
                either way.
        """
        super().__init__(
            config=config,
            parse_env_config=parse_env_config,
            validate_config=validate_config,
            setup_mapper=setup_mapper,
            message_reader=message_reader,
        )
        rows = self.config.get("batch_size_rows")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
            # The SDK's setting has no minimum: a negative one meant one row a request (0, like
            # unset, means the default, 1000).
            raise ConfigurationError(
                f"`batch_size_rows` must be a whole number, 0 (the default) or more, got {rows!r}.",
                setting="batch_size_rows",
            )
        self._destinations = parse_destinations(self.config)
        try:
            settings = ClientSettings.from_config(self.config)
        except ConfigurationError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from exc
        self._pool = RequestPool(int(self.config.get("max_parallel_requests") or 4))
        rejects_path = self.config.get("rejected_rows_path")
        rejects = RejectedRows(Path(rejects_path) if rejects_path else default_rejects_path())
        if self.config.get("on_record_error") == "log":
            rejects.check()  # an unusable path stops the run here, not at the first rejection
        self._states = AcknowledgedStates(self.write_state_line)
        self.write_context = WriteContext(
            client=client if client is not None else EmarsysClient(settings),
            destination_for=self.destination_for,
            pool=self._pool,
            rejects=rejects,
            release_state=self.emit_acknowledged_state,
            request_done=self.state_callback,
        )
        """What every sink writes with (`target_emarsys.sinks.context`)."""

    @override
    def check_config(self, config: dict[str, Any]) -> None:
        """The SDK's own settings the SDK does not check clearly (`check_sdk_settings`)."""
        check_sdk_settings(config)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, printing the project's errors as one line (exit status 1)."""
        return with_one_line_errors(super().get_singer_command(), cls.logger)

    def destination_for(self, stream_name: str) -> Destination:
        """Where `stream_name` goes (a stream not configured goes to the same-named table).

        Raises:
            InvalidInputLine: The stream has an empty name and no configured destination: the
                input's fault, not the config's (the reader names the line).
        """
        if stream_name not in self._destinations:
            if not stream_name:
                msg = (
                    "the stream's name is empty, so no table can be named after it; have the "
                    'tap name its streams, or give stream_destinations[""] a destination'
                )
                raise InvalidInputLine(msg)
            self._destinations[stream_name] = parse_destination(stream_name, None, self.config)
        return self._destinations[stream_name]

    @override
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """One sink class per destination kind."""
        destination = self.destination_for(stream_name)
        if isinstance(destination, BehaviorDestination):
            return BehaviorSink
        if isinstance(destination, ContactsDestination):
            return ContactsSink
        if destination.via == "sftp":
            return RelationalFileSink
        return RelationalSink

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        key_properties: Sequence[str] | None = None,
    ) -> Sink:
        """On a schema change, write the old sink's rows before the new sink sends any.

        The SDK keeps a replaced sink's rows until the next full drain; sent after the new
        sink's, an older value could overwrite a newer one with the same key.
        """
        if schema is None:  # every record: keep it cheap
            return self._sinks_active[stream_name]
        replaced = len(self._sinks_to_clear)
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if len(self._sinks_to_clear) > replaced:
            for old in self._sinks_to_clear[replaced:]:
                self.drain_one(old)
            self._pool.wait_all()
        return sink

    @override
    def process_batch_message(self, message_dict: dict[str, Any]) -> None:
        """Refused: the rows of BATCH files would bypass the record checks."""
        msg = (
            f"stream '{message_dict['stream']}' is sent as a BATCH message, but target-emarsys "
            "does not read Singer BATCH files; configure the tap to send RECORD messages"
        )
        raise InvalidInputLine(msg)

    # STATE: released only when every record before it is acknowledged by Emarsys.

    @override
    def hold_state(self, state: dict[str, Any], sinks: list[Sink]) -> None:
        """Hold the STATE with how many records each sink has received so far."""
        emarsys_sinks: list[EmarsysSink] = sinks  # type: ignore[assignment]
        self._states.hold(state, [(sink.acks, sink.records_taken) for sink in emarsys_sinks])
        self.emit_acknowledged_state()

    def state_callback(self, _: Future[Any]) -> None:
        """Done-callback of every request: emit STATE as soon as its records are acknowledged."""
        if not self._pool.failed:
            self._states.release_ready()

    def emit_acknowledged_state(self) -> None:
        """Emit the newest STATE whose records Emarsys has all acknowledged (never blocks)."""
        self._pool.raise_if_failed()
        self._states.release_ready()

    @override
    def write_state_after_drain(self, state: dict[str, Any]) -> None:
        """After a full drain: wait for every request in flight, then emit what is covered.

        Every STATE was held when it arrived, so this writes the newest one whose records are
        all acknowledged; should any record before it be unacknowledged, it stays unwritten.
        """
        self._pool.wait_all()
        self._states.release_ready()
        if self._states.held:
            self.logger.warning(
                "%d STATE message(s) withheld: records before them were not acknowledged",
                self._states.held,
            )

    @cached_property
    def signal_stop(self) -> SignalStop:
        """How a SIGTERM/SIGINT ends the process for sure."""
        return SignalStop()

    @override
    def stop_on_signal(self, signum: int) -> None:
        """Stop at once on SIGTERM/SIGINT instead of draining inside the signal handler.

        The SDK drains every sink from the handler, which can run while the reading thread
        holds a lock the drain needs (a request's future, the STATE gate) and then waits
        forever. Stopping is safe: every STATE already written covers only acknowledged
        records, and a rerun from it sends the rest again (upserts make that idempotent).

        The exit lets requests in flight finish (their STATE may still be written); the
        process ends regardless `STOP_GRACE` seconds after the signal, and at once at a second
        one (`emarsys_singer.stop_signals`).
        """
        self.signal_stop.arrived(signum)
        self.logger.warning(
            "Received signal %d: stopping now; the last STATE written covers every record "
            "Emarsys acknowledged, and a rerun from it sends the rest",
            signum,
        )
        raise SystemExit(128 + signum)

    @override
    def process_endofpipe(self) -> None:
        """Drain, wait for every request, summarise rejected rows, stop the request threads."""
        try:
            super().process_endofpipe()
            self._pool.wait_all()
        finally:
            self._pool.shutdown()
            self.write_context.rejects.close()


def main() -> None:
    """The `target-emarsys` command, as its console script runs it."""
    run_as_process(TargetEmarsys.cli)
