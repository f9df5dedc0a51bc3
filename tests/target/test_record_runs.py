"""Records taken in runs, a block of input at a time, give exactly what one at a time gives.

The reader hands the usual RECORDs of each block on together (`SingerLineReader.take_runs`),
and a plain relational sink checks and converts them in one call each
(`SinkOverrides.take_run`). These tests feed the same input both ways, with a recording
client, and compare every request, STATE line, rejected row and count; and they check the
reader's blocks, order and line numbers on their own.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import InvalidInputLine

from target_emarsys.errors import InvalidRowError
from target_emarsys.reader import SingerLineReader, read_blocks
from target_emarsys.sinks.relational import RelationalSink
from target_emarsys.target import TargetEmarsys
from tests.helpers.recording_client import RecordingClient
from tests.helpers.target_run import TargetRun, lines, record, schema, state

S_PROPERTIES = {
    "id": {"type": "integer"},
    "n": {"type": ["integer", "null"]},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "s": {"type": ["string", "null"]},
}
U_PROPERTIES = {"k": {"type": "string"}, "x": {"type": ["number", "null"]}}
DESTINATIONS = {
    "s": {"type": "relational", "table": "t"},
    "u": {"type": "relational", "table": "u"},
}


class ChunkedInput(io.RawIOBase):
    """Binary input whose `read1` returns at most `chunk` bytes, as a pipe may."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self._data = memoryview(data)
        self._chunk = chunk
        self.reads = 0

    def read1(self, size: int = -1) -> bytes:
        self.reads += 1
        piece = bytes(self._data[: min(size, self._chunk)])
        self._data = self._data[len(piece) :]
        return piece


def mixed_input(seed: int, count: int = 3000, clean: int = 0) -> bytes:
    """Two streams, STATEs, blank lines, and records of every kind the record path tells
    apart: valid, sparse, with an extra property, invalid, not surely valid, a date-time that
    does not convert, repeated keys. The first `clean` records are all valid."""
    rng = random.Random(seed)
    messages: list[Any] = [schema("s", S_PROPERTIES, ["id"]), schema("u", U_PROPERTIES)]
    stream = "s"
    for i in range(count):
        if rng.random() < 0.03:  # streams come in stretches, as taps send them
            stream = "u" if stream == "s" else "s"
        if stream == "s":
            values: dict[str, Any] = {"id": i % 700, "n": i, "at": "2026-03-29T01:30:00Z", "s": "ü"}
            kind = rng.random() if i >= clean else 1.0
            if kind < 0.02:
                del values["n"]
            elif kind < 0.04:
                values["extra"] = [1, 2]
            elif kind < 0.06:
                values["n"] = "seven"  # invalid: rejected
            elif kind < 0.07:
                values["at"] = "0001-01-01T00:00:00+14:00"  # valid, but no Vienna DATETIME
            elif kind < 0.08:
                values["at"] = "not a time"  # invalid format
            elif kind < 0.09:
                values["n"] = 3.0  # not surely valid: the full check decides
            messages.append(record("s", **values))
        else:
            messages.append(record("u", k=f"k{i}", x=i / 4))
        if rng.random() < 0.01:
            messages.append(state({"through": i}))
        if rng.random() < 0.005:
            messages.append(None)  # a blank line
    return jsonl(*messages)


def feed(data: bytes, tmp_path: Path, *, runs: bool, chunk: int, **config: Any) -> dict[str, Any]:
    """Everything one run shows: requests, STATE lines, rejected rows, counts (or error)."""
    rejects = tmp_path / f"rejects-{runs}-{chunk}.jsonl"
    run = TargetRun(
        {
            "stream_destinations": DESTINATIONS,
            "max_parallel_requests": 1,  # requests in the order they are made
            "batch_size_rows": 97,  # batches end inside runs
            "rejected_rows_path": str(rejects),
            **config,
        },
        RecordingClient(),
    )
    if not runs:
        run.target.message_reader.take_runs = None  # type: ignore[attr-defined]
    out = io.StringIO()
    error = counts = None
    with contextlib.redirect_stdout(out):
        try:
            counts = run.target.process_lines(ChunkedInput(data, chunk))  # type: ignore[arg-type]
            run.target.process_endofpipe()
        except Exception as exc:  # compared between the two ways
            error = (type(exc).__name__, str(exc))
            run.target._pool.settle()  # type: ignore[attr-defined]
    return {
        "calls": run.client.calls,
        "states": out.getvalue().splitlines(),
        "rejects": rejects.read_text().splitlines() if rejects.exists() else [],
        "counts": counts,
        "error": error,
    }


