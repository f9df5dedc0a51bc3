"""`emarsys-sandbox serve` as a process: JSON line first, serves, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from emarsys_sandbox.cli import build_parser

BIN = Path(sys.executable).parent


def test_serve_prints_credentials_first_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            str(BIN / "emarsys-sandbox"),
            "serve",
            "--port",
            "0",
            "--contacts",
            "50",
            "--seed",
            "3",
            "--rds-table",
            "demo.purchases:order_id*,amount",
            "--db",
            str(tmp_path / "rds.sqlite3"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
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
        assert "serving 50 contacts" in process.stdout.readline()
        faults = requests.get(info["base_url"] + "/_sandbox/faults", timeout=5).json()
        assert faults["seed"] == 3
        assert faults["rate_limit"] == 1000  # the real limit by default
        assert (
            requests.get(info["base_url"] + "/_sandbox/rds/demo/purchases", timeout=5).json() == []
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_bad_rds_table_spec_is_a_usage_error() -> None:
    reply = subprocess.run(
        [str(BIN / "emarsys-sandbox"), "serve", "--rds-table", "nonsense"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert reply.returncode == 2 and "--rds-table" in reply.stderr


@pytest.mark.parametrize(
    ("flag", "limit"), [(None, 1000), ("250", 250), ("0", None), ("off", None)]
)
def test_rate_limit_flag(flag: str | None, limit: int | None) -> None:
    argv = ["serve"] + ([] if flag is None else ["--rate-limit", flag])
    assert build_parser().parse_args(argv).rate_limit == limit


def test_bad_rate_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["serve", "--rate-limit", "lots"])
    assert stopped.value.code == 2 and "--rate-limit" in capsys.readouterr().err


def test_python_dash_m_shows_usage() -> None:
    reply = subprocess.run(
        [sys.executable, "-m", "emarsys_sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert reply.returncode == 0 and "serve" in reply.stdout
