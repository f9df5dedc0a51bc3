"""Fixtures and helpers for the client tests (the tiny HTTP server is in `tests/conftest.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from emarsys_api import ClientSettings, EmarsysClient
from emarsys_api.transport import Transport


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exponential back-off starts at 10 ms in tests (server-requested waits stay real)."""
    monkeypatch.setattr(Transport, "retry_base", 0.01)


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
