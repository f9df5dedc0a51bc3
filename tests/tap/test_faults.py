"""tap-emarsys under faults: complete output equal to ground truth, or a clear error with an
unmoved bookmark. Every tap fault test is in this module (docs/reliability.md); a download cut
anywhere is proven in tests/api/test_stream_faults.py, the token renewal steps in
tests/api/test_sandbox_auth.py.

In order: every export stream under the issue's fault rates and all faults at once, both auth
schemes; an OAuth2 token expiring mid-run; a WSSE clock that is off (every clock-skew case of the
client and the tap); faults arriving mid-run, then a rerun; damaged files and corrupt state; one
fault at a time on `email_responses` over WSSE (export errors, expired files, timeouts, a
leftover export); the counts for the README.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import emarsys_api.auth
from emarsys_api import AuthenticationError, ClientSettings, EmarsysClient
from emarsys_sandbox import Sandbox
from tap_emarsys.export_runner import ExportJobError
from tap_emarsys.tap import TapEmarsys
from tap_emarsys.windows import time_range_windows
from tests.helpers.clients import wsse_client
from tests.helpers.proxy import proxy_to
from tests.helpers.tap_runs import FAST, TapOutput, run_tap, run_tap_until_error, selected_catalog
from tests.helpers.truth import EXPORT_STREAMS, TIME_RANGED_STREAMS, expected_records, typed

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

#: the command `tap-emarsys` runs (`.cli` would add console log handlers per access)
TAP_CLI = TapEmarsys.get_singer_command()
TAP = str(Path(sys.executable).parent / "tap-emarsys")
END_BOOKMARK = "2026-04-12T22:00:00+00:00"
#: records compared with ground truth over the whole module (reported in the README)
COMPARED = {"records": 0, "scenarios": 0}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=11, token_ttl=3600.0) as sandbox:
        yield sandbox


def config_for(sb: Sandbox, auth: str, **extra: Any) -> dict[str, Any]:
    settings = {"start_date": "2026-03-15", "end_date": "2026-04-13", **FAST, **extra}
    return sb.oauth_config(**settings) if auth == "oauth2" else sb.wsse_config(**settings)


def truth(sb: Sandbox, config: dict[str, Any], streams: list[str]) -> dict[str, list[dict]]:
    tap = TapEmarsys(config=config)
    return {name: expected_records(sb, tap.streams[name]) for name in streams}  # type: ignore[arg-type]


def assert_equal_truth(output: TapOutput, expected: dict[str, list[dict]]) -> None:
    for name, rows in expected.items():
        assert typed(output.records[name]) == typed(rows), name
        COMPARED["records"] += len(rows)
    for name in set(expected) & set(TIME_RANGED_STREAMS):
        assert output.bookmark(name) == END_BOOKMARK
    COMPARED["scenarios"] += 1


RECOVERABLE = [
    pytest.param({"error_rate": 0.10}, "oauth2", id="5xx-10pct"),
    pytest.param({"burst_429": 3}, "oauth2", id="429-burst"),
    pytest.param({"cut_download_every": 3}, "oauth2", id="cut-every-3rd-download"),
    pytest.param({"export_error_every": 3}, "oauth2", id="every-3rd-export-error"),
    *(
        pytest.param(
            {
                "error_rate": 0.05,
                "burst_429": 2,
                "cut_download_every": 3,
                "export_error_every": 4,
                "latency": 0.002,
            },
            auth,
            id=f"all-at-once-{auth}",
        )
        for auth in ("oauth2", "wsse")
    ),
]


@pytest.mark.parametrize(("faults", "auth"), RECOVERABLE)
def test_every_export_stream_survives(sb: Sandbox, faults: dict[str, Any], auth: str) -> None:
    """One fault at a time over OAuth2 (WSSE: `test_one_recoverable_fault_over_wsse_...`), then
    all at once."""
    config = config_for(sb, auth)
    expected = truth(sb, config, EXPORT_STREAMS)
    sb.faults.update(**faults)
    output = run_tap(config, EXPORT_STREAMS)
    assert_equal_truth(output, expected)
    statuses = {entry["status"] for entry in sb.request_log()}
    if faults.get("error_rate"):
        assert statuses & {500, 503}
    if faults.get("burst_429"):
        assert 429 in statuses


def test_oauth2_token_expires_mid_run_with_all_faults(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=40, seed=11, token_ttl=0.6)
    config = config_for(sb, "oauth2", max_concurrent_exports=2)
    expected = truth(sb, config, EXPORT_STREAMS)
    sb.faults.update(export_delay=0.3, error_rate=0.05, cut_download_every=3, burst_429=1)
    output = run_tap(config, EXPORT_STREAMS)
    assert_equal_truth(output, expected)
    log = sb.request_log()
    assert len([e for e in log if e["path"] == "/oauth2/token"]) >= 3  # renewed during the run


# --- a WSSE clock off: every clock-skew case of the connectors (the sandbox's own rule is
# tests/sandbox/test_auth.py); a clock going wrong mid-run is a cell of the matrix below ------


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_client_with_a_skewed_clock_gets_a_clear_authentication_error(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, skew: timedelta
) -> None:
    monkeypatch.setattr(emarsys_api.auth, "utc_now", lambda: datetime.now(timezone.utc) + skew)
    with pytest.raises(AuthenticationError) as caught:
        wsse_client(sandbox).settings()
    error = caught.value
    assert (error.status, error.reply_code) == (401, 1)
    assert error.endpoint == "GET /api/v2/settings"
    assert "clock" in str(error)
    assert sandbox.credentials["secret"] not in str(error)
    assert "PasswordDigest=" not in str(error)


def test_client_with_a_small_skew_is_accepted(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    skewed = datetime.now(timezone.utc) - timedelta(minutes=4)
    monkeypatch.setattr(emarsys_api.auth, "utc_now", lambda: skewed)
    assert wsse_client(sandbox).settings()


@pytest.mark.parametrize("minutes", [-4, 4])
def test_wsse_clock_within_five_minutes_is_fine(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, minutes: int
) -> None:
    skew = timedelta(minutes=minutes)
    monkeypatch.setattr(emarsys_api.auth, "utc_now", lambda: datetime.now(timezone.utc) + skew)
    config = config_for(sb, "wsse")
    expected = truth(sb, config, TIME_RANGED_STREAMS)
    sb.faults.update(error_rate=0.05, cut_download_every=3)
    assert_equal_truth(run_tap(config, TIME_RANGED_STREAMS), expected)


def test_wsse_clock_off_by_more_is_a_clear_error(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, run_command: Any, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        emarsys_api.auth, "utc_now", lambda: datetime.now(timezone.utc) + timedelta(minutes=7)
    )
    run = run_command(TAP_CLI, config_for(sb, "wsse"), tmp_path)
    assert run.exit_code == 1
    (line,) = run.error_lines
    assert "401" in line and "clock" in line
    assert sb.credentials["secret"] not in line
    assert '"RECORD"' not in run.stdout and '"STATE"' not in run.stdout
    COMPARED["scenarios"] += 1


def after_downloads(sb: Sandbox, downloads: int, change: Callable[[], None]) -> threading.Thread:
    """Call `change` once `downloads` export downloads have succeeded (a fault arriving mid-run)."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = [
                e for e in sb.request_log() if e["path"].endswith("/data") and e["status"] == 200
            ]
            if len(done) >= downloads:
                change()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


