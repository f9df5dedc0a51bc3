"""Bookmarks: run 2 from run 1's state emits nothing new; new activity arrives once; an
interrupted run resumes at the next window with nothing lost or repeated."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import FAST, run_tap
from tests.helpers.truth import TIME_RANGED_STREAMS, expected_records, typed

VIENNA = ZoneInfo("Europe/Vienna")
TAP = str(Path(sys.executable).parent / "tap-emarsys")


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=3) as sandbox:
        yield sandbox


def test_second_run_emits_nothing_and_new_activity_once(sb: Sandbox) -> None:
    config = sb.wsse_config(start_date="2026-03-15", end_date="2026-04-20", **FAST)
    first = run_tap(config, TIME_RANGED_STREAMS)
    assert all(first.records[name] for name in TIME_RANGED_STREAMS)

    second = run_tap(config, TIME_RANGED_STREAMS, state=first.state)
    assert not any(second.records[name] for name in TIME_RANGED_STREAMS)
    assert second.state["bookmarks"] == first.state["bookmarks"]

    sb.add_activity(dt.datetime(2026, 4, 25, 10, 30, tzinfo=VIENNA), contacts=3)
    later = dict(config, end_date="2026-04-27")
    third = run_tap(later, TIME_RANGED_STREAMS, state=second.state)
    for name in TIME_RANGED_STREAMS:
        records = third.records[name]
        assert len(records) == (3 if name != "email_responses" else len(records)) and records
        assert {r["contact_id"] for r in records} <= {1_000_040, 1_000_041, 1_000_042}
    stamps = {r["last_update"] for r in third.records["contact_changes"]}
    assert stamps == {"2026-04-25T08:30:00+00:00"}


def test_changes_skip_the_incomplete_day_and_get_it_later(sb: Sandbox) -> None:
    # getchanges takes dates: a run ending mid-day stops at midnight, the next run gets the day.
    config = sb.wsse_config(start_date="2026-03-15", end_date="2026-03-20T12:00:00", **FAST)
    first = run_tap(config, ["contact_changes"])
    assert first.bookmark("contact_changes") == "2026-03-19T23:00:00+00:00"
    second = run_tap(dict(config, end_date="2026-03-21"), ["contact_changes"], state=first.state)
    whole = run_tap(dict(config, end_date="2026-03-21"), ["contact_changes"])
    both = first.records["contact_changes"] + second.records["contact_changes"]
    # The key's window_start names the window a change was exported in, which differs
    # between the split and the whole run; everything else is the same.
    assert {r["window_start"] for r in second.records["contact_changes"]} == {
        "2026-03-19T23:00:00+00:00"
    }
    assert typed(_without_window(both)) == typed(_without_window(whole.records["contact_changes"]))
    assert second.records["contact_changes"]


def _without_window(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in record.items() if k != "window_start"} for record in records]


def _config_file(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def _catalog_file(tmp_path: Path, config: dict[str, Any], streams: list[str]) -> Path:
    from tests.helpers.tap_runs import selected_catalog

    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(selected_catalog(TapEmarsys(config=config), streams)))
    return path


@pytest.mark.slow
def test_killed_run_resumes_at_next_window(sb: Sandbox, tmp_path: Path) -> None:
    """A real tap process is killed (SIGKILL) after window 2 is written; run 2 resumes."""
    stream = "email_responses"
    sb.faults.update(export_delay=0.3)
    config = sb.wsse_config(
        start_date="2026-03-15",
        end_date="2026-04-13",
        export_window_days=4,
        max_concurrent_exports=2,
        **FAST,
    )
    config_path = _config_file(tmp_path, config)
    catalog_path = _catalog_file(tmp_path, config, [stream])
    proc = subprocess.Popen(
        [TAP, "--config", str(config_path), "--catalog", str(catalog_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    records: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    windows_written = 0
    for line in proc.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.append(message["record"])
        elif message["type"] == "STATE":
            state = message["value"]
            if state["bookmarks"].get(stream, {}).get("window_end"):
                windows_written += 1
                if windows_written == 2:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert state["bookmarks"][stream]["window_end"] == "2026-03-22T23:00:00+00:00"

    resumed = run_tap(config, [stream], state=state)
    stream_object = TapEmarsys(config=config).streams[stream]
    expected = expected_records(sb, stream_object)  # type: ignore[arg-type]
    # Records of the killed run up to its last STATE, then the resumed run: exactly the truth.
    assert typed(records + resumed.records[stream]) == typed(expected)
