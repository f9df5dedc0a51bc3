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
