"""The export streams' own record loop writes exactly what the SDK's loop writes.

`TypedRecordWriting.plain_loop` stands in for `Stream._sync_records` when that loop would do
nothing per record but write and count it (`plain_loop_applies`). These tests run the same
sync both ways and compare every message, and check when the stand-in may not be used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from emarsys_sandbox import Sandbox
from tap_emarsys.sdk_overrides import TypedRecordWriting
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import FAST, TapOutput, run_tap

STREAMS = ["email_responses", "contact_list_members", "contact_changes"]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=5) as sandbox:
        yield sandbox


def config_for(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    settings = {
        "start_date": "2026-03-20",
        "end_date": "2026-04-03",
        "contact_fields": [1, 3],
        "emit_activate_version_messages": True,  # RECORDs of full-table streams carry a version
        **FAST,
        **extra,
    }
    return sb.wsse_config(**settings)


def comparable(output: TapOutput) -> list[dict[str, Any]]:
    """The messages with what differs between two runs by design (the clock) taken out."""
    messages = []
    for message in output.messages:
        copied = orjson.loads(orjson.dumps(message))
        copied.pop("time_extracted", None)
        if "version" in copied:
            copied["version"] = "<version>"
        messages.append(copied)
    return messages


@pytest.fixture
def often(monkeypatch: pytest.MonkeyPatch) -> None:
    """STATE every 7 records and the counter every 5, so a small sync passes both points."""
    monkeypatch.setattr(TypedRecordWriting, "STATE_MSG_FREQUENCY", 7)
    monkeypatch.setattr(TypedRecordWriting, "COUNT_EVERY", 5)


def sdk_loop_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        TypedRecordWriting, "plain_loop_applies", lambda self, context, *, write_messages: False
    )


@pytest.mark.usefixtures("often")
def test_the_plain_loop_writes_every_message_the_sdk_loop_writes(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(sb)
    plain = run_tap(config, STREAMS)
    with monkeypatch.context() as patch:
        sdk_loop_only(patch)
        sdk = run_tap(config, STREAMS)
    assert comparable(plain) == comparable(sdk)
    for name in STREAMS:
        assert len(plain.records[name]) > 7, name  # every stream passed a periodic STATE
    versions = {m.get("version") for m in plain.messages if m["type"] == "RECORD"}
    assert None in versions and len(versions) > 1  # both message shapes were written
    assert sum(m["type"] == "STATE" for m in plain.messages) > len(STREAMS) * 2


@pytest.mark.usefixtures("often")
def test_the_record_counter_counts_every_record(
    sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    output = run_tap(config_for(sb), ["email_responses"])
    counted = 0
    for line in caplog.messages:
        if line.startswith("METRIC: "):
            point = orjson.loads(line.removeprefix("METRIC: "))
            if point["metric"] == "record_count":
                counted += point["value"]
    records = len(output.records["email_responses"])
    assert records % 5  # a remainder the last increment must add
    assert counted == records


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
        ({"flattening_enabled": True, "flattening_max_depth": 1}, "flattening"),
    ],
)
def test_a_stream_map_that_changes_records_takes_the_sdk_loop(
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


def test_a_mapped_stream_still_writes_mapped_records(sb: Sandbox) -> None:
    config = config_for(sb, stream_maps={"email_responses": {"extra": "'x'"}})
    records = run_tap(config, ["email_responses"]).records["email_responses"]
    assert records and all(record["extra"] == "x" for record in records)
