"""Export lifecycle, downloads and the account's zone under every variant (docs/emarsys-api.md §12).

Each case runs the tap against a sandbox answering the other reading of the documentation and
compares the export streams' records with the ground truth (`truth.expected_records`), or checks
the one-line error: exports that stay `ready` (§12.4), download paging with cut downloads
(§12.5), an account outside Vienna's zone (§12.7), and missing permissions (§12.8).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from emarsys_sandbox import Sandbox
from tap_emarsys.export_stream import ExportStream
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import FAST, TapOutput, run_tap, run_tap_until_error, selected_catalog
from tests.helpers.truth import EXPORT_STREAMS, expected_records, typed

RANGE = {"start_date": "2026-03-20", "end_date": "2026-04-03", "export_window_days": 7}


def assert_ground_truth(sb: Sandbox, config: dict[str, Any], output: TapOutput) -> None:
    """Every export stream's records equal the sandbox's rows for the tap's own units."""
    tap = TapEmarsys(config=config)
    for name in EXPORT_STREAMS:
        stream = tap.streams[name]
        assert isinstance(stream, ExportStream)
        expected = expected_records(sb, stream)
        assert expected, f"the sandbox should have data for {name}"
        got = output.records[name]
        assert len(got) == len(expected), name
        assert typed(got) == typed(expected), name


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """`make(**options)`: a small sandbox closed at the end of the module."""
    made: list[Sandbox] = []

    def make(**options: Any) -> Sandbox:
        sb = Sandbox(contacts=40, seed=11, **options).start()
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.close()


# -- §12.4: local exports that stay `ready` --------------------------------------------------