@pytest.fixture
def runs_taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the runs relational sinks processed together."""
    sizes: list[int] = []
    process_record_run = RelationalSink.process_record_run

    def counted(self: RelationalSink, records: list[Any], context: dict[str, Any]) -> bool:
        taken = process_record_run(self, records, context)
        if taken:
            sizes.append(len(records))
        return taken

    monkeypatch.setattr(RelationalSink, "process_record_run", counted)
    return sizes


@pytest.mark.parametrize("chunk", [61, 4096, 1 << 16])
@pytest.mark.parametrize("seed", [1, 2])
def test_runs_give_what_one_at_a_time_gives(
    tmp_path: Path, runs_taken: list[int], chunk: int, seed: int
) -> None:
    data = mixed_input(seed)
    one_by_one = feed(data, tmp_path, runs=False, chunk=chunk, on_record_error="log")
    assert not runs_taken
    taken = feed(data, tmp_path, runs=True, chunk=chunk, on_record_error="log")
    assert taken == one_by_one
    assert one_by_one["error"] is None
    assert len(one_by_one["rejects"]) > 50  # both sides of every branch were taken
    assert sum(runs_taken) > 1000
    if chunk > 4000:
        assert max(runs_taken) > 20


@pytest.mark.parametrize("chunk", [61, 1 << 16])
def test_a_run_stops_at_the_same_record_in_fail_mode(tmp_path: Path, chunk: int) -> None:
    data = mixed_input(3, clean=500)
    one_by_one = feed(data, tmp_path, runs=False, chunk=chunk)
    taken = feed(data, tmp_path, runs=True, chunk=chunk)
    assert taken == one_by_one
    assert one_by_one["error"] is not None
    assert one_by_one["calls"]  # batches before the bad record were written


def test_a_row_error_inside_a_run_is_the_record_s_own(tmp_path: Path) -> None:
    """The one record of a run whose date-time does not convert is rejected; the others of
    its run are written, in order."""
    messages = [schema("s", S_PROPERTIES, ["id"])]
    messages += [
        record("s", id=i, n=i, s="x", at="0001-01-01T00:00:00+14:00" if i == 5 else None)
        for i in range(10)
    ]
    data = jsonl(*messages)
    seen = feed(data, tmp_path, runs=True, chunk=1 << 16, on_record_error="log")
    ((_, (_, _, rows)),) = seen["calls"]
    assert [row["id"] for row in rows] == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert [json.loads(line)["key"] for line in seen["rejects"]] == ["id=5"]
    with pytest.raises(InvalidRowError, match="record id=5: column at"):
        run = TargetRun({"stream_destinations": DESTINATIONS}, RecordingClient())
        run.target.process_lines(ChunkedInput(data, 1 << 16))  # type: ignore[arg-type]


# The reader on its own


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 16])
def test_blocks_are_the_lines_of_the_input(chunk: int) -> None:
    long_line = b'{"a": "' + b"x" * 500 + b'"}'
    data = b"one\n\ntwo\r\n" + long_line + b"\n\nthree\nlast without end"
    source = ChunkedInput(data, chunk)
    blocks = list(read_blocks(source.read1))
    assert [line for block in blocks for line in block] == data.split(b"\n")
    assert all(blocks)
    assert source.reads >= len(data) // chunk


def test_blocks_come_one_read_at_a_time() -> None:
    """Each read's lines are handed on before the next read, which may wait for input."""
    source = ChunkedInput(b"a\nb\nc\nd\ne\n", 4)
    blocks = read_blocks(source.read1)
    assert next(blocks) == [b"a", b"b"]
    assert source.reads == 1
    assert next(blocks) == [b"c", b"d"]
    assert source.reads == 2


def test_an_input_ending_in_a_line_end_has_no_extra_line() -> None:
    assert list(read_blocks(ChunkedInput(b"a\nb\n", 1 << 16).read1)) == [[b"a", b"b"]]
    assert list(read_blocks(ChunkedInput(b"", 1 << 16).read1)) == []


def reader_events(
    text: bytes, take: Callable[[str, list[dict[str, Any]]], int] | None
) -> list[Any]:
    """What the reader hands on, in order: runs offered, records, other messages."""
    events: list[Any] = []
    reader = SingerLineReader()

    def take_runs(stream: str, run: list[dict[str, Any]]) -> int:
        events.append(("run", stream, [m["record"]["i"] for m in run]))
        return take(stream, run) if take else 0

    reader.take_runs = take_runs
    callbacks = {
        "RECORD": lambda m: events.append(("record", m["record"]["i"])),
        "STATE": lambda m: events.append(("state", m["value"])),
    }
    counts = reader.process_lines(ChunkedInput(text, 1 << 16), callbacks)  # type: ignore[arg-type]
    events.append(("counts", dict(counts)))
    return events


def jsonl(*messages: Any) -> bytes:
    """Singer input as bytes (None: a blank line)."""
    return lines(messages).encode()


