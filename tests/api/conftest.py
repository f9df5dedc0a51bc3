"""Fixtures for the client tests: a tiny local HTTP server for non-Emarsys replies."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from emarsys_api import ClientSettings, EmarsysClient
from emarsys_api.transport import Transport

Handler = Callable[[Request], Response]


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exponential back-off starts at 10 ms in tests (server-requested waits stay real)."""
    monkeypatch.setattr(Transport, "retry_base", 0.01)


@pytest.fixture
def tiny_server() -> Iterator[Callable[[Handler], str]]:
    """Start a werkzeug server on 127.0.0.1 answering with `handler`; returns its base URL."""
    servers: list[Any] = []

    def start(handler: Handler) -> str:
        @Request.application
        def app(request: Request) -> Response:
            return handler(request)

        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def wsse_client(sandbox: Any, **extra: Any) -> EmarsysClient:
    """A WSSE (API v2) client for a running sandbox."""
    return EmarsysClient(ClientSettings.from_config(sandbox.wsse_config(**extra)))


def oauth_client(sandbox: Any, **extra: Any) -> EmarsysClient:
    """An OAuth2 (API v3) client for a running sandbox."""
    return EmarsysClient(ClientSettings.from_config(sandbox.oauth_config(**extra)))


def secrets_of(sandbox: Any) -> list[str]:
    """Credential values that must never appear in any error text or log line."""
    creds = sandbox.credentials
    return [creds["secret"], creds["client_secret"]]
