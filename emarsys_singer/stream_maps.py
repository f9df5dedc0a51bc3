"""Which singer-sdk stream maps hand records on unchanged, so a connector may skip them."""

from __future__ import annotations

from singer_sdk.mapper import SameRecordTransform, StreamMap


def is_identity(stream_map: StreamMap) -> bool:
    """Whether `stream_map` hands records on unchanged: the SDK's default map, not flattening.

    `SameRecordTransform.transform` returns its record through `StreamMap.flatten_record`,
    which returns it as it is while flattening is off (singer-sdk 0.54). Both connectors' SDK
    guard tests pin `SameRecordTransform.transform`.
    """
    return type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled
