"""Singer input, decoded the way this target needs it."""

from __future__ import annotations

import sys
from typing import Any

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import InvalidInputLine

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class SingerLineReader(MsgSpecReader):
    """The SDK's msgspec reader, decoding JSON fractions as floats.

    `MsgSpecReader` keeps them as `Decimal`; Emarsys takes JSON numbers and the client encodes
    floats, so every `Decimal` would only be converted again, once per value.
    """

    _decoder = msgspec.json.Decoder()

    @override
    def deserialize_json(self, line: str) -> dict[str, Any]:
        """One Singer message, or `InvalidInputLine` naming the line that is not JSON."""
        try:
            message: dict[str, Any] = self._decoder.decode(line)
        except msgspec.DecodeError as exc:
            msg = f"Unable to parse line as JSON: {line[:200]}"
            raise InvalidInputLine(msg) from exc
        return message
