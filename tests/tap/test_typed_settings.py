"""Settings given as text (Meltano's environment variables) are read as their type, through the
real `tap-emarsys` command with a config file holding only strings.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emarsys_api.errors import ConfigurationError
from emarsys_api.settings import typed_config
from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import selected_catalog

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

TAP = str(Path(sys.executable).parent / "tap-emarsys")


def run_tap(config: dict[str, Any], tmp_path: Path, streams: list[str]) -> Any:
    (tmp_path / "config.json").write_text(json.dumps(config))
    catalog = selected_catalog(TapEmarsys(config=config), streams)
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    return subprocess.run(
        [
            TAP,
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def text_config(sb: Sandbox, **settings: str) -> dict[str, Any]:
    config = sb.wsse_config(start_date="2026-03-15", end_date="2026-04-01", **settings)
    assert all(isinstance(value, str) for value in config.values())
    return config


@pytest.mark.parametrize(("text", "emitted"), [("false", False), ("False", False), ("true", True)])
def test_emit_activate_version_text_is_a_boolean(
    sandbox: Sandbox, tmp_path: Path, text: str, emitted: bool
) -> None:
    """Undeclared, `"false"` was a true value and every full-table stream got ACTIVATE_VERSION."""
    proc = run_tap(
        text_config(sandbox, emit_activate_version_messages=text), tmp_path, ["contact_lists"]
    )
    assert proc.returncode == 0, proc.stderr
    kinds = [json.loads(line)["type"] for line in proc.stdout.splitlines()]
    assert "RECORD" in kinds
    assert ("ACTIVATE_VERSION" in kinds) is emitted


def test_numbers_as_text_are_numbers(sandbox: Sandbox, tmp_path: Path) -> None:
    """`"5"` days per window: bookmarks move five local days at a time."""
    config = text_config(
        sandbox,
        export_window_days="5",
        max_concurrent_exports="2",
        export_poll_interval="0.02",
        export_timeout="30",
        timeout="20",
        max_retries="2",
        max_wait="3.5",
        sftp_delete_after_read="false",
    )
    proc = run_tap(config, tmp_path, ["contact_registrations"])
    assert proc.returncode == 0, proc.stderr
    ends = [
        json.loads(line)["value"]["bookmarks"]["contact_registrations"]["window_end"]
        for line in proc.stdout.splitlines()
        if '"STATE"' in line and "window_end" in line
    ]
    ends = list(dict.fromkeys(ends))  # the final STATE may be repeated at the stream's end
    steps = {
        dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)
        for a, b in itertools.pairwise(ends[:-1])  # the last window ends at end_date
    }
    assert ends[-1] == "2026-03-31T22:00:00+00:00"
    assert steps <= {dt.timedelta(days=5), dt.timedelta(days=5, hours=-1)}  # DST on 29 March
    assert dt.timedelta(days=5) in steps


@pytest.mark.parametrize(
    ("setting", "text", "said"),
    [
        ("emit_activate_version_messages", "maybe", "must be true or false, got 'maybe'"),
        ("export_window_days", "five", "must be a whole number, got 'five'"),
        ("export_window_days", "5.5", "must be a whole number, got '5.5'"),
        ("max_retries", "many", "must be a whole number, got 'many'"),
        ("export_poll_interval", "nan", "must be a number, got 'nan'"),
        ("timeout", "1 minute", "must be a number, got '1 minute'"),
        ("contact_fields", "email", "must be a JSON array, got 'email'"),
    ],
)
def test_unreadable_text_is_one_line_naming_the_setting(
    sandbox: Sandbox, tmp_path: Path, setting: str, text: str, said: str
) -> None:
    config = text_config(sandbox, **{setting: text})
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [TAP, "--config", str(tmp_path / "config.json"), "--discover"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert proc.returncode == 1
    assert errors == [
        f"Error: Invalid configuration: `{setting}` {said}. Fix the `{setting}` setting."
    ]
    assert "Traceback" not in proc.stderr
    assert sandbox.credentials["secret"] not in proc.stderr


def test_typed_config_keeps_typed_values_and_text_settings() -> None:
    schema = TapEmarsys.config_jsonschema
    config = {
        "start_date": "2026-03-15",
        "export_window_days": 3,
        "export_poll_interval": "0.5",
        "contact_fields": '["email", 3]',
        "sftp_delete_after_read": " TRUE ",
        "max_retries": "",
        "unknown_setting": "7",
    }
    assert typed_config(config, schema) == {
        "start_date": "2026-03-15",
        "export_window_days": 3,
        "export_poll_interval": 0.5,
        "contact_fields": ["email", 3],
        "sftp_delete_after_read": True,
        "unknown_setting": "7",
    }
    with pytest.raises(ConfigurationError) as raised:
        typed_config({"max_wait": "inf"}, schema)
    assert raised.value.setting == "max_wait"


def test_batch_is_not_advertised_and_batch_config_is_refused(tmp_path: Path) -> None:
    """The bookmark moves per written window, ahead of the SDK's 10,000-record batch files."""
    about = subprocess.run(
        [TAP, "--about", "--format", "json"], capture_output=True, text=True, timeout=60
    )
    info = json.loads(about.stdout)
    assert "batch" not in info["capabilities"]
    assert "batch_config" not in info["settings"]["properties"]

    config = {
        "username": "u",
        "secret": "wsse-secret-value",
        "start_date": "2026-03-15",
        "batch_config": {"encoding": {"format": "jsonl"}, "storage": {"root": str(tmp_path)}},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [TAP, "--config", str(tmp_path / "config.json")], capture_output=True, text=True, timeout=60
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(errors) == 1 and "`batch_config`" in errors[0] and "not supported" in errors[0]
    assert "Traceback" not in proc.stderr
