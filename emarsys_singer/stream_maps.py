"""The connectors' use of singer-sdk stream maps: which maps they may skip, and one line for a
map expression that fails on a record."""

from __future__ import annotations

from typing import Any

from singer_sdk.exceptions import MapExpressionError
from singer_sdk.mapper import SameRecordTransform, StreamMap


def is_identity(stream_map: StreamMap) -> bool:
    """Whether `stream_map` hands records on unchanged: the SDK's default map, not flattening.

    `SameRecordTransform.transform` returns its record through `StreamMap.flatten_record`,
    which returns it as it is while flattening is off (singer-sdk 0.54). Both connectors' SDK
    guard tests pin `SameRecordTransform.transform`.
    """
    return type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled


def transform(stream_map: StreamMap, record: dict[str, Any]) -> dict[str, Any] | None:
    """`stream_map.transform(record)`, with a failing expression named in one line.

    An expression that parses but fails on a record's values (``int(name)`` for a name
    ``"abc"``, ``1/0``) raised whatever Python raised, and the run ended in a traceback; one
    that simpleeval refuses (an attribute a value lacks) got the SDK's `MapExpressionError`,
    which names neither the stream nor the `stream_maps` setting.

    Raises:
        MapExpressionError: naming the stream, the setting and what the expression raised.
    """
    try:
        return stream_map.transform(record)
    except Exception as error:  # anything the expression raised, or the SDK's wrapping of it
        cause = error.__cause__ if isinstance(error, MapExpressionError) else None
        what = cause or error
        msg = (
            f"stream '{stream_map.stream_alias}': an expression in the `stream_maps` setting "
            f"failed on a record ({type(what).__name__}: {what}); fix the expression, or make "
            "it handle such values"
        )
        raise MapExpressionError(msg) from error


PARSE_FAILED = "Failed to parse expression "
"""How the SDK's `MapExpressionError` for an expression Python cannot parse starts (0.54)."""


def unparsable_expression(
    error: MapExpressionError, stream_maps: Any, stream: str | None = None
) -> MapExpressionError | None:
    """The SDK's "Failed to parse expression X." with the `stream_maps` entry named, or None.

    The SDK's message names neither the stream, nor the setting, nor what is wrong with the
    text; this one names the entry (``stream_maps['s']['p']``), Python's reason and, when
    known, the stream whose SCHEMA or catalog entry the maps were applied to.
    """
    text = str(error)
    if not text.startswith(PARSE_FAILED) or not isinstance(stream_maps, dict):
        return None
    expression = text.removeprefix(PARSE_FAILED).removesuffix(".")
    cause = error.__cause__
    reason = cause.msg if isinstance(cause, SyntaxError) else "it is empty"
    for name, entry in stream_maps.items():
        for prop, value in entry.items() if isinstance(entry, dict) else ():
            if value == expression:
                where = f"stream '{stream}': " if stream is not None else ""
                return MapExpressionError(
                    f"{where}the `stream_maps` setting: stream_maps[{name!r}][{prop!r}] = "
                    f"{expression!r} is not a Python expression ({reason}); fix the expression"
                )
    return None
