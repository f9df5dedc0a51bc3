"""One clear line instead of a traceback when a connector stops for a reason the user can fix.

The SDK's command prints expected failures (a setting the connector itself checks, an
unreachable host, a failed export, a malformed input line) as a long traceback through its
exception hook, so the one line that says what to do is easy to miss. Both connectors' commands
turn the project's own errors into a `click.ClickException`: click prints ``Error: <message>``
on stderr and exits with status 1. Anything else (a bug) still ends with its traceback.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click
from singer_sdk.exceptions import ConfigValidationError, SingerSDKError, SyncLifecycleSignal
from singer_sdk.singerlib.exceptions import SingerReadError
from typing_extensions import override

from emarsys_api import EmarsysError
from emarsys_singer.config_sources import checked_config_callback

F = TypeVar("F", bound=Callable[..., Any])


class UserFacingError(Exception):
    """A connector's own error whose message names what is wrong and what to do.

    Errors of the client are `EmarsysError`s already; a connector derives the errors it raises
    itself (a state file it cannot resume from, ...) from this class so the command prints them
    as one line.
    """


class StopWithMessage(BaseException):
    """A `BaseException` a connector raises to stop at once with a message for the user.

    A `BaseException` (like `SystemExit`) passes the SDK's per-stream ``except Exception``,
    which would log it as "An unhandled error occurred while syncing" and blame the stream;
    the command prints its message as one line (exit status 1), without a traceback even at
    DEBUG level (there is no bug to report).
    """


#: Errors that carry a message written for the user; anything else keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    EmarsysError,
    SingerSDKError,
    SingerReadError,
    UserFacingError,
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


#: The SDK's config validation messages end like this, naming the top-level setting.
_SETTING_PATH = re.compile(r" in config\[(?P<name>'[^']*'|\"[^\"]*\")")


def _hide_secret_values(message: str, schema: Mapping[str, Any] | None) -> str:
    """A config validation message about a secret setting, without the value it quotes.

    jsonschema's messages start with the value (``987654321 is not of type 'string'``), and
    a secret set to a number or a list would be shown whole.
    """
    found = _SETTING_PATH.search(message)
    properties = (schema or {}).get("properties") or {}
    name = found.group("name")[1:-1] if found else None
    spec = properties.get(name) if name is not None else None
    if not isinstance(spec, Mapping) or not (spec.get("secret") or spec.get("writeOnly")):
        return message
    kinds = spec.get("type")
    wanted = " or ".join(kinds) if isinstance(kinds, list) else str(kinds or "text")
    return f"the `{name}` setting must be of type {wanted} (its value is hidden: it is secret)"


_ENUM_REPR = re.compile(r"<\w+\.\w+: ('[^']*')>")
"""An enum member as the SDK's choices print it (``<TargetLoadMethods.UPSERT: 'upsert'>``)."""

_STREAM_MAP_ENTRY = re.compile(
    r" is not valid under any of the given schemas in config\['stream_maps'\]\['[^']*'\]$"
)
"""jsonschema's message for a `stream_maps` entry of no accepted shape (it says no more)."""


def _clarified(message: str) -> str:
    """One of the SDK's config validation messages, saying what it leaves unsaid."""
    if _STREAM_MAP_ENTRY.search(message):
        return (
            f"{message}: a stream's entry is null or '__NULL__' (drop the stream), or an "
            "object mapping each property to an expression (text) or to null or '__NULL__' "
            "(drop it), with, if wanted, `__filter__`, `__alias__` or `__source__` (text), "
            "`__key_properties__` (a list of names) and `__else__` (null)"
        )
    return _ENUM_REPR.sub(r"\1", message)


def one_line(error: BaseException) -> str:
    """The error's message on a single line (config validation lists every problem; a
    problem with a secret setting is named without the value)."""
    if isinstance(error, ConfigValidationError) and error.errors:
        text = "; ".join(
            _clarified(_hide_secret_values(str(e), error.schema)) for e in error.errors
        )
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
        except StopWithMessage as stop:
            raise ConnectorFailed(one_line(stop)) from None
        except USER_ERRORS as error:
            logger.debug("%s", type(error).__name__, exc_info=True)
            raise ConnectorFailed(one_line(error)) from None

    return wrapper  # type: ignore[return-value]


def with_one_line_errors(command: click.Command, logger: logging.Logger) -> click.Command:
    """The SDK's command, its callback and option callbacks (`--discover`, `--test`) wrapped.

    Option callbacks run while click parses the arguments, outside the command's own error
    handling, so they are wrapped one by one; the `--config` sources are checked first
    (`emarsys_singer.config_sources`).
    """
    if command.callback is not None:
        command.callback = user_errors_as_one_line(command.callback, logger)
    for param in command.params:
        if param.callback is not None:
            callback = param.callback
            if param.name == "config":  # the SDK's bound `cb_config`: its class is the plugin
                callback = checked_config_callback(callback, getattr(callback, "__self__", None))
            param.callback = user_errors_as_one_line(callback, logger)
    return command
