"""Singer input, decoded the way this target needs it."""

from __future__ import annotations

import sys
from typing import Any

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import InvalidInputLine
from singer_sdk.singerlib.encoding.base import SingerMessageType

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

MESSAGE_TYPES = frozenset(kind.value for kind in SingerMessageType)


class SingerLineReader(MsgSpecReader):
    """The SDK's msgspec reader, decoding JSON fractions as floats.

    `MsgSpecReader` keeps them as `Decimal`; Emarsys takes JSON numbers and the client encodes
    floats, so every `Decimal` would only be converted again, once per value.
    """

    _decoder = msgspec.json.Decoder()

    @override
    def deserialize_json(self, line: str) -> dict[str, Any]:
        """One Singer message, or `InvalidInputLine` quoting the line that is not one."""
        try:
            message: dict[str, Any] = self._decoder.decode(line)
        except msgspec.DecodeError as exc:
            msg = f"Unable to parse line as JSON: {line[:200]}"
            raise InvalidInputLine(msg) from exc
        # The SDK would fail later with a bare AttributeError or ValueError on these.
        if not isinstance(message, dict):
            msg = f"Line is not a Singer message (a JSON object): {line[:200]}"
            raise InvalidInputLine(msg)
        kind = message.get("type")
        if kind == "RECORD":
            if not isinstance(message.get("record", {}), dict):
                msg = f"RECORD line whose `record` is not a JSON object: {line[:200]}"
                raise InvalidInputLine(msg)
        elif kind is not None and kind not in MESSAGE_TYPES:
            msg = f"Unknown Singer message type {kind!r}: {line[:200]}"
            raise InvalidInputLine(msg)
        return message
