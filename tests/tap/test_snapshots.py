"""ACTIVATE_VERSION leaves only after a whole snapshot was written; a failed one sends none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.tap_runs import FAST, TapOutput, run_tap, run_tap_until_error

SNAPSHOT_STREAMS = ["contact_list_members", "segment_members"]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=3) as sandbox:
        yield sandbox


def config(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    return sb.wsse_config(
        start_date="2026-04-06",
        end_date="2026-04-13",
        emit_activate_version_messages=True,
        **FAST,
        **extra,
    )


def positions(output: TapOutput, stream: str) -> tuple[list[int], list[int]]:
    """Indexes of the stream's RECORD and ACTIVATE_VERSION messages in the output."""
    records, activations = [], []
    for index, message in enumerate(output.messages):
        if message.get("stream") != stream:
            continue
        if message["type"] == "RECORD":
            records.append(index)
        elif message["type"] == "ACTIVATE_VERSION":
            activations.append(index)
    return records, activations


@pytest.fixture(scope="module")
def output(sb: Sandbox) -> TapOutput:
    return run_tap(config(sb))


@pytest.mark.parametrize(
    "stream", [*SNAPSHOT_STREAMS, "contact_lists", "segments", "email_campaigns", "contact_fields"]
)
def test_full_table_streams_activate_once_after_their_last_record(
    output: TapOutput, stream: str
) -> None:
    records, activations = positions(output, stream)
    assert records, f"{stream} should have records"
    assert len(activations) == 1
    assert activations[0] > records[-1]
    version = output.messages[activations[0]]["version"]
    assert {output.messages[i].get("version") for i in records} == {version}


@pytest.mark.parametrize(
    "stream",
    [
        "contact_changes",
        "contact_registrations",
        "email_responses",
        "email_launches",
        "email_delivery_status",
    ],
)
def test_incremental_and_child_streams_never_activate(output: TapOutput, stream: str) -> None:
    records, activations = positions(output, stream)
    assert records
    assert activations == []


def test_a_later_run_activates_a_larger_version(sb: Sandbox, output: TapOutput) -> None:
    again = run_tap(config(sb), streams=["segment_members"])
    first = [
        m["version"]
        for m in output.messages
        if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "segment_members"
    ]
    second = [m["version"] for m in again.messages if m["type"] == "ACTIVATE_VERSION"]
    assert second[0] > first[0]


def test_member_rows_carry_the_snapshot_time(output: TapOutput) -> None:
    for stream in SNAPSHOT_STREAMS:
        stamps = {record["snapshot_at"] for record in output.records[stream]}
        assert len(stamps) == 1
        assert next(iter(stamps)).endswith("+00:00")


def test_a_failed_snapshot_sends_no_activate_version(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=40, seed=3)
    sb.faults.update(export_error_every=1)  # every export ends in `error`, every attempt
    out, error = run_tap_until_error(config(sb), ["contact_list_members"])
    assert "contact_list_members" in str(error)
    assert not [m for m in out.messages if m["type"] == "ACTIVATE_VERSION"]


def test_without_the_setting_no_activate_version(sb: Sandbox) -> None:
    cfg = config(sb)
    cfg["emit_activate_version_messages"] = False
    out = run_tap(cfg, streams=SNAPSHOT_STREAMS)
    assert out.records["segment_members"]
    assert not [m for m in out.messages if m["type"] == "ACTIVATE_VERSION"]


def test_every_download_is_one_log_line(sb: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    out = run_tap(config(sb), streams=["segment_members"])
    lines = [r.getMessage() for r in caplog.records if " downloaded: " in r.getMessage()]
    segments = {record["segment_id"] for record in out.records["segment_members"]}
    assert len(lines) >= len(segments)
    assert all("Stream 'segment_members', segment_id " in line for line in lines)
    rows = sum(int(line.split(" downloaded: ")[1].split(" rows")[0]) for line in lines)
    assert rows == len(out.records["segment_members"])
