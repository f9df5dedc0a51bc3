"""One clear line instead of a traceback when the target stops for a reason the user can fix.

The SDK's command reports every failure through its exception hook, as a traceback, so the line
that says what to do (the setting to fix, the stream and record Emarsys refused) is easy to
miss. The target's command turns the project's own errors into a `click.ClickException`: click
prints ``Error: <message>`` on stderr and exits with status 1. Anything else (a bug) keeps its
traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click
from singer_sdk.exceptions import ConfigValidationError, SingerSDKError, SyncLifecycleSignal
from singer_sdk.singerlib.exceptions import SingerReadError

from emarsys_api import EmarsysError

F = TypeVar("F", bound=Callable[..., Any])

#: Errors whose message is written for the user; anything else keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (EmarsysError, SingerSDKError, SingerReadError)


class TargetFailed(click.ClickException):
    """The target stopped with an error the user can act on (printed as one line, exit 1)."""


def one_line(error: BaseException) -> str:
    """The error's message on a single line (config validation lists every problem)."""
    if isinstance(error, ConfigValidationError) and error.errors:
        text = "; ".join(str(e) for e in error.errors)
        if not text.startswith("Invalid configuration"):
            text = "Invalid configuration: " + text
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def _one_line_errors(function: F, logger: logging.Logger) -> F:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except SyncLifecycleSignal:
            raise
        except USER_ERRORS as error:
            logger.debug("%s", type(error).__name__, exc_info=True)  # for bug reports
            raise TargetFailed(one_line(error)) from None

    return wrapper  # type: ignore[return-value]


def with_one_line_errors(command: click.Command, logger: logging.Logger) -> click.Command:
    """The SDK's command with its callback and option callbacks wrapped."""
    if command.callback is not None:
        command.callback = _one_line_errors(command.callback, logger)
    for param in command.params:
        if param.callback is not None:
            param.callback = _one_line_errors(param.callback, logger)
    return command
