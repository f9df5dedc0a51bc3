"""Singer input, decoded the way this target needs it, each bad line named by its number."""

from __future__ import annotations

import gc
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import (
    InvalidInputLine,
    MapExpressionError,
    RecordsWithoutSchemaException,
)
from singer_sdk.singerlib.encoding.base import SingerMessageType

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

MESSAGE_TYPES = frozenset(kind.value for kind in SingerMessageType)
STREAM_MESSAGE_TYPES = MESSAGE_TYPES - {SingerMessageType.STATE.value}
"""The messages that name a stream (`stream`, a string): all but STATE."""
ENCODING, MANIFEST = "encoding", "manifest"
REQUIRED_KEYS = {
    SingerMessageType.ACTIVATE_VERSION.value: {"stream", "version"},
    SingerMessageType.BATCH.value: {"stream", ENCODING, MANIFEST},
}
"""Keys the SDK reads from these messages without checking that they are there (singer-sdk
0.54; it checks SCHEMA, RECORD and STATE itself)."""
LINE_ERRORS = (InvalidInputLine, RecordsWithoutSchemaException, MapExpressionError)
"""Errors about one input line, each named with the line's number (a stream map expression
that fails names the record it failed on)."""
QUOTED_CHARS = 200
"""How much of a bad line an error quotes."""
BLOCK_BYTES = 1 << 16
"""How much of a binary input one read may return: about 400 lines of a typical record."""
NESTED_TOO_DEEPLY = (
    "is nested too deeply to process (thousands of levels of objects or arrays); flatten "
    "the record in the tap or with a stream map"
)
GC_YOUNG_THRESHOLD = 50_000
"""Allocations between young-generation garbage collections while input is read (700 by
default): a batch of 1000 rows allocates a few thousand objects, nearly all freed by reference
counting once it is sent."""


def schema_problem(message: dict[str, Any]) -> str | None:
    """What is wrong with a SCHEMA message the SDK would take as it is, or None.

    The SDK checks only that `schema` and its `properties` are there; anything else of the
    wrong shape fails deep inside it (a `TypeError`). A `$ref` that is not local to the schema
    (`#...`) would have the validator fetch a URL or read a file named by the tap.
    """
    schema = message.get("schema", {})
    if not isinstance(schema, dict):
        return "is a SCHEMA whose `schema` is not a JSON object"
    if not isinstance(schema.get("properties", {}), dict):
        return "is a SCHEMA whose `properties` is not a JSON object (property name -> schema)"
    keys = message.get("key_properties")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        return (
            "is a SCHEMA whose `key_properties` is not a list of property names (strings), "
            'e.g. ["id"]'
        )
    nodes: list[Any] = [schema]
    while nodes:
        node = nodes.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return (
                    f"is a SCHEMA with a `$ref` to {ref[:QUOTED_CHARS]!r}, outside the schema: "
                    "the target fetches no URL and reads no file for a schema; inline what it "
                    "refers to, or refer within the schema (`#/...`)"
                )
            nodes.extend(node.values())
        elif isinstance(node, list):
            nodes.extend(node)
    return None


def _not_json(line: str | bytes, reason: str) -> str:
    """What is wrong with a line the JSON decoder refused, in the decoder's words where they
    help (`Number out of range`, `trailing characters (byte 9)`)."""
    if line[:1] in ("\ufeff", b"\xef"):
        return "starts with a byte order mark; write the input as UTF-8 without one"
    if reason.startswith("Number out of range"):
        return "holds a number out of range (beyond a 64-bit float, such as 1e400)"
    reason = reason.removeprefix("JSON is malformed: ")
    return f"is not JSON ({reason})"


def read_blocks(read1: Callable[[int], bytes]) -> Iterator[list[bytes]]:
    """The lines of a binary input, a list for each read (`read1`, at most one read from the
    input, so it waits only when nothing is buffered), without their line ends.

    A line longer than a read is joined from its pieces once its end arrives; a last line
    without a line end comes last, on its own.
    """
    pieces: list[bytes] = []  # the start of a line that has not ended yet
    while block := read1(BLOCK_BYTES):
        lines = block.split(b"\n")
        if len(lines) == 1:
            pieces.append(block)
            continue
        if pieces:
            pieces.append(lines[0])
            lines[0] = b"".join(pieces)
            pieces = []
        rest = lines.pop()
        if rest:
            pieces.append(rest)
        yield lines
    if pieces:
        yield [b"".join(pieces)]


