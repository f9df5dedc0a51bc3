"""Helpers for the reliability suite: run the connectors' real commands and read what they said."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from emarsys_api.transport import Transport


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exponential back-off starts at 10 ms in-process (server-requested waits stay real)."""
    monkeypatch.setattr(Transport, "retry_base", 0.01)


@dataclass
class CommandRun:
    """What one command run printed and how it ended."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None
    logged_errors: list[str]

    @property
    def error_lines(self) -> list[str]:
        """Every error report: click's `Error: ...` lines and ERROR log records.

        (`--discover` reports a settings-schema violation with the SDK's own ERROR log line.)
        """
        clicks = [line for line in self.stderr.splitlines() if line.startswith("Error: ")]
        return clicks + self.logged_errors


@pytest.fixture
def run_command(caplog: pytest.LogCaptureFixture) -> Callable[..., CommandRun]:
    """`run_command(click_command, config, tmp_path, *args, stdin="")`: invoke in-process."""

    def run(
        command: click.Command, config: dict[str, Any], tmp: Path, *args: str, stdin: str = ""
    ) -> CommandRun:
        path = tmp / "config.json"
        path.write_text(json.dumps(config))
        caplog.clear()
        with caplog.at_level(logging.INFO):
            result = CliRunner().invoke(command, ["--config", str(path), *args], input=stdin)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        exception = None if isinstance(result.exception, SystemExit) else result.exception
        return CommandRun(result.exit_code, result.stdout, result.stderr, exception, errors)

    return run
