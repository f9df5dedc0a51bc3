"""tap-emarsys: settings and the stream list."""

from __future__ import annotations

import io
import signal
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, ClassVar

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import EMIT_ACTIVATE_VERSION_CONFIG, PluginCapabilities
from typing_extensions import override

from emarsys_api import ConfigurationError
from emarsys_api.settings import typed_config
from emarsys_singer.command_errors import SdkSyncErrorLine, with_one_line_errors
from emarsys_singer.connection_settings import CONNECTION_SETTINGS, DOWNLOAD_RATE_SETTING
from emarsys_singer.process_end import run_as_process
from emarsys_singer.sdk_settings import check_sdk_settings
from emarsys_singer.stop_signals import SignalStop
from tap_emarsys.account import Account
from tap_emarsys.catalog_file import check_key_properties, read_catalog_file
from tap_emarsys.delivery_settings import TAP_SFTP
from tap_emarsys.report import report_option
from tap_emarsys.sdk_overrides import TapOverrides
from tap_emarsys.state_file import check_state, read_state_file
from tap_emarsys.streams import STREAM_TYPES
from tap_emarsys.writer import BlockMsgSpecWriter, StoppedBySignal

if TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.helpers.capabilities import CapabilitiesEnum


class TapEmarsys(TapOverrides):
    """Singer tap for Emarsys: contact and email data through the asynchronous CSV exports."""

    name = "tap-emarsys"
    package_name = "emarsys-singer"
    message_writer_class = BlockMsgSpecWriter
    dynamic_catalog = True
    # Not BATCH: the streams write their bookmark in get_records, while the SDK's batch mode
    # writes a file only every 10,000 records, so a STATE could cover records in no file.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        capability for capability in Tap.capabilities if capability != PluginCapabilities.BATCH
    ]

    config_jsonschema = th.PropertiesList(
        *CONNECTION_SETTINGS,
        DOWNLOAD_RATE_SETTING,
        th.Property(
            "start_date",
            th.StringType,
            required=True,
            description=(
                "ISO 8601 date or timestamp the time-ranged exports start from on the first "
                "run (without offset: read in `timezone`)."
            ),
        ),
        th.Property(
            "end_date",
            th.StringType,
            description="ISO 8601 exclusive end of the time-ranged exports; default now.",
        ),
        th.Property(
            "contact_fields",
            th.ArrayType(th.CustomType({"type": ["string", "integer"]})),
            description=(
                "Contact fields the exports carry, as field ids (`3`) or string ids "
                "(`email`); more than 20 are exported in groups and joined. Default: 1, 2, 3."
            ),
        ),
        th.Property(
            "member_key_field",
            th.CustomType({"type": ["string", "integer"]}),
            default="email",
            description=(
                "Contact field (id or string id) member exports always carry; when a list or "
                "segment export has no user_id column, contact ids are looked up by it "
                "(contact/getdata). Use a field unique per contact."
            ),
        ),
        th.Property(
            "contact_list_ids",
            th.ArrayType(th.IntegerType),
            description=(
                "Contact lists whose members contact_list_members exports, by id; empty or "
                "unset: every list. Partitions of one account name disjoint ids."
            ),
        ),
        th.Property(
            "segment_ids",
            th.ArrayType(th.IntegerType),
            description=(
                "Segments whose members segment_members exports, by id; empty or unset: every "
                "segment. Partitions of one account name disjoint ids."
            ),
        ),
        th.Property(
            "export_window_days",
            th.IntegerType,
            default=7,
            description="Days per export window of the time-ranged streams (bookmark step).",
        ),
        th.Property(
            "max_concurrent_exports",
            th.IntegerType,
            default=4,
            description="Exports Emarsys builds at once for one stream.",
        ),
        th.Property(
            "export_poll_interval",
            th.NumberType,
            default=5,
            description="Seconds between export status checks.",
        ),
        th.Property(
            "export_timeout",
            th.NumberType,
            default=3600,
            description="Seconds an export may take to build before the run fails.",
        ),
        th.Property(
            "export_ready_grace",
            th.NumberType,
            default=60,
            description=(
                "Seconds a local export (delivery api or webdav) may stay `ready` before its "
                "file is tried anyway: some accounts never report `done`. A 404 means not yet; "
                "waiting goes on up to export_timeout."
            ),
        ),
        th.Property(
            "timezone",
            th.StringType,
            description=(
                "IANA time zone the account renders naive timestamps in; default: the "
                "account's own (GET /settings), else Europe/Vienna. Timestamps are emitted "
                "in UTC."
            ),
        ),
        th.Property(
            "delivery",
            th.StringType,
            default="api",
            allowed_values=["api", "webdav", "sftp"],
            description=(
                "How finished export files are fetched: `api` (GET /export/{id}/data), `webdav` "
                "(Emarsys Storage) or `sftp` (Emarsys uploads to your SFTP server)."
            ),
        ),
        th.Property(
            "webdav_url",
            th.StringType,
            description="Emarsys Storage WebDAV folder the export files appear in (webdav).",
        ),
        th.Property(
            "webdav_username",
            th.StringType,
            description="Emarsys Storage WebDAV user (not the API user).",
        ),
        th.Property(
            "webdav_password",
            th.StringType,
            secret=True,
            description="Emarsys Storage WebDAV password.",
        ),
        *TAP_SFTP.properties(),  # sftp_host ... sftp_host_key, worded as the target's
        # The tap's alone: only it reads files Emarsys left on the server.
        th.Property(
            "sftp_delete_after_read",
            th.BooleanType,
            default=False,
            description="Delete each export file from the SFTP server once it was read.",
        ),
        th.Property(
            "notification_url",
            th.StringType,
            description=(
                "URL Emarsys calls when an export is finished (reaching notification_listen); "
                "polling continues 3x slower as a fallback."
            ),
        ),
        th.Property(
            "notification_listen",
            th.StringType,
            description="host:port the tap listens on for export notifications.",
        ),
        # The SDK's own declaration: undeclared, Meltano passed it as text and "false" was true.
        th.Property(
            "emit_activate_version_messages",
            th.CustomType(
                EMIT_ACTIVATE_VERSION_CONFIG["properties"]["emit_activate_version_messages"]
            ),
        ),
    ).to_dict()

    @override
    def prepare_config(self, config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
        """Type text values first (Meltano passes undeclared and env-var settings as text).

        Raises:
            ConfigurationError: a text value does not read as its setting's type,
                `batch_config` is set, or an SDK setting is unusable (`check_sdk_settings`).
        """
        typed = typed_config(config, schema)
        check_sdk_settings(typed)
        if typed.get("batch_config"):
            msg = (
                "BATCH messages are not supported: the bookmark moves as windows are written, "
                "ahead of the SDK's batch files; remove `batch_config`."
            )
            raise ConfigurationError(msg, setting="batch_config")
        return typed

    @cached_property
    def account(self) -> Account:
        """The account of this run; settings are checked here, before any request."""
        return Account(self.config)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The SDK's command with `--report`, printing the project's errors as one line."""
        command = super().get_singer_command()
        command.params.append(report_option(cls))
        return with_one_line_errors(command, cls.logger)

    @cached_property
    def signal_stop(self) -> SignalStop:
        """How a SIGTERM/SIGINT ends the process for sure."""
        return SignalStop()

    @override
    def stop_for_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT: stop with exit status 128 + signal, not the SDK's exit 0.

        The SDK logs "Gracefully shutting down...", writes the state from inside the signal
        handler (possibly in the middle of a line) and exits 0, so a scheduler records a
        partial sync as a success. Here the writer stops at the next message boundary; the
        last STATE written covers only records written before it, and a rerun resumes there.
        Should the exit not come (a write blocked on a full pipe, a lock the signal left
        held), the process ends `STOP_GRACE` seconds after the signal, and at once at a second
        one (`emarsys_singer.stop_signals`).
        """
        self.signal_stop.arrived(signum)
        self.logger.warning(
            "Received %s: stopping; the run is incomplete. The last STATE written covers "
            "every record before it: rerun from it to continue.",
            signal.Signals(signum).name,
        )
        writer = self.message_writer
        if not isinstance(writer, BlockMsgSpecWriter):
            raise StoppedBySignal(signum)
        writer.stop(signum)  # raises now, or once the message being written is complete

    @classmethod
    @override
    def invoke(
        cls, *, state: IO[str] | None = None, catalog: IO[str] | None = None, **kwargs: Any
    ) -> None:
        """The SDK's run, with the `--state` and `--catalog` files checked first (one line
        naming file and key)."""
        if state is not None:
            state = io.StringIO(read_state_file(state))
        if catalog is not None:
            catalog = io.StringIO(read_catalog_file(catalog))
        super().invoke(state=state, catalog=catalog, **kwargs)

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Refuse a state the streams could not resume from, before any request.

        Raises:
            StateFileError: a bookmark is not of the shape the tap writes (names the key).
        """
        check_state(state, "the state")
        super().load_state(state)

    @override
    def discover_streams(self) -> list[Stream]:
        """All eleven streams; export schemas carry the account's contact fields."""
        streams: list[Stream] = [stream_type(self, self.account) for stream_type in STREAM_TYPES]
        for stream in streams:
            stream.logger.addFilter(SdkSyncErrorLine())
            if self.input_catalog is not None:
                check_key_properties(stream, self.input_catalog)
        return streams


def main() -> None:
    """The `tap-emarsys` command, as its console script runs it."""
    run_as_process(TapEmarsys.cli)


if __name__ == "__main__":
    main()
