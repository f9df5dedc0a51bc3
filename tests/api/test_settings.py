"""Settings validation happens before any request."""

from __future__ import annotations

import logging

import pytest

from emarsys_api import ClientSettings, ConfigurationError, EmarsysClient, EmarsysError
from emarsys_api.auth import wsse_header


def test_wsse_and_oauth_are_chosen_by_client_id() -> None:
    wsse = ClientSettings.from_config({"username": "u", "secret": "s", "other": 1})
    assert wsse.auth_scheme == "wsse"
    assert wsse.base_url == "https://api.emarsys.net"
    oauth = ClientSettings.from_config(
        {"client_id": "c", "client_secret": "x", "username": "u", "secret": "s"}
    )
    assert oauth.auth_scheme == "oauth2"
    assert oauth.token_url == "https://auth.emarsys.net/oauth2/token"
    assert EmarsysClient(oauth).api == "/api/v3"
    assert EmarsysClient(wsse).api == "/api/v2"


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({}, "client_id"),
        ({"username": "u"}, "secret"),
        ({"secret": "s"}, "username"),
        ({"client_id": "c"}, "client_secret"),
        ({"client_secret": "x"}, "client_id"),
        ({"client_id": "c", "client_secret": "", "username": "u", "secret": "s"}, "client_secret"),
        ({"username": "u", "secret": "s", "base_url": "ftp://x"}, "base_url"),
        ({"username": "u", "secret": "s", "base_url": "https://a:b@x"}, "base_url"),
        ({"username": "u", "secret": "s", "timeout": "soon"}, "timeout"),
        # URLs the HTTP library could not parse: each was a traceback at the first request.
        ({"username": "u", "secret": "s", "base_url": "http://127.0.0.1:99999"}, "base_url"),
        ({"username": "u", "secret": "s", "base_url": "http://127.0.0.1:abc"}, "base_url"),
        ({"username": "u", "secret": "s", "base_url": "http://[::1"}, "base_url"),
        ({"username": "u", "secret": "s", "base_url": "https://api.emarsys.net "}, "base_url"),
        ({"username": "u", "secret": "s", "base_url": "https://api.emar sys.net"}, "base_url"),
        ({"client_id": "c", "client_secret": "x", "token_url": "https://a:70000/t"}, "token_url"),
        # Credentials a request header cannot carry: a traceback at the first request.
        ({"username": "usér☃", "secret": "s"}, "username"),
        ({"username": "u\r\nX-Evil: 1", "secret": "s"}, "username"),
        ({"client_id": "cl☃", "client_secret": "x"}, "client_id"),
        ({"client_id": "c", "client_secret": "x☃"}, "client_secret"),
        ({"client_id": "c", "client_secret": "x\n"}, "client_secret"),
        ({"username": "u", "secret": "s", "max_retries": -1}, "max_retries"),
    ],
)
def test_incomplete_settings_name_the_setting(config: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ClientSettings.from_config(config)
    assert caught.value.setting == setting
    assert f"`{setting}`" in str(caught.value)
    assert isinstance(caught.value, EmarsysError)


def test_credential_messages_never_show_the_value() -> None:
    for config in ({"client_id": "c", "client_secret": "s3cr3t☃"}, {"username": "u☃x"}):
        with pytest.raises(ConfigurationError) as caught:
            ClientSettings.from_config({"secret": "s", **config})
        assert "s3cr3t" not in str(caught.value)
        assert "u☃x" not in str(caught.value)


def test_a_wsse_secret_may_be_any_text() -> None:
    """The WSSE secret is hashed as UTF-8, never sent in a header: it is not held to Latin-1."""
    settings = ClientSettings.from_config({"username": "u", "secret": "geheim-☃-ß"})
    assert settings.secret == "geheim-☃-ß"
    assert "Username=" in wsse_header(settings.username or "", settings.secret)


def test_repr_hides_secrets() -> None:
    settings = ClientSettings.from_config(
        {"client_id": "cid", "client_secret": "s3cr3t-value", "secret": "wsse-secret-value"}
    )
    text = repr(settings) + repr(EmarsysClient(settings))
    assert "s3cr3t-value" not in text
    assert "wsse-secret-value" not in text
    assert "cid" in text


def test_plain_http_warns_unless_loopback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="emarsys_api"):
        ClientSettings(base_url="http://127.0.0.1:8099", username="u", secret="s")
        ClientSettings(base_url="http://localhost:8099/", username="u", secret="s")
        assert not caplog.records
        settings = ClientSettings(base_url="http://api.example.com/", username="u", secret="s")
    assert settings.base_url == "http://api.example.com"
    assert "plain http" in caplog.text
    assert "api.example.com" in caplog.text
