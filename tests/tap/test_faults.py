"""Sandbox faults end in complete, correct output or a clear error with an unmoved bookmark."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emarsys_api import ClientSettings, EmarsysClient
from emarsys_sandbox import Sandbox
from tap_emarsys.export_runner import ExportJobError
from tap_emarsys.tap import TapEmarsys

from .conftest import FAST, run_tap, run_tap_until_error, selected_catalog
from .truth import expected_records, typed

STREAM = "email_responses"
TAP = str(Path(sys.executable).parent / "tap-emarsys")


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=5) as sandbox:
        yield sandbox


def config_for(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    settings = {"start_date": "2026-03-15", "end_date": "2026-04-13", **FAST, **extra}
    return sb.wsse_config(**settings)


def truth(sb: Sandbox, config: dict[str, Any]) -> list[dict[str, Any]]:
    return expected_records(sb, TapEmarsys(config=config).streams[STREAM])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param({"error_rate": 0.15}, id="5xx"),
        pytest.param({"burst_429": 2}, id="429-burst"),
        pytest.param({"cut_download_every": 2}, id="cut-download"),
        pytest.param({"export_error_every": 3}, id="export-error-then-ok"),
    ],
)
def test_recoverable_faults_give_complete_output(sb: Sandbox, faults: dict[str, Any]) -> None:
    config = config_for(sb)
    expected = truth(sb, config)
    sb.faults.update(**faults)
    output = run_tap(config, [STREAM])
    assert typed(output.records[STREAM]) == typed(expected)
    assert output.bookmark(STREAM) == "2026-04-12T22:00:00+00:00"


def test_export_always_in_error_names_stream_window_and_export(sb: Sandbox) -> None:
    config = config_for(sb, max_concurrent_exports=1)
    bookmark = "2026-03-22T23:00:00+00:00"
    sb.faults.update(export_error_every=1)
    output, error = run_tap_until_error(
        config, [STREAM], state={"bookmarks": {STREAM: {"window_end": bookmark}}}
    )
    assert isinstance(error, ExportJobError)
    message = str(error)
    assert f"Stream '{STREAM}', window [{bookmark}" in message
    assert re.search(r"export \d+ failed: status `error` on every attempt", message)
    assert error.export_id is not None
    assert output.records[STREAM] == []
    assert output.bookmark(STREAM) == bookmark


def test_slow_export_past_timeout_is_a_clear_error_and_nonzero_exit(
    sb: Sandbox, tmp_path: Path
) -> None:
    config = config_for(sb, export_timeout=0.3)
    sb.faults.update(export_delay=3.0)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(selected_catalog(TapEmarsys(config=config), [STREAM])))
    state = {"bookmarks": {STREAM: {"window_end": "2026-03-22T23:00:00+00:00"}}}
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(state))
    proc = subprocess.run(
        [
            TAP,
            "--config",
            str(config_path),
            "--catalog",
            str(catalog_path),
            "--state",
            str(state_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "not done within export_timeout=0.3s" in proc.stderr
    assert f"Stream '{STREAM}', window [2026-03-22T23:00:00+00:00" in proc.stderr
    assert config["secret"] not in proc.stderr
    states = [json.loads(line)["value"] for line in proc.stdout.splitlines() if '"STATE"' in line]
    assert all(s["bookmarks"][STREAM]["window_end"] == "2026-03-22T23:00:00+00:00" for s in states)
    assert '"RECORD"' not in proc.stdout


def test_expired_files_are_requested_again_then_fail_clearly(sb: Sandbox) -> None:
    config = config_for(sb)
    sb.faults.update(expire_files=True)
    output, error = run_tap_until_error(config, [STREAM])
    assert isinstance(error, ExportJobError)
    assert "expired on every attempt" in str(error)
    assert output.bookmark(STREAM) is None


def test_identical_export_already_running_is_waited_for(sb: Sandbox) -> None:
    # A leftover export with the tap's exact body (e.g. from a killed run) is still building:
    # Emarsys refuses a second one with 400/4001 until it is done; the tap waits, then succeeds.
    config = config_for(sb, end_date="2026-03-22")
    stream = TapEmarsys(config=config).streams[STREAM]
    (unit,) = list(stream.units(None, [stream.account.contact_fields]))  # type: ignore[attr-defined]
    sb.faults.update(export_delay=0.6)
    client = EmarsysClient(ClientSettings.from_config(config))
    client.start_export(unit.requests[0].export_type, unit.requests[0].body)
    output = run_tap(config, [STREAM])
    assert typed(output.records[STREAM]) == typed(truth(sb, config))
    starts = [
        entry for entry in sb.request_log() if entry.get("path", "").endswith("/getresponses")
    ]
    assert len(starts) >= 3  # the leftover, at least one refused start, the tap's export
