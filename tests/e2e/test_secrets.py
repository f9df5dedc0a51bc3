"""No credential leaves the connectors: every scenario's output is scanned for known secrets.

Scenarios run the real commands (in-process, and once each as a subprocess) with DEBUG logging,
over WSSE and OAuth2, succeeding and failing. Everything captured is scanned: stdout (RECORD and
STATE messages), stderr, every log record (with its traceback) and every exception text.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import emarsys_api.auth
from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from target_emarsys.target import TargetEmarsys
from tests.helpers.commands import CommandRun

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

TAP_CLI = TapEmarsys.get_singer_command()
TARGET_CLI = TargetEmarsys.get_singer_command()
BIN = Path(sys.executable).parent
# base64 of a 40-character hex SHA1: the shape of every WSSE PasswordDigest
DIGEST_SHAPE = re.compile(r"[A-Za-z0-9+/]{54}==")
# a header value or dump; Emarsys's own words ("PasswordDigest does not match") are fine
CREDENTIAL_SHAPES = re.compile(
    r'PasswordDigest\s*=\s*"?[A-Za-z0-9+/]{8,}|Bearer\s+[A-Za-z0-9._~+/-]{8,}'
    r"|X-WSSE'?\s*:|Authorization'?\s*:",
    re.IGNORECASE,
)
WRONG_SECRET = "wrong-secret-9f3Kq7"
TABLE = {"purchases": {"columns": ["order_id", "note"], "primary_key": ["order_id"]}}
PURCHASE = {"order_id": {"type": "integer"}, "note": {"type": ["string", "null"]}}
TAP_SETTINGS = {
    "start_date": "2026-04-01",
    "end_date": "2026-04-13",
    "export_poll_interval": 0.02,
    "export_timeout": 20,
}


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(
        contacts=20,
        seed=3,
        token_ttl=1.0,
        rds_tables={"demo": TABLE},
        db_path=str(tmp_path / "rds.sqlite"),
    ) as sandbox:
        yield sandbox


@pytest.fixture
def digests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every WSSE header built in this process (to scan for its digest and nonce)."""
    built: list[str] = []
    original = emarsys_api.auth.wsse_header

    def recording(*args: Any, **kwargs: Any) -> str:
        header = original(*args, **kwargs)
        built.append(header)
        return header

    monkeypatch.setattr(emarsys_api.auth, "wsse_header", recording)
    return built


def target_input(count: int, table: str = "purchases") -> str:
    lines = [
        {
            "type": "SCHEMA",
            "stream": table,
            "schema": {"properties": PURCHASE},
            "key_properties": ["order_id"],
        }
    ]
    for i in range(count):
        lines.append({"type": "RECORD", "stream": table, "record": {"order_id": i, "note": "n"}})
        lines.append({"type": "STATE", "value": {"through": i}})
    return "".join(json.dumps(line) + "\n" for line in lines)


def scenarios(sb: Sandbox) -> list[tuple[str, Any, dict[str, Any], str, Callable[[], None]]]:
    """(name, command, config, stdin, fault setter) for every in-process scenario."""
    faults = {"burst_429": 1, "error_rate": 0.2, "cut_download_every": 2}
    nothing: Callable[[], None] = lambda: None  # noqa: E731
    some = lambda: sb.faults.update(**faults)  # noqa: E731
    wsse, oauth = sb.wsse_config, sb.oauth_config
    out = [
        ("tap wsse ok", TAP_CLI, wsse(**TAP_SETTINGS), "", some),
        ("tap oauth ok", TAP_CLI, oauth(**TAP_SETTINGS), "", some),
        ("tap wsse wrong secret", TAP_CLI, wsse(**TAP_SETTINGS, secret=WRONG_SECRET), "", nothing),
        (
            "tap oauth wrong secret",
            TAP_CLI,
            oauth(**TAP_SETTINGS, client_secret=WRONG_SECRET),
            "",
            nothing,
        ),
        (
            "tap oauth export error",
            TAP_CLI,
            oauth(**TAP_SETTINGS),
            "",
            lambda: sb.faults.update(export_error_every=1),
        ),
        (
            "tap wsse server down",
            TAP_CLI,
            wsse(**TAP_SETTINGS, max_retries=1),
            "",
            lambda: sb.faults.update(error_rate=1.0),
        ),
        ("target wsse ok", TARGET_CLI, wsse(rds_connection="demo"), target_input(30), some),
        ("target oauth ok", TARGET_CLI, oauth(rds_connection="demo"), target_input(30), some),
        (
            "target oauth unknown table",
            TARGET_CLI,
            oauth(rds_connection="demo"),
            target_input(3, table="nope"),
            nothing,
        ),
        (
            "target wsse wrong secret",
            TARGET_CLI,
            wsse(rds_connection="demo", secret=WRONG_SECRET),
            target_input(3),
            nothing,
        ),
    ]
    return out