def test_exports_that_stay_ready_are_read_after_the_grace(
    module_sandbox: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    sb = module_sandbox(ready_is_final=True)
    config = sb.wsse_config(**RANGE, **FAST, export_ready_grace=0.05)
    with caplog.at_level(logging.INFO):
        output = run_tap(config, EXPORT_STREAMS)
    assert_ground_truth(sb, config, output)
    assert "stays `ready` but its file can be downloaded" in caplog.text


def test_webdav_exports_that_stay_ready_are_read_through_the_api(
    module_sandbox: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    """A `ready` status names no file yet, so the Storage folder cannot be read by name."""
    sb = module_sandbox(ready_is_final=True)
    c = sb.credentials
    webdav = {k: c[k] for k in ("webdav_url", "webdav_username", "webdav_password")}
    config = sb.wsse_config(**RANGE, **FAST, export_ready_grace=0.05, delivery="webdav", **webdav)
    with caplog.at_level(logging.INFO):
        output = run_tap(config, EXPORT_STREAMS)
    assert_ground_truth(sb, config, output)
    assert "without a file name; downloading it through the API instead of WebDAV" in caplog.text


def test_without_a_grace_that_passes_ready_times_out_in_one_line(
    module_sandbox: Callable[..., Sandbox],
) -> None:
    sb = module_sandbox(ready_is_final=True)
    config = sb.wsse_config(**RANGE, export_poll_interval=0.02, export_timeout=0.3)
    config["export_ready_grace"] = 60
    _, error = run_tap_until_error(config, ["contact_changes"])
    text = str(error)
    assert "\n" not in text
    assert "Stream 'contact_changes'" in text
    assert "still 'ready'" in text and "export_timeout=0.3s" in text


# -- §12.5: download paging, with downloads cut mid-row -------------------------------------


@pytest.mark.parametrize("page_header", ["every", "first"])
@pytest.mark.parametrize("offset_counts", ["rows", "lines"])
def test_cut_downloads_under_every_paging_equal_ground_truth(
    module_sandbox: Callable[..., Sandbox],
    page_header: str,
    offset_counts: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sb = module_sandbox(page_header=page_header, offset_counts=offset_counts)
    sb.faults.update(cut_download_every=3)
    config = sb.wsse_config(**RANGE, **FAST, max_retries=6)
    with caplog.at_level(logging.INFO, logger="emarsys_api"):
        output = run_tap(config, EXPORT_STREAMS)
    sb.faults.reset()
    assert_ground_truth(sb, config, output)
    shown = [r.getMessage() for r in caplog.records if "resumed downloads showed" in r.message]
    assert len(shown) == 1
    if offset_counts == "rows":  # a resume there always tells the offset apart
        assert "offset counting data rows" in shown[0]


# -- §12.7: the account's own time zone -------------------------------------------------------


def test_an_account_in_new_york_without_a_timezone_setting(
    module_sandbox: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    sb = module_sandbox(timezone="America/New_York")
    config = sb.wsse_config(**RANGE, **FAST)
    assert "timezone" not in config
    with caplog.at_level(logging.INFO, logger="tap_emarsys"):
        output = run_tap(config, EXPORT_STREAMS)
    assert_ground_truth(sb, config, output)
    assert "Account time zone America/New_York (GET /settings)." in caplog.text
    assert "WARNING" not in {r.levelname for r in caplog.records if "time zone" in r.message}
    # Window bounds are New York midnights: the first bookmark is 2026-03-27 00:00 EDT.
    first = output.states[0]["bookmarks"]
    ends = {stream: value["window_end"] for stream, value in first.items() if value}
    new_york = ZoneInfo("America/New_York")
    for end in ends.values():
        local = dt.datetime.fromisoformat(end).astimezone(new_york)
        assert (local.hour, local.minute) == (0, 0), end


def test_a_timezone_setting_that_differs_warns_once_naming_both(
    module_sandbox: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    sb = module_sandbox(timezone="America/New_York")
    config = sb.wsse_config(**RANGE, **FAST, timezone="Europe/Vienna")
    with caplog.at_level(logging.WARNING, logger="tap_emarsys"):
        output = run_tap(config)  # one tap: every stream reads the one account's zone
    warnings = [r.getMessage() for r in caplog.records if "time zone" in r.message]
    assert len(warnings) == 1
    assert "Europe/Vienna" in warnings[0] and "America/New_York" in warnings[0]
    tap = TapEmarsys(config=config)
    stream = tap.streams["contact_changes"]
    assert isinstance(stream, ExportStream)
    assert stream.account.zone.key == "Europe/Vienna"  # the setting rules
    assert output.records["contact_changes"]


def test_an_unreadable_account_zone_falls_back_to_vienna_with_one_warning(
    module_sandbox: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    sb = module_sandbox(timezone="America/New_York", denied_permissions={"settings"})
    config = sb.oauth_config(**RANGE, **FAST)
    with caplog.at_level(logging.WARNING, logger="tap_emarsys"):
        output = run_tap(config)
    warnings = [r.getMessage() for r in caplog.records if "time zone" in r.message]
    assert len(warnings) == 1
    assert "Europe/Vienna" in warnings[0] and "GET /settings" in warnings[0]
    assert "settings" in warnings[0]  # the permission it lacks
    assert output.records["contact_changes"]


def test_a_malformed_start_date_fails_before_any_request(
    module_sandbox: Callable[..., Sandbox],
) -> None:
    sb = module_sandbox()
    before = len(sb.backend.requests)
    config = sb.wsse_config(start_date="20.03.2026", **FAST)
    with pytest.raises(Exception, match="start_date") as caught:
        TapEmarsys(config=config).account  # noqa: B018
    assert "\n" not in str(caught.value)
    assert len(sb.backend.requests) == before


# -- §12.8: a permission the OAuth2 credential lacks ------------------------------------------


def _sync_cli(config: dict[str, Any], streams: list[str], tmp_path: Path) -> tuple[int, str]:
    """Run the `tap-emarsys` command in-process with only `streams` selected."""
    config_path, catalog_path = tmp_path / "config.json", tmp_path / "catalog.json"
    config_path.write_text(json.dumps(config))
    catalog_path.write_text(json.dumps(selected_catalog(TapEmarsys(config=config), streams)))
    args = ["--config", str(config_path), "--catalog", str(catalog_path)]
    result = CliRunner().invoke(TapEmarsys.get_singer_command(), args)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("denied", "stream", "endpoint"),
    [
        ("exports", "contact_changes", "POST /api/v3/contact/getchanges"),
        ("exports", "segment_members", "POST /api/v3/export/filter"),
        ("contact_lists", "contact_list_members", "GET /api/v3/contactlist"),
        ("contact_lists", "contact_lists", "GET /api/v3/contactlist"),
        ("email_campaigns", "email_campaigns", "GET /api/v3/email/"),
        ("segments", "segments", "GET /api/v3/filter"),
    ],
)
def test_a_denied_permission_is_one_line_naming_stream_endpoint_and_permission(
    module_sandbox: Callable[..., Sandbox],
    tmp_path: Path,
    denied: str,
    stream: str,
    endpoint: str,
) -> None:
    sb = module_sandbox(denied_permissions={denied})
    config = sb.oauth_config(**RANGE, **FAST)
    exit_code, stderr = _sync_cli(config, [stream], tmp_path)
    assert exit_code == 1
    assert "Traceback" not in stderr
    (line,) = [text for text in stderr.splitlines() if text.startswith("Error: ")]
    assert f"Stream '{stream}'" in line
    assert endpoint in line
    assert f"`{denied}` permission" in line
    assert "Management > Security Settings > API credentials" in line
    assert sb.credentials["client_secret"] not in stderr
