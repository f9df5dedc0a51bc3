"""The tap's Singer writer: the SDK's msgspec encoder, with RECORD lines written in blocks.

The writer is also where the tap stops when it has to stop early, because only here is it known
whether a message is half written: a signal is honoured between two messages, and a reader that
went away (a closed pipe) ends the run with one line instead of a traceback per stream.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any

from singer_sdk.singerlib.encoding.simple import Message, RecordMessage
from typing_extensions import override

from emarsys_singer.command_errors import StopWithMessage
from tap_emarsys.sdk_overrides import RecordLineWriter, encode_record_into

FLUSH_BYTES = 1 << 16


class OutputClosed(StopWithMessage):
    """The process reading the tap's stdout closed the pipe; nothing more can be delivered.

    A `StopWithMessage` (a `BaseException`, like `SystemExit`): the SDK's per-stream
    `except Exception` would log it as "An unhandled error occurred while syncing", which
    blames the stream, not the reader. The command turns it into one ``Error:`` line (exit 1).
    """

    def __init__(self) -> None:
        """Say what happened and what a rerun does."""
        super().__init__(
            "the process reading the tap's output closed the pipe (the loader stopped or "
            "failed; see its log); records after the last STATE it received were not "
            "delivered: rerun from that STATE"
        )


class StoppedBySignal(SystemExit):
    """SIGTERM or SIGINT: the run ends with exit status 128 + signal number, like a shell.

    Attributes:
        signum: the signal received.
    """

    def __init__(self, signum: int) -> None:
        """Exit with 128 + `signum`, so a scheduler records a stopped sync as failed."""
        super().__init__(128 + signum)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        """`SIGTERM`, `SIGINT`, ... for the log line."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


class BlockMsgSpecWriter(RecordLineWriter):
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
        self._writing = False
        self._stop_signal: int | None = None

    def stop(self, signum: int) -> None:
        """Stop the run for `signum` now, or right after the message being written.

        Called from the signal handler, which Python runs between two bytecodes of the main
        thread, possibly in the middle of `write_message`. Stopping there could leave half a
        line on stdout, so the stop waits for the message to be complete; records still in
        the block are dropped, which is safe because no STATE written covers them.

        A write blocks while the reader does not read (a hung loader with a full pipe); a
        second signal then ends the process at once (`os._exit`: the interpreter's own exit
        would flush stdout and block again). The line being written may then be cut short;
        every whole STATE line before it is still valid.

        Raises:
            StoppedBySignal: at once when no message is being written.
        """
        if self._writing:
            if self._stop_signal is not None:
                os._exit(128 + signum)
            self._stop_signal = signum
            return
        self._block.clear()
        raise StoppedBySignal(signum)

    @override
    def write_message(self, message: Message) -> None:
        """Collect RECORD lines; write the block, then the message, for anything else.

        Args:
            message: the Singer message.

        Raises:
            OutputClosed: the reader of stdout went away.
            StoppedBySignal: a signal arrived while the message was written.
        """
        self._writing = True
        try:
            if isinstance(message, RecordMessage):
                encode_record_into(message, self._block)
                if len(self._block) >= FLUSH_BYTES:
                    self._write_block()
            else:
                self._block += self.format_message(message)
                self._write_block()
        finally:
            self._writing = False
        if self._stop_signal is not None:
            self.stop(self._stop_signal)

    @override
    def write_record(self, message: dict[str, Any]) -> None:
        """Collect one RECORD line given as a message dict (the export streams' fast path).

        Raises:
            OutputClosed: the reader of stdout went away.
            StoppedBySignal: a signal arrived while the message was written.
        """
        self._writing = True
        try:
            encode_record_into(message, self._block)
            if len(self._block) >= FLUSH_BYTES:
                self._write_block()
        finally:
            self._writing = False
        if self._stop_signal is not None:
            self.stop(self._stop_signal)

    def flush(self) -> None:
        """Write out the collected lines.

        Raises:
            OutputClosed: the reader of stdout went away.
        """
        self._writing = True
        try:
            self._write_block()
        finally:
            self._writing = False
        if self._stop_signal is not None:
            self.stop(self._stop_signal)

    def _write_block(self) -> None:
        if not self._block:
            return
        out = sys.stdout.buffer
        try:
            out.write(self._block)
            out.flush()
        except BrokenPipeError:
            self._block.clear()
            # Later writes (the interpreter's own flush at exit included) go nowhere instead
            # of raising the same error again with a traceback.
            with contextlib.suppress(OSError, ValueError):  # ValueError: stdout is no file
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, out.fileno())
                os.close(devnull)
            raise OutputClosed from None
        self._block.clear()