MID_RUN = [
    pytest.param({"expire_files": True}, "expired on every attempt", id="files-expire"),
    pytest.param({"export_error_every": 1}, "status `error` on every attempt", id="exports-fail"),
    pytest.param({"export_delay": 2.5}, "export_timeout=1s", id="export-timeout"),
    pytest.param({"error_rate": 1.0}, "HTTP 50", id="server-down"),
    pytest.param({"clock": timedelta(minutes=-7)}, "clock", id="wsse-clock-jumps"),
]


@pytest.mark.parametrize(("faults", "reason"), MID_RUN)
def test_fault_arriving_mid_run_stops_at_a_written_window_and_a_rerun_completes(
    sb: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    faults: dict[str, Any],
    reason: str,
) -> None:
    """The bookmark never passes a window whose records were not all written; the rerun from
    it (faults gone) delivers the rest, so the union is the ground truth with no gap."""
    stream = "email_responses"
    config = config_for(sb, "wsse", max_concurrent_exports=1, export_timeout=1.0, max_retries=1)
    expected = truth(sb, config, [stream])[stream]
    skew = {"now": timedelta(0)}
    monkeypatch.setattr(
        emarsys_api.auth, "utc_now", lambda: datetime.now(timezone.utc) + skew["now"]
    )

    def change() -> None:
        if "clock" in faults:
            skew["now"] = faults["clock"]
        else:
            sb.faults.update(**faults)

    sb.faults.update(export_delay=0.2)
    watcher = after_downloads(sb, 2, change)
    output, error = run_tap_until_error(config, [stream])
    watcher.join()
    assert isinstance(error, ExportJobError)
    assert error.stream == stream and "window [" in str(error) and reason in str(error)
    assert sb.credentials["secret"] not in str(error)
    sb.faults.reset()
    skew["now"] = timedelta(0)
    bookmark = output.bookmark(stream)
    assert bookmark is not None and bookmark < END_BOOKMARK
    written = truth(sb, {**config, "end_date": bookmark}, [stream])[stream]
    # everything up to the bookmark was written, in order, exactly once
    assert typed(output.records[stream][: len(written)]) == typed(written)

    # export_timeout raised: a leftover export still building is waited for (400/4001)
    rerun = run_tap({**config, "export_timeout": 10}, [stream], state=output.state)
    rest = output.records[stream][: len(written)] + rerun.records[stream]
    assert typed(rest) == typed(expected)
    assert rerun.bookmark(stream) == END_BOOKMARK
    COMPARED["records"] += len(expected)
    COMPARED["scenarios"] += 1