def run_target(config: dict[str, Any], stdin: str) -> CommandRun:
    """The target in-process on `stdin` (its reader holds the process's real stdin, so the
    click command cannot be fed by CliRunner); failures are caught like the command does."""
    out = io.StringIO()
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            target = TargetEmarsys(config=config)
            target.listen(io.StringIO(stdin))
        except Exception as caught:
            error = caught
    return CommandRun(0 if error is None else 1, out.getvalue(), "", error, [])


def forbidden(sb: Sandbox, digests: list[str]) -> list[str]:
    """Every secret value the scenarios used or were given."""
    values = [sb.credentials["secret"], sb.credentials["client_secret"], WRONG_SECRET]
    values += list(sb.backend.tokens._tokens)  # every bearer token the sandbox issued
    for header in digests:
        values += re.findall(r'PasswordDigest="([^"]+)"', header)
    return values


def scan(text: str, secrets: list[str]) -> list[str]:
    """What in `text` looks like a credential."""
    found = [secret for secret in secrets if secret and secret in text]
    found += CREDENTIAL_SHAPES.findall(text)
    found += DIGEST_SHAPE.findall(text)
    return found


def test_no_secret_in_anything_captured(
    sb: Sandbox,
    digests: list[str],
    run_command: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    captured: list[str] = []
    outcomes: dict[str, int] = {}
    logging.getLogger().setLevel(logging.DEBUG)
    for name, command, config, stdin, fault in scenarios(sb):
        sb.faults.reset()
        fault()
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            if command is TARGET_CLI:
                run = run_target(config, stdin)
            else:
                run = run_command(command, config, tmp_path)
            records = list(caplog.records)
        outcomes[name] = run.exit_code
        captured += [run.stdout, run.stderr, str(run.exception or "")]
        if run.exception is not None:
            captured.append("".join(traceback.format_exception(run.exception)))
        captured += [r.getMessage() for r in records]
        captured += [logging.Formatter().format(r) for r in records if r.exc_info]
    sb.faults.reset()
    assert {name for name, code in outcomes.items() if code == 0} == {
        "tap wsse ok",
        "tap oauth ok",
        "target wsse ok",
        "target oauth ok",
    }, outcomes
    everything = "\n".join(captured)
    assert '"STATE"' in everything and '"RECORD"' in everything
    assert digests and sb.backend.tokens._tokens  # both schemes really ran
    assert scan(everything, forbidden(sb, digests)) == []


@pytest.mark.parametrize("connector", ["tap", "target"])
def test_no_secret_from_the_real_commands_at_debug(
    sb: Sandbox, tmp_path: Path, connector: str
) -> None:
    """The installed scripts with LOGLEVEL=DEBUG, OAuth2 tokens renewed, requests retried."""
    sb.faults.update(error_rate=0.05)
    config = (
        sb.oauth_config(**TAP_SETTINGS)
        if connector == "tap"
        else sb.oauth_config(rds_connection="demo")
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "LOGLEVEL": "DEBUG"}
    stdin = target_input(200) if connector == "target" else ""
    proc = subprocess.run(
        [str(BIN / f"{connector}-emarsys"), "--config", str(tmp_path / "config.json")],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DEBUG" in proc.stderr
    assert ('"STATE"' if connector == "tap" else '{"through": 199}') in proc.stdout
    secrets = [sb.credentials["secret"], sb.credentials["client_secret"]]
    secrets += list(sb.backend.tokens._tokens)
    assert scan(proc.stdout + proc.stderr, secrets) == []


def test_digest_shape_is_what_the_client_sends() -> None:
    """The scan's digest pattern matches a real header (so an empty scan means something)."""
    digest = base64.b64encode(hashlib.sha1(b"x").hexdigest().encode()).decode()
    assert DIGEST_SHAPE.fullmatch(digest)
