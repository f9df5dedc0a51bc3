"""Checks of the SDK's own settings that the SDK leaves unchecked, or answers with a traceback:
run by both connectors before the SDK validates their config."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from singer_sdk.mapper import (
    MAPPER_ALIAS_OPTION,
    MAPPER_ELSE_OPTION,
    MAPPER_KEY_PROPERTIES_OPTION,
    MAPPER_SOURCE_OPTION,
)
from singer_sdk.mapper import NULL_STRING as NULL

from emarsys_api import ConfigurationError

NOT_EXPRESSIONS = frozenset(
    {MAPPER_ALIAS_OPTION, MAPPER_SOURCE_OPTION, MAPPER_KEY_PROPERTIES_OPTION, MAPPER_ELSE_OPTION}
)
"""The keys of a stream's `stream_maps` entry whose values are not property expressions."""


def check_sdk_settings(config: Mapping[str, Any]) -> None:
    """Refuse what the SDK would not say clearly: a missing or negative `flattening_max_depth`
    with flattening on (the SDK takes -1 for "unset" and a lower one for 0), a `stream_maps`
    expression Python cannot parse, in any entry, also one for a stream that never arrives
    (the SDK names neither stream nor entry, and the target met it only at the stream's SCHEMA
    line), an `__else__` other than null or "__NULL__" (a traceback from the SDK's settings
    schema) and `__alias__` beside `__source__` (the SDK would read it as a property). Values
    of the wrong type are left to the SDK's validation.

    Raises:
        ConfigurationError: naming the setting and the entry.
    """
    _check_flattening_depth(config)
    maps = config.get("stream_maps")
    if not isinstance(maps, dict):
        return
    if MAPPER_ELSE_OPTION in maps:
        _check_else(maps[MAPPER_ELSE_OPTION], "stream_maps['__else__']", "every stream not named")
    for name, entry in maps.items():
        if name == MAPPER_ELSE_OPTION or not isinstance(entry, dict):
            continue
        if MAPPER_ELSE_OPTION in entry:
            where = f"stream_maps[{name!r}]['__else__']"
            dropped = "the stream's properties the entry does not name"
            _check_else(entry[MAPPER_ELSE_OPTION], where, dropped)
        if MAPPER_SOURCE_OPTION in entry and MAPPER_ALIAS_OPTION in entry:
            # The SDK takes `__source__` first and then reads `__alias__` as a property.
            raise ConfigurationError(
                f"stream_maps[{name!r}] has both `__source__` and `__alias__`: with "
                f"`__source__` the entry's own name ({name!r}) is the new stream's name; "
                "remove `__alias__`.",
                setting="stream_maps",
            )
        for prop, value in entry.items():
            if prop in NOT_EXPRESSIONS or not isinstance(value, str) or value == NULL:
                continue
            reason = _unparsable(value)
            if reason is not None:
                raise ConfigurationError(
                    f"stream_maps[{name!r}][{prop!r}] = {value!r} is not a Python "
                    f"expression ({reason}).",
                    setting="stream_maps",
                )


def _check_flattening_depth(config: Mapping[str, Any]) -> None:
    """With flattening on, a depth of 0 or more must be set (the SDK reads it only then, and
    said of a missing one only that it "is required")."""
    if not config.get("flattening_enabled"):
        return
    depth = config.get("flattening_max_depth")
    if depth is None:
        raise ConfigurationError(
            "`flattening_enabled` is on, so `flattening_max_depth` must be set to 0 or more "
            "(how many levels of nested objects to flatten into columns).",
            setting="flattening_max_depth",
        )
    if isinstance(depth, int) and not isinstance(depth, bool) and depth < 0:
        raise ConfigurationError(
            f"`flattening_max_depth` must be 0 or more (how many levels of nested objects "
            f"to flatten into columns), got {depth}.",
            setting="flattening_max_depth",
        )


def _check_else(value: Any, where: str, dropped: str) -> None:
    if value is not None and value != NULL:
        raise ConfigurationError(
            f"{where} is {value!r}; the only choice is null or {NULL!r}, which drops {dropped}.",
            setting="stream_maps",
        )


def _unparsable(expression: str) -> str | None:
    """Why the SDK could not parse `expression` (it takes the first statement of
    `ast.parse`), or None."""
    try:
        ast.parse(expression).body[0]
    except SyntaxError as error:
        return error.msg
    except IndexError:
        return "it is empty"
    return None