# -- one line, never a traceback: damaged files, settings and states through the real command


def rewritten(body: bytes, change: Callable[[list[list[str]]], None]) -> bytes:
    """An export file with its rows (header first) changed by `change`, written the same way."""
    text = body.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    change(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if "\r\n" in text else "\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def run_real_tap(config: dict[str, Any], tmp: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp / "config.json").write_text(json.dumps(config))
    return subprocess.run(
        [TAP, "--config", str(tmp / "config.json"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def the_error_line(proc: subprocess.CompletedProcess, *secrets: str) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert proc.returncode == 1, proc.stderr
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "An unhandled error occurred" not in proc.stderr  # the SDK's vaguer second line
    for secret in secrets:
        assert secret not in proc.stderr
    return errors[0]


DAMAGES: list[Any] = [
    pytest.param(
        lambda rows: rows[2].append("surplus"),
        "data row 2: the CSV row has {wide} fields, the header has {width}",
        id="row-with-a-field-too-many",
    ),
    pytest.param(
        lambda rows: rows[2].pop(),
        "data row 2: the CSV row has {narrow} fields, the header has {width}",
        id="row-with-a-field-too-few",
    ),
    pytest.param(
        lambda rows: rows.insert(3, list(rows[0])),
        "data row 3: the header row appears again inside the file",
        id="header-repeated-inside",
    ),
]


@pytest.mark.parametrize(("damage", "said"), DAMAGES)
def test_a_damaged_export_file_is_one_line_naming_stream_export_and_row(
    sb: Sandbox,
    tiny_server: Callable[..., str],
    tmp_path: Path,
    damage: Callable[[list[list[str]]], None],
    said: str,
) -> None:
    stream = "email_responses"
    widths: dict[str, int] = {}

    def change(number: int, body: bytes) -> bytes:
        if number > 1:
            return body

        def damaged(rows: list[list[str]]) -> None:
            widths["width"] = len(rows[0])
            damage(rows)

        return rewritten(body, damaged)

    config = {**config_for(sb, "wsse"), "base_url": tiny_server(proxy_to(sb, change))}
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(selected_catalog(TapEmarsys(config=config), [stream])))
    proc = run_real_tap(config, tmp_path, "--catalog", str(catalog))
    line = the_error_line(proc, sb.credentials["secret"])
    width = widths["width"]
    expected = said.format(width=width, wide=width + 1, narrow=width - 1)
    assert line.startswith(f"Error: Stream '{stream}', window [2026-03-14T23:00:00+00:00, ")
    assert re.search(r"\), export \d+: " + re.escape(expected), line), line
    assert "STATE" not in proc.stdout  # no window of that export was written


def test_a_huge_export_window_is_a_configuration_error(tmp_path: Path) -> None:
    """A million days fits, ten million ran past year 9999 (OverflowError)."""
    config = {"username": "u", "secret": "wsse-secret-value", "start_date": "2026-03-15"}
    proc = run_real_tap({**config, "export_window_days": 10_000_000}, tmp_path, "--discover")
    line = the_error_line(proc, "wsse-secret-value")
    assert "export_window_days" in line and "at most 36500" in line


def test_windows_never_step_past_the_end() -> None:
    zone = ZoneInfo("Europe/Vienna")
    start = datetime(2026, 3, 15, tzinfo=timezone.utc)
    end = datetime(9999, 12, 30, tzinfo=timezone.utc)
    (window,) = time_range_windows(start, end, days=999_999_999, zone=zone, whole_days=False)
    assert (window.start, window.end) == (start, end)


STATES: list[Any] = [
    pytest.param(
        '{"bookmarks": {"email_responses": {"window_end": "yesterday"}}}',
        "bookmarks.email_responses.window_end is 'yesterday', not an ISO 8601 timestamp",
        id="bookmark-not-a-timestamp",
    ),
    pytest.param(
        '{"bookmarks": {"email_responses": {"window_end": 20260401}}}',
        "bookmarks.email_responses.window_end is 20260401, not an ISO 8601 timestamp",
        id="bookmark-a-number",
    ),
    pytest.param(
        '{"bookmarks": {"email_responses": {"window_end": "2026-04-0',
        "is not JSON (",
        id="cut-short",
    ),
    pytest.param('["bookmarks"]', "is not a JSON object", id="not-an-object"),
    # passed a standard-library check, then failed in the SDK's reader with a traceback
    pytest.param('{"x": NaN}', "is not JSON (Expecting value at line 1 column 7)", id="nan"),
    pytest.param('{"bookmarks": ["x"]}', "`bookmarks` is not an object", id="bookmarks-a-list"),
    pytest.param(
        '{"bookmarks": {"email_launches": {"partitions": "x"}}}',
        "bookmarks.email_launches.partitions is 'x', not a list; fix or remove it",
        id="partitions-not-a-list",
    ),
    pytest.param(
        '{"bookmarks": {"email_launches": {"partitions": [1, "a"]}}}',
        "bookmarks.email_launches.partitions[0] is not an object",
        id="partition-not-an-object",
    ),
    pytest.param(
        '{"bookmarks": {"contact_changes": {"progress_markers": "x"}}}',
        "bookmarks.contact_changes.progress_markers is 'x', not an object",
        id="progress-markers-not-an-object",
    ),
    pytest.param(
        '{"bookmarks": {"email_launches": {"partitions": [{"context": 5}]}}}',
        "bookmarks.email_launches.partitions[0].context is 5, not an object",
        id="partition-context-not-an-object",
    ),
    pytest.param(
        '{"bookmarks": {"contact_changes": {"partitions": [{"context": {"x": 1}, '
        '"window_end": "zzz"}]}}}',
        "bookmarks.contact_changes.partitions[0].window_end is 'zzz', not an ISO 8601",
        id="partition-window-end-not-a-timestamp",
    ),
    pytest.param(
        '{"bookmarks": {"contact_changes": {"window_end": "9999-12-31T23:59:59+00:00"}}}',
        "bookmarks.contact_changes.window_end '9999-12-31T23:59:59+00:00' is outside the years",
        id="bookmark-at-the-end-of-the-calendar",
    ),
]


@pytest.mark.parametrize(("text", "said"), STATES)
def test_a_corrupt_state_file_is_one_line_naming_file_and_key(
    sb: Sandbox, tmp_path: Path, text: str, said: str
) -> None:
    state = tmp_path / "state.json"
    state.write_text(text)
    proc = run_real_tap(config_for(sb, "wsse"), tmp_path, "--state", str(state))
    line = the_error_line(proc, sb.credentials["secret"])
    assert line.startswith(f"Error: the state file {state}")
    assert said in line
    assert proc.stdout == ""  # nothing sent, no request made for a stream


@pytest.mark.parametrize("text", ["", " \n", "\ufeff{}"], ids=["empty", "blank", "bom-only"])
def test_an_empty_state_file_is_no_state(sb: Sandbox, tmp_path: Path, text: str) -> None:
    """A scheduler may create the file before the first run; the SDK could not parse it."""
    config = config_for(sb, "wsse")
    (tmp_path / "state.json").write_text(text)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(selected_catalog(TapEmarsys(config=config), [STREAM])))
    files = ["--catalog", str(catalog), "--state", str(tmp_path / "state.json")]
    proc = run_real_tap(config, tmp_path, *files)
    assert proc.returncode == 0, proc.stderr
    output = TapOutput([json.loads(line) for line in proc.stdout.splitlines()])
    assert typed(output.records[STREAM]) == typed(truth(sb, config, [STREAM])[STREAM])
    assert output.bookmark(STREAM) == END_BOOKMARK


# --- one fault at a time on one stream over WSSE ---------------------------------------------

STREAM = "email_responses"


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param({"error_rate": 0.15}, id="5xx"),
        pytest.param({"burst_429": 2}, id="429-burst"),
        pytest.param({"cut_download_every": 2}, id="cut-download"),
        pytest.param({"export_error_every": 3}, id="export-error-then-ok"),
    ],
)
def test_one_recoverable_fault_over_wsse_gives_complete_output(
    sb: Sandbox, faults: dict[str, Any]
) -> None:
    config = config_for(sb, "wsse")
    expected = truth(sb, config, [STREAM])[STREAM]
    sb.faults.update(**faults)
    output = run_tap(config, [STREAM])
    assert typed(output.records[STREAM]) == typed(expected)
    assert output.bookmark(STREAM) == END_BOOKMARK