class SingerLineReader(MsgSpecReader):
    """The SDK's msgspec reader, reading bytes and naming each bad line by its number.

    Standard input is read as bytes and each line is decoded by msgspec, which checks UTF-8
    itself: a text stream would fail on a bad byte inside the SDK's loop (or, with the
    `surrogateescape` of a C locale, later in the encoder) without saying where. Blank lines
    are skipped. JSON fractions are decoded as floats: `MsgSpecReader` keeps them as
    `Decimal`, and Emarsys takes JSON numbers, so every `Decimal` would be converted again.
    """

    _decoder = msgspec.json.Decoder()

    def __init__(self) -> None:
        """Start before the first line."""
        super().__init__()
        self.line_number = 0

    @override
    def process_lines(
        self,
        file_input: IO[str] | None,
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
    ) -> Counter[str]:
        """Hand each message to its callback; an unusable line stops with its number.

        A message nested too deeply for Python to handle (thousands of levels) stops the
        same way instead of with a `RecursionError` traceback from wherever it got to.

        While the lines are read, the garbage collector is tuned for a stream of records:
        every record allocates a few dicts and tuples that live until their batch is sent,
        and with the defaults (a young-generation pass every 700 allocations, full passes
        over every object of start-up: modules, the SDK, schemas) that costs about a tenth
        of the CPU time per record. The objects of start-up are frozen out of its passes and
        young passes come less often (`GC_YOUNG_THRESHOLD`); reference cycles are still
        collected, and the previous settings are restored afterwards.
        """
        thresholds = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
        try:
            return self.read_messages(file_input, callbacks)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()

    def read_messages(
        self,
        file_input: IO[str] | None,
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
    ) -> Counter[str]:
        """The loop of `process_lines`: decode, check and dispatch each line.

        A binary input (standard input's buffer) is read a block at a time (`read_blocks`),
        and the usual lines of a block, RECORDs of one stream (a string) whose `record` is an
        object, are handed on together as a run (`take_runs`). Every other line (blank, not
        JSON, another message type, a RECORD of the wrong shape) first hands on the run before
        it, then takes `deserialize_json`, which names what is wrong with it. So messages are
        handled in input order, and no record waits while the next block is read. A text
        input is read a line at a time, each its own block.

        The line number is kept in a local and stored on the reader only when something
        reads it: when the input ends, or when handling a line fails (then it is that line's
        number; for a failure while a run was taken together, the run's first line).
        """
        source = file_input if file_input is not None else sys.stdin
        lines: Any = getattr(source, "buffer", None) or source
        read1 = getattr(lines, "read1", None)
        blocks: Iterable[list[Any]] = (
            read_blocks(read1) if callable(read1) else ([line] for line in lines)
        )
        stats: Counter[str] = Counter()
        decode = self._decoder.decode
        on_record = callbacks.get("RECORD") or self._process_unknown_message
        take_runs = self.take_runs if "RECORD" in callbacks else None
        number = slow = 0  # lines read, and lines that took `deserialize_json`
        run: list[dict[str, Any]] = []  # the usual lines read since the last other line
        run_stream, first = "", 0  # their stream, and the number of the first of them
        block: list[Any] = []
        before = 0  # block[i] is line `before + 1 + i`

        def hand_on() -> None:  # the run, as it is when called
            self._take_run(run, run_stream, first, block, before, on_record, take_runs)

        try:
            for block in blocks:
                before = number
                for line in block:
                    number += 1
                    try:
                        message = decode(line)
                        stream = message["stream"]
                        usual = (
                            message["type"] == "RECORD"
                            and message["record"].__class__ is dict
                            and stream.__class__ is str
                        )
                    except Exception:  # not JSON, no object, no stream, type or record
                        usual = False
                    if usual:
                        if run:
                            if stream == run_stream:
                                run.append(message)
                                continue
                            hand_on()
                        run = [message]
                        run_stream, first = stream, number
                        continue
                    if run:
                        hand_on()
                        run = []
                    slow += 1
                    self.dispatch_line(line, number, callbacks, stats)
                if run:
                    hand_on()
                    run = []
            self.line_number = number
        finally:
            if number > slow:
                stats["RECORD"] += number - slow
        return stats

    take_runs: Callable[[str, list[dict[str, Any]]], int] | None = None
    """Set by the target: takes the leading messages of a run of RECORDs of one stream that
    it can take together, and returns how many it took (0: none). The rest of the run goes
    to the RECORD callback one message at a time. Unset, every record goes that way."""

    def _take_run(
        self,
        run: list[dict[str, Any]],
        stream: str,
        first: int,
        block: list[Any],
        before: int,
        on_record: Callable[[dict[str, Any]], None],
        take_runs: Callable[[str, list[dict[str, Any]]], int] | None,
    ) -> None:
        """Hand on a run of RECORDs of `stream`, lines `first` on of `block` (whose first
        line is line `before + 1`)."""
        number = first
        quoted = False  # while the run is taken together, no one line can be quoted
        try:
            taken = take_runs(stream, run) if take_runs is not None else 0
            if taken == len(run):
                return
            number += taken
            quoted = True
            for message in run[taken:] if taken else run:
                on_record(message)
                number += 1
        except BaseException as exc:
            line = block[number - before - 1] if quoted else None
            failure = self._failure(exc, number, line)
            if failure is None:
                raise
            raise failure from failure.__cause__

    def dispatch_line(
        self,
        line: str | bytes,
        number: int,
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
        stats: Counter[str],
    ) -> None:
        """Any line but a usual RECORD: skip it if blank, else name what is wrong with it or
        hand it to its callback, counting it in `stats`."""
        self.line_number = number
        try:
            if not line or line.isspace():
                return
            message = self.deserialize_json(line)
            if "type" not in message:
                self.assert_line_requires(message, requires={"type"})
            kind = message["type"]
            callback = callbacks.get(kind)
            if callback is None:
                self._process_unknown_message(message)
            else:
                callback(message)
            stats[kind] += 1
        except BaseException as exc:
            failure = self._failure(exc, number, line)
            if failure is None:
                raise
            raise failure from failure.__cause__

    def _failure(
        self, exc: BaseException, number: int, line: str | bytes | None
    ) -> BaseException | None:
        """What to raise for `exc`, raised while line `number` was handled (None: `exc` as it
        is), from its `__cause__`: a `RecursionError` is a line nested too deeply, an
        `InvalidInputLine` (or a message before its stream's SCHEMA, `LINE_ERRORS`) gets the
        line's number. Either way the reader is left at that line."""
        self.line_number = number
        if isinstance(exc, RecursionError):
            return self.bad_line(NESTED_TOO_DEEPLY, line)  # raised with no cause
        if isinstance(exc, LINE_ERRORS) and not str(exc).startswith("input line "):
            failure = type(exc)(f"input line {number}: {exc}")
            failure.__cause__ = exc  # raised from `exc`
            return failure
        return None

    def bad_line(self, problem: str, line: str | bytes | None) -> InvalidInputLine:
        """An error naming the current input line, quoting its start when given."""
        quoted = ""
        if line is not None:
            text = line if isinstance(line, str) else line.decode("utf-8", "backslashreplace")
            quoted = f": {text[:QUOTED_CHARS].rstrip()}"
        return InvalidInputLine(f"input line {self.line_number} {problem}{quoted}")

    @override
    def deserialize_json(self, line: str | bytes) -> dict[str, Any]:
        """One Singer message, or `InvalidInputLine` naming and quoting the line."""
        try:
            message: dict[str, Any] = self._decoder.decode(line)
        except msgspec.DecodeError as exc:
            if "UTF-8" in str(exc):
                problem = "is not valid UTF-8 (Singer messages are UTF-8 text)"
                raise self.bad_line(problem, line) from None
            raise self.bad_line(_not_json(line, str(exc)), line) from exc
        except UnicodeEncodeError as exc:  # text read with surrogateescape
            raise self.bad_line(
                "is not valid UTF-8 (Singer messages are UTF-8 text)", None
            ) from exc
        # The SDK would fail later with a bare AttributeError or ValueError on these.
        if not isinstance(message, dict):
            raise self.bad_line("is not a Singer message (a JSON object)", line)
        kind = message.get("type")
        if kind is not None and not isinstance(kind, str):
            raise self.bad_line("has a `type` that is not a string (a Singer message type)", line)
        if kind in STREAM_MESSAGE_TYPES and not isinstance(message.get("stream", ""), str):
            raise self.bad_line("has a `stream` that is not a string (a stream name)", line)
        if kind == "RECORD":
            if "record" in message and not isinstance(message["record"], dict):
                raise self.bad_line("is a RECORD whose `record` is not a JSON object", line)
        elif kind is not None and kind not in MESSAGE_TYPES:
            raise self.bad_line(f"has an unknown Singer message type {kind!r}", line)
        elif kind == "SCHEMA":
            wrong = schema_problem(message)
            if wrong is not None:
                raise self.bad_line(wrong, line)
        elif kind in REQUIRED_KEYS:  # the SDK reads these keys without checking for them
            self.assert_line_requires(message, requires=REQUIRED_KEYS[kind])
            for key, shape, name in (
                (ENCODING, dict, "a JSON object"),
                (MANIFEST, list, "an array"),
            ):
                if key in message and not isinstance(message[key], shape):
                    raise self.bad_line(f"has a `{key}` that is not {name}", line)
        return message
