"""The tap's `--state` checks: a state file or STATE is read and checked before any request.

A state the streams cannot resume from fails here with one line naming the file and the key
(`StateFileError`, printed by `emarsys_singer.command_errors` like every user error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO

from emarsys_singer.command_errors import UserFacingError
from emarsys_singer.json_files import NotJsonError, load_json_text, wrong_kind
from tap_emarsys.export_stream import BOOKMARK
from tap_emarsys.windows import OutOfCalendarError, read_iso


class StateFileError(UserFacingError, ValueError):
    """The state the tap was given cannot be resumed from; names the file or the key."""


def read_state_file(file: IO[str]) -> str:
    """The text of a `--state` file, checked before the SDK parses it (which would raise a
    bare JSON decoding traceback naming neither the file nor the setting).

    Args:
        file: the open state file.

    Returns:
        The file's text, or `{}` for a blank file (the SDK cannot parse blank text; an empty
        file, as a scheduler may create before the first run, means no state).

    Raises:
        StateFileError: not JSON, or a bookmark the tap cannot resume from.
    """
    name = getattr(file, "name", "--state")
    text = file.read()
    try:
        state = load_json_text(text) if text.strip() else {}
    except NotJsonError as error:
        msg = (
            f"the state file {name} is not JSON ({error}); fix it, or run without --state "
            "(every stream then starts at start_date)"
        )
        raise StateFileError(msg) from None
    check_state(state, f"the state file {name}")
    return text if text.strip() else "{}"


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
        _check_bookmark(bookmark, source, f"bookmarks.{stream}")


def _check_bookmark(bookmark: object, source: str, key: str) -> None:
    """One stream's bookmark, or one of its `partitions`, in the shapes the tap and the SDK
    write: the SDK reads `partitions`, `context` and `progress_markers` without a check and
    fails with an AttributeError, at times after output was written."""
    if not isinstance(bookmark, Mapping):
        raise StateFileError(f"{source}: {key} is not an object; fix or remove it")
    value = bookmark.get(BOOKMARK)
    if value is not None:
        what = _not_an_instant(value)
        if what:
            msg = (
                f"{source}: {key}.{BOOKMARK} {what}; fix it, or remove that bookmark to export "
                "the stream from start_date again"
            )
            raise StateFileError(msg)
    wrong = wrong_kind(
        bookmark, {"progress_markers": Mapping, "context": Mapping, "partitions": list}
    )
    if wrong:
        raise StateFileError(f"{source}: {key}.{wrong}; fix or remove it")
    for number, item in enumerate(bookmark.get("partitions") or []):
        _check_bookmark(item, source, f"{key}.partitions[{number}]")


def _not_an_instant(value: object) -> str:
    """What is wrong with a bookmark value (empty: nothing)."""
    wrong = f"is {value!r}, not an ISO 8601 timestamp"
    if not isinstance(value, str):
        return wrong
    try:
        read_iso(value)
    except OutOfCalendarError as error:
        return str(error)
    except ValueError:
        return wrong
    return ""
