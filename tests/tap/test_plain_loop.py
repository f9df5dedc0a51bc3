"""The export streams' own record loop writes exactly what the SDK's loop writes.

`TypedRecordWriting.plain_loop` stands in for `Stream._sync_records` when that loop would do
nothing per record but write and count it (`plain_loop_applies`). These tests run the same
sync both ways and compare every message and metric, also when the run fails part way, and
check when the stand-in may not be used.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from emarsys_sandbox import Sandbox
from tap_emarsys.export_stream import ExportStream
from tap_emarsys.sdk_overrides import TypedRecordWriting
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import FAST, TapOutput, run_tap, run_tap_until_error
from tests.helpers.truth import EXPORT_STREAMS

STREAMS = EXPORT_STREAMS


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=5) as sandbox:
        yield sandbox


def config_for(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    settings = {
        "start_date": "2026-03-20",
        "end_date": "2026-04-03",
        "export_window_days": 7,  # two windows: two exports, each read at its own time
        "contact_fields": [1, 3],
        "emit_activate_version_messages": True,  # RECORDs of full-table streams carry a version
        **FAST,
        **extra,
    }
    return sb.wsse_config(**settings)


def comparable(output: TapOutput) -> list[dict[str, Any]]:
    """The messages with the clock taken out: each `time_extracted` and `version` becomes its
    rank among the values of the run, and a snapshot's whole-second `snapshot_at` a stand-in."""
    ranks: dict[str, dict[Any, str]] = {"time_extracted": {}, "version": {}}
    messages = []
    for message in output.messages:
        copied = orjson.loads(orjson.dumps(message))
        for key, seen in ranks.items():
            if key in copied:
                copied[key] = seen.setdefault(copied[key], f"<{key} {len(seen)}>")
        record = copied.get("record", {})
        if "snapshot_at" in record:
            record["snapshot_at"] = "<snapshot_at>"
        messages.append(copied)
    return messages


def metric_points(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    points = []
    for line in caplog.messages:
        if line.startswith("METRIC: "):
            point = orjson.loads(line.removeprefix("METRIC: "))
            point["tags"].pop("pid", None)
            points.append(point)
    return points


def metric_summary(points: list[dict[str, Any]]) -> Counter[str]:
    """Per metric and tags: record counts summed, timers counted (their values are times)."""
    summary: Counter[str] = Counter()
    for point in points:
        name = f"{point['type']} {point['metric']} {orjson.dumps(point['tags']).decode()}"
        summary[name] += point["value"] if point["type"] == "counter" else 1
    return summary


@pytest.fixture
def often(monkeypatch: pytest.MonkeyPatch) -> None:
    """STATE every 7 records and the counter every 6, so a small sync passes both points."""
    monkeypatch.setattr(TypedRecordWriting, "STATE_MSG_FREQUENCY", 7)
    monkeypatch.setattr(TypedRecordWriting, "COUNT_EVERY", 6)


def sdk_loop_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        TypedRecordWriting, "plain_loop_applies", lambda self, context, *, write_messages: False
    )


