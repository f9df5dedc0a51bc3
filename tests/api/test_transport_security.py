"""TLS verification cannot be switched off by accident, and credentials never follow a redirect.

Plain http to a non-loopback host warns: tests/api/test_settings.py
(`test_plain_http_warns_unless_loopback`); a redirect to a named foreign host is refused:
tests/api/test_bad_bodies.py (`test_redirect_is_not_followed`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from emarsys_api import ClientSettings, EmarsysClient, NetworkError, ResponseFormatError

pytestmark = [pytest.mark.reliability]

ENVELOPE = json.dumps({"replyCode": 0, "replyText": "OK", "data": []})


def test_self_signed_certificate_is_refused_whatever_the_environment(
    tiny_server: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def api(request: Request) -> Response:
        seen.append(request.path)
        return Response(ENVELOPE, content_type="application/json")

    url = tiny_server(api, tls=True)
    # what usually switches verification off in requests-based tools: none of it applies here
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    monkeypatch.setenv("PYTHONHTTPSVERIFY", "0")
    config = {"base_url": url, "username": "u", "secret": "s", "verify": False, "ssl": False}
    client = EmarsysClient(ClientSettings.from_config(config))
    with pytest.raises(NetworkError) as caught:
        client.contact_lists()
    assert "TLS verification failed" in str(caught.value)
    assert caught.value.permanent  # not retried: one attempt only
    assert seen == []  # the handshake failed, no request reached the handler


def test_token_endpoint_with_untrusted_certificate_is_refused(
    tiny_server: Callable[..., str],
) -> None:
    def token(request: Request) -> Response:
        return Response(json.dumps({"access_token": "t" * 20, "expires_in": 3600}))

    url = tiny_server(token, tls=True)
    settings = ClientSettings(
        base_url=url, client_id="c", client_secret="never-sent", token_url=url + "/oauth2/token"
    )
    with pytest.raises(NetworkError) as caught:
        EmarsysClient(settings).contact_lists()
    assert "token request failed" in str(caught.value)
    assert "never-sent" not in str(caught.value)


def recorder(seen: list[dict[str, Any]]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        seen.append({"path": request.path, "headers": dict(request.headers)})
        body = {"access_token": "tok-" + "x" * 20, "expires_in": 3600}
        return Response(json.dumps(body), content_type="application/json")

    return handler


def redirector(to: str, seen: list[str]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        seen.append(request.path)
        return Response("", status=307, headers={"Location": to + request.full_path})

    return handler


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.segments(), id="json-read"),
        pytest.param(lambda c: list(c.export_rows(5)), id="export-download"),
        pytest.param(lambda c: c.rds_upsert("conn", "t", [{"id": 1}]), id="rds-write"),
    ],
)
@pytest.mark.parametrize("auth", ["wsse", "oauth2"])
def test_no_credential_follows_a_redirect_to_another_host(
    tiny_server: Callable[..., str], call: Callable[[EmarsysClient], Any], auth: str
) -> None:
    elsewhere: list[dict[str, Any]] = []
    other = tiny_server(recorder(elsewhere))  # another origin (own port): must see nothing
    hits: list[str] = []
    api = tiny_server(redirector(other, hits))
    token_hits: list[dict[str, Any]] = []
    token_url = tiny_server(recorder(token_hits)) + "/oauth2/token"
    if auth == "wsse":
        settings = ClientSettings(base_url=api, username="u", secret="wsse-secret")
    else:
        settings = ClientSettings(
            base_url=api, client_id="c", client_secret="client-secret", token_url=token_url
        )
    with pytest.raises(ResponseFormatError) as caught:
        call(EmarsysClient(settings))
    assert "not followed" in str(caught.value)
    assert len(hits) == 1  # not retried either
    assert elsewhere == []


def test_token_endpoint_redirect_is_not_followed(tiny_server: Callable[..., str]) -> None:
    elsewhere: list[dict[str, Any]] = []
    other = tiny_server(recorder(elsewhere))
    token_url = tiny_server(redirector(other, [])) + "/oauth2/token"
    settings = ClientSettings(
        base_url="http://127.0.0.1:9", client_id="c", client_secret="cs", token_url=token_url
    )
    with pytest.raises(Exception) as caught:
        EmarsysClient(settings).segments()
    assert "cs" not in str(caught.value).split()
    assert elsewhere == []  # the Basic-auth client secret never reached the other host
