"""The tap's Singer writer: the SDK's msgspec encoder, with RECORD lines written in blocks."""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage
from typing_extensions import override

FLUSH_BYTES = 1 << 16


class BlockMsgSpecWriter(MsgSpecWriter):
    """`MsgSpecWriter` that writes RECORD lines in 64 KiB blocks instead of one write each.

    The SDK's writer writes and flushes every message; for exports of millions of rows the
    system calls dominate. RECORD lines are collected and written (in order) before any other
    message, so a STATE line never leaves ahead of the records it covers, and nothing is
    buffered across a STATE, SCHEMA or end of stream.
    """

    def __init__(self) -> None:
        """Start with an empty block."""
        super().__init__()
        self._block = bytearray()

    @override
    def write_message(self, message: Message) -> None:
        """Collect RECORD lines; write the block, then the message, for anything else.

        Args:
            message: the Singer message.
        """
        if isinstance(message, RecordMessage):
            # The SDK's encoder, appending straight into the block (offset -1 = at the end).
            encoder.encode_into(message.to_dict(), self._block, -1)
            self._block += b"\n"
            if len(self._block) >= FLUSH_BYTES:
                self.flush()
            return
        self._block += self.format_message(message)
        self.flush()

    def flush(self) -> None:
        """Write out the collected lines."""
        if self._block:
            out = sys.stdout.buffer
            out.write(self._block)
            out.flush()
            self._block.clear()
