"""`emarsys-sandbox serve` as a process (`SandboxProcess`): JSON line first, stops on SIGTERM."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from emarsys_sandbox.cli import build_parser
from emarsys_sandbox.process import SandboxProcess, SandboxStartError, serve_command


def test_serve_prints_credentials_first_and_stops_on_sigterm(tmp_path: Path) -> None:
    output = io.StringIO()
    process = SandboxProcess(
        *["--contacts", "50", "--seed", "3", "--rds-table", "demo.purchases:order_id*,amount"],
        *["--db", str(tmp_path / "rds.sqlite3")],
        stdout=output,
    )
    with process:
        info = process.credentials
        assert set(info) == {
            "base_url",
            "username",
            "secret",
            "client_id",
            "client_secret",
            "token_url",
            "webdav_url",
            "webdav_username",
            "webdav_password",
        }
        assert info["base_url"].startswith("http://127.0.0.1:")
        assert info["webdav_url"] == info["base_url"] + "/storage/export"
        faults = requests.get(info["base_url"] + "/_sandbox/faults", timeout=5).json()
        assert faults["seed"] == 3
        assert faults["rate_limit"] == 1000  # the real limit by default
        assert process.control("rds/demo/purchases") == []
    assert process.returncode == 0  # SIGTERM is a clean stop
    assert process.stop() == 0  # and stopping again changes nothing
    lines = output.getvalue().splitlines()
    assert json.loads(lines[0]) == info and "serving 50 contacts" in lines[1]


def test_a_sandbox_process_that_cannot_start_says_why() -> None:
    with pytest.raises(SandboxStartError, match=r"--rds-table expects conn\.table"):
        SandboxProcess("--rds-table", "nonsense").start()


@pytest.mark.parametrize(
    "flags",
    [
        ("--rds-table", "nonsense"),
        ("--deny-permission", "everything"),
        ("--header-labels", "fancy"),
        ("--rate-limit", "lots"),
    ],
)
def test_a_bad_flag_value_is_a_usage_error_naming_the_flag(flags: tuple[str, str]) -> None:
    reply = subprocess.run(
        [*serve_command(), "serve", *flags], capture_output=True, text=True, timeout=30
    )
    assert reply.returncode == 2 and flags[0] in reply.stderr
    assert "Traceback" not in reply.stderr


@pytest.mark.parametrize(
    ("flag", "limit"), [(None, 1000), ("250", 250), ("0", None), ("off", None)]
)
def test_rate_limit_flag(flag: str | None, limit: int | None) -> None:
    argv = ["serve"] + ([] if flag is None else ["--rate-limit", flag])
    assert build_parser().parse_args(argv).rate_limit == limit


def test_python_dash_m_shows_usage() -> None:
    reply = subprocess.run(
        [sys.executable, "-m", "emarsys_sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert reply.returncode == 0 and "serve" in reply.stdout
