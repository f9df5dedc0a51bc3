"""Shared fixtures: a running sandbox per test, a factory for custom ones, a tiny HTTP server,
a real SFTP server, connector command runs, and (per session, started when first asked for) a
PostgreSQL server and the loaders. What tests import by name is in tests/helpers/, not here.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from emarsys_api.transport import Transport
from emarsys_sandbox import Sandbox
from tests.helpers.commands import CommandRun
from tests.helpers.loaders import TARGET_JSONL, TARGET_POSTGRES
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.sftp import SftpServer

Handler = Callable[[Request], Response]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A small running sandbox (200 contacts, seed 7), closed after the test."""
    with Sandbox(contacts=200, seed=7) as sb:
        yield sb


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """A factory: `make_sandbox(**Sandbox kwargs)` starts one; all are closed at teardown."""
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sb = Sandbox(**kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.close()


@pytest.fixture
def tiny_server() -> Iterator[Callable[..., str]]:
    """`tiny_server(handler, tls=False)`: a werkzeug server on 127.0.0.1; returns its base URL.

    With `tls=True` it serves HTTPS with a fresh self-signed certificate (trusted by nobody).
    """
    servers: list[Any] = []

    def start(handler: Handler, *, tls: bool = False) -> str:
        @Request.application
        def app(request: Request) -> Response:
            return handler(request)

        server = make_server(
            "127.0.0.1", 0, app, threaded=True, ssl_context="adhoc" if tls else None
        )
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        return f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SftpServer]:
    """A real SFTP server on 127.0.0.1, chrooted to a fresh folder with an `exports` folder."""
    root = tmp_path / "sftp"
    (root / "exports").mkdir(parents=True)
    server = SftpServer(root).start()
    try:
        yield server
    finally:
        server.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reliability: the fault, stop, kill, deadline, hostile-input and secrets cases "
        "(docs/reliability.md; `pytest -m reliability` runs them all)",
    )


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exponential back-off starts at 10 ms in-process (server-requested waits stay real)."""
    monkeypatch.setattr(Transport, "retry_base", 0.01)


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1, started for the session and stopped after it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def target_postgres() -> Path:
    """meltanolabs-target-postgres, installed once into `.venv-loaders/target-postgres`."""
    return TARGET_POSTGRES.ensure()


@pytest.fixture(scope="session")
def target_jsonl() -> Path:
    """target-jsonl, installed once into `.venv-loaders/target-jsonl`."""
    return TARGET_JSONL.ensure()
