"""One clear line instead of a traceback when a connector stops for a reason the user can fix.

The SDK's command prints expected failures (a setting the connector itself checks, an
unreachable host, a failed export, a malformed input line) as a long traceback through its
exception hook, so the one line that says what to do is easy to miss. Both connectors' commands
turn the project's own errors into a `click.ClickException`: click prints ``Error: <message>``
on stderr and exits with status 1. Anything else (a bug) still ends with its traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any, TypeVar

import click
from singer_sdk.exceptions import ConfigValidationError, SingerSDKError, SyncLifecycleSignal
from singer_sdk.singerlib.exceptions import SingerReadError
from typing_extensions import override

from emarsys_api import EmarsysError
from tap_emarsys.export_stream import BOOKMARK
from tap_emarsys.exports import ExportJobError
from tap_emarsys.windows import read_iso
from tap_emarsys.writer import OutputClosed

F = TypeVar("F", bound=Callable[..., Any])


class StateFileError(ValueError):
    """The state the tap was given cannot be resumed from; names the file or the key."""


#: Errors that carry a message written for the user; anything else keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    EmarsysError,
    ExportJobError,
    SingerSDKError,
    SingerReadError,
    StateFileError,
)


class SdkSyncErrorLine(logging.Filter):
    """Drops the SDK's "An unhandled error occurred while syncing 'x'" line for user errors.

    The SDK logs it at ERROR for any exception leaving a stream, before the command prints
    the one line that names stream, export and what to do: a second, vaguer error line. It is
    kept for anything else (a bug), whose traceback follows anyway.
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """False for the SDK's sync error line while a user error is being handled."""
        if record.levelno >= logging.ERROR and str(record.msg).startswith(
            "An unhandled error occurred while syncing"
        ):
            return not isinstance(sys.exc_info()[1], USER_ERRORS)
        return True


class ConnectorFailed(click.ClickException):
    """A connector stopped with an error the user can act on (printed as one line, exit 1)."""


def one_line(error: BaseException) -> str:
    """The error's message on a single line (config validation lists every problem)."""
    if isinstance(error, ConfigValidationError) and error.errors:
        text = "; ".join(str(e) for e in error.errors)
        if not text.startswith("Invalid configuration"):
            text = "Invalid configuration: " + text
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def user_errors_as_one_line(function: F, logger: logging.Logger) -> F:
    """Wrap a command callback so the project's errors become `ConnectorFailed`.

    The traceback stays available at DEBUG level for bug reports.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except SyncLifecycleSignal:
            raise
        except OutputClosed as closed:
            raise ConnectorFailed(one_line(closed)) from None
        except USER_ERRORS as error:
            logger.debug("%s", type(error).__name__, exc_info=True)
            raise ConnectorFailed(one_line(error)) from None

    return wrapper  # type: ignore[return-value]


def with_one_line_errors(command: click.Command, logger: logging.Logger) -> click.Command:
    """The SDK's command, its callback and option callbacks (`--discover`, `--test`) wrapped.

    Option callbacks run while click parses the arguments, outside the command's own error
    handling, so they are wrapped one by one.
    """
    if command.callback is not None:
        command.callback = user_errors_as_one_line(command.callback, logger)
    for param in command.params:
        if param.callback is not None:
            param.callback = user_errors_as_one_line(param.callback, logger)
    return command


def read_state_file(file: IO[str]) -> str:
    """The text of a `--state` file, checked before the SDK parses it (which would raise a
    bare JSON decoding traceback naming neither the file nor the setting).

    Args:
        file: the open state file.

    Returns:
        The file's text, unchanged.

    Raises:
        StateFileError: not JSON, or a bookmark the tap cannot resume from.
    """
    name = getattr(file, "name", "--state")
    text = file.read()
    try:
        state = json.loads(text) if text.strip() else {}
    except ValueError as error:
        where = ""
        if isinstance(error, json.JSONDecodeError):
            where = f" ({error.msg} at line {error.lineno} column {error.colno})"
        msg = (
            f"the state file {name} is not JSON{where}; fix it, or run without --state (every "
            "stream then starts at start_date)"
        )
        raise StateFileError(msg) from None
    check_state(state, f"the state file {name}")
    return text


def check_state(state: object, source: str) -> None:
    """Check that a state has the shape the tap writes: bookmarks per stream, ISO window ends.

    Args:
        state: the parsed state.
        source: how the message names it (`the state file state.json`).

    Raises:
        StateFileError: naming the key that is wrong and what to do.
    """
    if not isinstance(state, Mapping):
        msg = f"{source} is not a JSON object; run without --state to start at start_date"
        raise StateFileError(msg)
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, Mapping):
        raise StateFileError(f"{source}: `bookmarks` is not an object; fix or remove it")
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, Mapping):
            msg = f"{source}: bookmarks.{stream} is not an object; fix or remove it"
            raise StateFileError(msg)
        value = bookmark.get(BOOKMARK)
        if value is not None and not _is_instant(value):
            msg = (
                f"{source}: bookmarks.{stream}.{BOOKMARK} is {value!r}, not an ISO 8601 "
                "timestamp; fix it, or remove that bookmark to export the stream from "
                "start_date again"
            )
            raise StateFileError(msg)


def _is_instant(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        read_iso(value)
    except ValueError:
        return False
    return True