def test_runs_are_one_stream_each_and_end_at_every_other_line() -> None:
    text = jsonl(
        record("a", i=1),
        record("a", i=2),
        record("b", i=3),
        state(1),
        record("b", i=4),
        None,
        record("b", i=5),
        record("a", i=6),
    )
    events = reader_events(text, take=lambda stream, run: len(run) if stream == "b" else 0)
    assert events == [
        ("run", "a", [1, 2]),
        ("record", 1),  # not taken as a run: one by one, in order
        ("record", 2),
        ("run", "b", [3]),  # taken as a run: not handed on again
        ("state", 1),
        ("run", "b", [4]),
        ("run", "b", [5]),
        ("run", "a", [6]),
        ("record", 6),
        ("counts", {"RECORD": 6, "STATE": 1}),
    ]


def test_a_run_taken_in_part_hands_on_the_rest_one_by_one() -> None:
    events = reader_events(jsonl(*[record("a", i=i) for i in range(5)]), take=lambda s, r: 3)
    assert events[:-1] == [("run", "a", [0, 1, 2, 3, 4]), ("record", 3), ("record", 4)]


def test_a_record_of_a_run_fails_with_its_own_line_number() -> None:
    text = jsonl(state(0), *[record("a", i=i) for i in range(6)])

    def take(stream: str, run: list[dict[str, Any]]) -> int:
        return 2  # the first two (lines 2 and 3) are taken, the rest go one by one

    reader = SingerLineReader()
    reader.take_runs = take

    def on_record(message: dict[str, Any]) -> None:
        if message["record"]["i"] == 4:
            raise InvalidInputLine("record 4 is wrong")

    with pytest.raises(InvalidInputLine, match=r"^input line 6: record 4 is wrong$"):
        reader.process_lines(
            ChunkedInput(text, 1 << 16),  # type: ignore[arg-type]
            {"RECORD": on_record, "STATE": lambda m: None},
        )
    assert reader.line_number == 6


def test_records_past_the_record_age_drain_after_the_same_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the record age has passed as a run starts, the SDK drains after its first
    record: so does the run path (here the age has always passed: one row per request)."""
    monkeypatch.setattr(TargetEmarsys, "_MAX_RECORD_AGE_IN_MINUTES", -1.0)
    messages = [schema("s", S_PROPERTIES, ["id"])]
    messages += [record("s", id=i, n=i, at=None, s="x") for i in range(5)]
    data = jsonl(*messages)
    one_by_one = feed(data, tmp_path, runs=False, chunk=1 << 16)
    taken = feed(data, tmp_path, runs=True, chunk=1 << 16)
    assert taken == one_by_one
    assert [len(rows) for _, (_, _, rows) in taken["calls"]] == [1, 1, 1, 1, 1]


def test_after_a_failed_record_the_reader_is_at_its_line(tmp_path: Path) -> None:
    messages = [schema("s", S_PROPERTIES, ["id"])]
    messages += [record("s", id=i, n="seven" if i == 4 else i, at=None, s="x") for i in range(9)]
    data = jsonl(*messages)
    for runs in (True, False):
        run = TargetRun({"stream_destinations": DESTINATIONS}, RecordingClient())
        if not runs:
            run.target.message_reader.take_runs = None  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="record id=4"):
            run.target.process_lines(ChunkedInput(data, 1 << 16))  # type: ignore[arg-type]
        assert run.target.message_reader.line_number == 6  # type: ignore[attr-defined]


def test_a_state_may_name_a_null_stream() -> None:
    text = jsonl(record("a", i=1), {"type": "STATE", "value": 1, "stream": None})
    assert reader_events(text, take=None)[-2:] == [
        ("state", 1),
        ("counts", {"RECORD": 1, "STATE": 1}),
    ]


def test_a_record_too_deep_to_process_inside_a_run_is_quoted_with_its_line() -> None:
    text = jsonl(*[record("a", i=i) for i in range(4)])
    reader = SingerLineReader()
    reader.take_runs = lambda stream, run: 1

    def on_record(message: dict[str, Any]) -> None:
        if message["record"]["i"] == 2:
            raise RecursionError

    with pytest.raises(InvalidInputLine, match=r'^input line 3 is nested too deeply.*: \{"type"'):
        reader.process_lines(ChunkedInput(text, 1 << 16), {"RECORD": on_record})  # type: ignore[arg-type]


def test_a_sink_that_prepares_rows_its_own_way_takes_records_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class OwnRows(RelationalSink):
        def prepare_row(self, record: dict[str, Any]) -> Any:
            return {**super().prepare_row(record), "s": "own"}

    run = TargetRun({"stream_destinations": DESTINATIONS}, RecordingClient())
    monkeypatch.setattr(run.target, "get_sink_class", lambda stream_name: OwnRows)
    messages = [schema("s", S_PROPERTIES, ["id"])]
    messages += [record("s", id=i, n=i, at=None, s="x") for i in range(3)]
    run.target.process_lines(ChunkedInput(jsonl(*messages), 1 << 16))  # type: ignore[arg-type]
    run.target.process_endofpipe()
    ((_, (_, _, rows)),) = run.client.calls
    assert [row["s"] for row in rows] == ["own", "own", "own"]
