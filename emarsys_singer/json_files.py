"""The JSON files a connector is handed (`--config`, `--catalog`, `--state`): read as the SDK
reads them, and a value of the wrong kind named, before the SDK gets them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import simplejson


class NotJsonError(ValueError):
    """Text that is not JSON; the message says where (`Expecting value at line 1 column 14`)."""


def load_json_text(text: str) -> Any:
    """`text` parsed as the SDK parses its files (simplejson: a leading byte order mark is
    skipped, `NaN` is refused), so a check here never refuses what the SDK reads, or passes
    what it fails on.

    Raises:
        NotJsonError: naming the problem, line and column.
    """
    try:
        return simplejson.loads(text)
    except simplejson.JSONDecodeError as error:
        raise NotJsonError(f"{error.msg} at line {error.lineno} column {error.colno}") from None


def wrong_kind(found: Mapping[str, Any], kinds: Mapping[str, type]) -> str:
    """The first of `kinds`' keys whose value in `found` is set but of another kind, as
    ``"metadata is 'x', not a list"`` (empty: none is)."""
    for key, kind in kinds.items():
        value = found.get(key)
        if value is not None and not isinstance(value, kind):
            return f"{key} is {value!r}, not {'a list' if kind is list else 'an object'}"
    return ""