def both_ways(
    run: Callable[[], TapOutput], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> tuple[tuple[TapOutput, list[dict[str, Any]]], tuple[TapOutput, list[dict[str, Any]]]]:
    """`run` with the plain loop, then with the SDK's loop only: each output and its metrics."""
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    plain = run()
    plain_points = metric_points(caplog)
    caplog.clear()
    with monkeypatch.context() as patch:
        sdk_loop_only(patch)
        sdk = run()
    return (plain, plain_points), (sdk, metric_points(caplog))


@pytest.mark.usefixtures("often")
def test_the_plain_loop_writes_every_message_and_metric_the_sdk_loop_writes(
    sb: Sandbox, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(sb)
    (plain, plain_points), (sdk, sdk_points) = both_ways(
        lambda: run_tap(config, STREAMS), caplog, monkeypatch
    )
    assert comparable(plain) == comparable(sdk)
    assert metric_summary(plain_points) == metric_summary(sdk_points)
    counted = {
        p["tags"]["stream"]: p["value"] for p in plain_points if p["metric"] == "record_count"
    }
    for name in STREAMS:
        records = plain.records[name]
        assert len(records) > 7, name  # every stream passed a periodic STATE
        assert counted[name] == len(records)
        assert len(records) % 6  # a remainder the last increment must add
    assert {p["metric"] for p in plain_points} == {"record_count", "sync_duration"}
    # each export's records carry the time it was read: more than one time per windowed stream
    times = {
        m["time_extracted"]
        for m in plain.messages
        if m["type"] == "RECORD" and m["stream"] == "email_responses"
    }
    assert len(times) > 1
    # the version of a snapshot's records is the one its ACTIVATE_VERSION activates
    activated = {
        m["stream"]: m["version"] for m in plain.messages if m["type"] == "ACTIVATE_VERSION"
    }
    for message in plain.messages:
        if message["type"] == "RECORD" and "version" in message:
            assert message["version"] == activated[message["stream"]]
    assert set(activated) == {"contact_list_members", "segment_members"}


def fail_after_records(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """`get_records` of every export stream raises once it handed out `count` records."""
    original = ExportStream.get_records

    def failing(self: ExportStream, context: Any) -> Iterator[dict[str, Any]]:
        for number, record in enumerate(original(self, context), 1):
            yield record
            if number == count:
                raise RuntimeError("the export broke off")

    monkeypatch.setattr(ExportStream, "get_records", failing)


def fail_at_first_periodic_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first STATE written after 7 records raises (a reader that went away, say)."""
    original = TypedRecordWriting._write_state_message
    calls = Counter[int]()

    def failing(self: TypedRecordWriting) -> None:
        calls[id(self)] += 1
        if not self.state_manager.is_flushed and calls[id(self)] > 1:
            raise RuntimeError("STATE could not be written")
        original(self)

    monkeypatch.setattr(TypedRecordWriting, "_write_state_message", failing)


@pytest.mark.usefixtures("often")
@pytest.mark.parametrize(
    "failure",
    [lambda patch: fail_after_records(patch, 13), fail_at_first_periodic_state],
    ids=["records-fail", "state-fails"],
)
def test_a_run_failing_part_way_counts_what_the_sdk_loop_counts(
    sb: Sandbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    failure: Callable[[pytest.MonkeyPatch], None],
) -> None:
    config = config_for(sb)
    failure(monkeypatch)
    outputs: list[TapOutput] = []

    def run() -> TapOutput:
        output, error = run_tap_until_error(config, ["email_responses"])
        assert isinstance(error, RuntimeError)
        outputs.append(output)
        return output

    (plain, plain_points), (sdk, sdk_points) = both_ways(run, caplog, monkeypatch)
    assert comparable(plain) == comparable(sdk)
    assert metric_summary(plain_points) == metric_summary(sdk_points)
    timers = [p for p in plain_points if p["metric"] == "sync_duration"]
    assert [t["tags"]["status"] for t in timers] == ["failed"]


def stream_of(config: dict[str, Any], name: str) -> TypedRecordWriting:
    stream = TapEmarsys(config=config).streams[name]
    assert isinstance(stream, TypedRecordWriting)
    return stream


@pytest.mark.parametrize("name", STREAMS)
def test_every_export_stream_takes_the_plain_loop_by_default(sb: Sandbox, name: str) -> None:
    assert stream_of(config_for(sb), name).plain_loop_applies(None, write_messages=True)


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"stream_maps": {"email_responses": {"extra": "1"}}}, "a map that changes records"),
        ({"stream_maps": {"email_responses": {"__filter__": "True"}}}, "a filtering map"),
        ({"flattening_enabled": True, "flattening_max_depth": 1}, "flattening"),
    ],
)
def test_a_stream_map_that_may_change_records_takes_the_sdk_loop(
    sb: Sandbox, extra: dict[str, Any], why: str
) -> None:
    stream = stream_of(config_for(sb, **extra), "email_responses")
    assert not stream.plain_loop_applies(None, write_messages=True), why


def test_the_sdk_loop_runs_for_a_record_limit_a_context_or_unwritten_records(
    sb: Sandbox,
) -> None:
    stream = stream_of(config_for(sb), "email_responses")
    assert not stream.plain_loop_applies({"list": 1}, write_messages=True)
    assert not stream.plain_loop_applies(None, write_messages=False)
    stream.ABORT_AT_RECORD_COUNT = 1  # what `--test` sets
    assert not stream.plain_loop_applies(None, write_messages=True)


def test_a_per_record_hook_of_a_subclass_takes_the_sdk_loop(sb: Sandbox) -> None:
    stream = stream_of(config_for(sb), "email_responses")

    class PostProcessed(type(stream)):  # type: ignore[misc]
        def post_process(self, row: dict[str, Any], context: Any = None) -> dict[str, Any]:
            return row

    stream.__class__ = PostProcessed
    assert not stream.plain_loop_applies(None, write_messages=True)


def test_a_mapped_stream_still_writes_mapped_records(sb: Sandbox) -> None:
    config = config_for(sb, stream_maps={"email_responses": {"extra": "'x'"}})
    records = run_tap(config, ["email_responses"]).records["email_responses"]
    assert records and all(record["extra"] == "x" for record in records)
