"""Shared fixtures: a running sandbox per test, a factory for custom ones, a tiny HTTP server,
a real SFTP server. What tests import by name is in tests/helpers/, not here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from emarsys_sandbox import Sandbox
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
