"""`EmarsysClient`s for a running sandbox, and the secrets no error text may contain."""

from __future__ import annotations

from typing import Any

from emarsys_api import ClientSettings, EmarsysClient


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