def test_export_always_in_error_names_stream_window_and_export(sb: Sandbox) -> None:
    config = config_for(sb, "wsse", max_concurrent_exports=1)
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
    config = config_for(sb, "wsse", export_timeout=0.3)
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
    config = config_for(sb, "wsse")
    sb.faults.update(expire_files=True)
    output, error = run_tap_until_error(config, [STREAM])
    assert isinstance(error, ExportJobError)
    assert "expired on every attempt" in str(error)
    assert output.bookmark(STREAM) is None


def test_identical_export_already_running_is_waited_for(sb: Sandbox) -> None:
    # A leftover export with the tap's exact body (e.g. from a killed run) is still building:
    # Emarsys refuses a second one with 400/4001 until it is done; the tap waits, then succeeds.
    config = config_for(sb, "wsse", end_date="2026-03-22")
    stream = TapEmarsys(config=config).streams[STREAM]
    (unit,) = list(stream.units(None, [stream.account.contact_fields]))  # type: ignore[attr-defined]
    sb.faults.update(export_delay=0.6)
    client = EmarsysClient(ClientSettings.from_config(config))
    client.start_export(unit.requests[0].export_type, unit.requests[0].body)
    output = run_tap(config, [STREAM])
    assert typed(output.records[STREAM]) == typed(truth(sb, config, [STREAM])[STREAM])
    starts = [
        entry for entry in sb.request_log() if entry.get("path", "").endswith("/getresponses")
    ]
    assert len(starts) >= 3  # the leftover, at least one refused start, the tap's export


def test_report_counts() -> None:
    """Prints the module's totals for the README table (runs last in file order)."""
    print(f"\ntap fault matrix: {COMPARED['scenarios']} scenarios, {COMPARED['records']} records")
