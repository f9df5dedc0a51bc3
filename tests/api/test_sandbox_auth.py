"""Authentication against the sandbox over real HTTP: WSSE, OAuth2, and clear 401s."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from emarsys_api import AuthenticationError, ClientSettings, EmarsysClient, EmarsysError
from tests.helpers.clients import oauth_client, secrets_of, wsse_client


def _assert_clean(text: str, sandbox: Any) -> None:
    for secret in secrets_of(sandbox):
        assert secret not in text
    assert "PasswordDigest=" not in text
    assert "Bearer " not in text


def test_wsse_and_oauth_read_the_same_fields(sandbox: Any) -> None:
    v2 = wsse_client(sandbox).fields()
    v3 = oauth_client(sandbox).fields()
    assert v2 and v2 == v3
    assert {"id", "name", "application_type", "string_id"} <= set(v2[0])
    paths = [entry["path"] for entry in sandbox.request_log()]
    assert "/api/v2/field/translate/en" in paths
    assert "/api/v3/field/translate/en" in paths


@pytest.mark.parametrize(
    "override",
    [{"secret": "not-the-secret-at-all"}, {"username": "nobody_here"}],
    ids=["wrong-secret", "unknown-user"],
)
def test_wrong_wsse_credentials(
    sandbox: Any, override: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    config = {**sandbox.wsse_config(), **override}
    with (
        caplog.at_level(logging.DEBUG, logger="emarsys_api"),
        pytest.raises(AuthenticationError) as caught,
    ):
        EmarsysClient(ClientSettings.from_config(config)).contact_lists()
    text = str(caught.value)
    assert "GET /api/v2/contactlist" in text
    assert "credentials" in text
    _assert_clean(text + caplog.text, sandbox)
    assert "not-the-secret-at-all" not in text + caplog.text
    # 401 is not retried: one request only
    assert len(sandbox.request_log()) == 1


def test_wrong_oauth_secret(sandbox: Any) -> None:
    config = {**sandbox.oauth_config(), "client_secret": "definitely-wrong-secret"}
    with pytest.raises(AuthenticationError) as caught:
        EmarsysClient(ClientSettings.from_config(config)).segments()
    text = str(caught.value)
    assert "client_secret" in text
    assert "definitely-wrong-secret" not in text
    _assert_clean(text, sandbox)


def test_oauth_token_is_reused(sandbox: Any) -> None:
    client = oauth_client(sandbox)
    for _ in range(3):
        client.contact_lists()
    tokens = [e for e in sandbox.request_log() if e["path"].endswith("/oauth2/token")]
    assert len(tokens) == 1


def test_oauth_token_renewed_before_expiry(make_sandbox: Any) -> None:
    sandbox = make_sandbox(contacts=20, token_ttl=1.0)
    client = oauth_client(sandbox)
    client.contact_lists()
    time.sleep(0.6)  # past half of a 1 s token's life: renewed before use, no 401
    client.contact_lists()
    log = sandbox.request_log()
    assert [e["status"] for e in log if e["path"] == "/api/v3/contactlist"] == [200, 200]
    assert len([e for e in log if e["path"].endswith("/oauth2/token")]) == 2


def test_oauth_401_renews_once_and_resends(make_sandbox: Any) -> None:
    sandbox = make_sandbox(contacts=20, token_ttl=1.0)
    client = oauth_client(sandbox)
    client.contact_lists()
    # A token the client still believes fresh but the server expired: 401, renew, resend once.
    assert client._oauth is not None
    client._oauth._renew_at = float("inf")
    time.sleep(1.1)
    assert client.segments() is not None
    log = sandbox.request_log()
    assert [e["status"] for e in log if e["path"] == "/api/v3/filter"] == [401, 200]
    assert len([e for e in log if e["path"].endswith("/oauth2/token")]) == 2


def test_no_secret_in_debug_logs_or_errors(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for client in (wsse_client(sandbox), oauth_client(sandbox)):
            sandbox.faults.update(burst_429=1, error_rate=0.3)
            client.contact_lists()
            client.fields()
            sandbox.faults.reset()
            for call in (
                lambda c=client: c.email_launches(-1),
                lambda c=client: c.rds_query("x", "y"),
            ):
                try:
                    call()
                except EmarsysError as error:
                    texts.append(str(error))
        assert client._oauth is not None
        token = client._oauth._token
    everything = caplog.text + "\n".join(texts)
    assert texts and "retry" in caplog.text
    assert token and token not in everything
    _assert_clean(everything, sandbox)
