"""Replies that are not Emarsys envelopes give typed errors naming the endpoint.

These bodies come from things that are not Emarsys (proxies, login pages, broken gateways), so a
tiny local server plays them; everything Emarsys-shaped is tested against the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from werkzeug.wrappers import Request, Response

from emarsys_api import (
    ClientSettings,
    EmarsysClient,
    EmarsysError,
    ResponseFormatError,
    ServerError,
    ValidationError,
)

SECRET = "wsse-secret-0123456789"

HTML_PAGE = (
    "<html><head><title>502 Bad Gateway</title><style>body{}</style></head>"
    "<body><h1>Bad Gateway</h1><p>upstream said no</p></body></html>"
)


def _client(base_url: str, **extra: object) -> EmarsysClient:
    config = {"base_url": base_url, "username": "api_user", "secret": SECRET, "max_wait": 1}
    return EmarsysClient(ClientSettings.from_config({**config, **extra}))


def _answer(
    body: str, status: int = 200, content_type: str = "application/json"
) -> Callable[[Request], Response]:
    return lambda request: Response(body, status=status, content_type=content_type)


@pytest.mark.parametrize(
    ("body", "status", "content_type", "kind", "fragment"),
    [
        ("this is not json", 200, "text/plain", ResponseFormatError, "not JSON"),
        (HTML_PAGE, 200, "text/html", ResponseFormatError, "Bad Gateway upstream said no"),
        ('{"data": []}', 200, "application/json", ResponseFormatError, "no replyCode"),
        ('{"replyCode": "x", "data": []}', 200, "application/json", ResponseFormatError, "number"),
        ("[1, 2]", 200, "application/json", ResponseFormatError, "no replyCode"),
        ("", 200, "application/json", ResponseFormatError, "empty body"),
        ('{"replyCode": 9999, "replyText": "Odd"}', 200, "application/json", EmarsysError, "Odd"),
        ('{"replyCode": 9999, "replyText": "No"}', 418, "application/json", ValidationError, "No"),
        (HTML_PAGE, 400, "text/html", ValidationError, "Bad Gateway"),
    ],
)
def test_bad_bodies_give_typed_errors(
    tiny_server: Callable[..., str],
    body: str,
    status: int,
    content_type: str,
    kind: type[EmarsysError],
    fragment: str,
) -> None:
    client = _client(tiny_server(_answer(body, status, content_type)))
    with pytest.raises(EmarsysError) as caught:
        client.fields()
    error = caught.value
    assert type(error) is kind
    assert error.endpoint == "GET /api/v2/field/translate/en"
    text = str(error)
    assert "GET /api/v2/field/translate/en" in text
    assert fragment in text
    assert "<style>" not in text
    assert SECRET not in text
    assert "PasswordDigest" not in text


def test_echoed_credentials_are_redacted(tiny_server: Callable[..., str]) -> None:
    def echo(request: Request) -> Response:
        return Response(f"<pre>got {request.headers['X-WSSE']}</pre>", status=200)

    with pytest.raises(ResponseFormatError) as caught:
        _client(tiny_server(echo)).settings()
    text = str(caught.value)
    assert "api_user" in text
    digest = text.split("PasswordDigest", 1)[1][:40]
    assert "redacted" in digest


def test_html_5xx_is_retried_then_server_error(tiny_server: Callable[..., str]) -> None:
    calls: list[str] = []

    def gateway(request: Request) -> Response:
        calls.append(request.headers["X-WSSE"])
        return Response(HTML_PAGE, status=502, content_type="text/html")

    with pytest.raises(ServerError) as caught:
        _client(tiny_server(gateway), max_retries=2).contact_lists()
    assert len(calls) == 3
    assert len(set(calls)) == 3  # a fresh WSSE nonce on every attempt
    assert "GET /api/v2/contactlist" in str(caught.value)


def test_redirect_is_not_followed(tiny_server: Callable[..., str]) -> None:
    seen: list[str] = []

    def elsewhere(request: Request) -> Response:
        seen.append(request.path)
        return Response("", status=302, headers={"Location": "https://evil.example/steal?x=1"})

    with pytest.raises(ResponseFormatError) as caught:
        _client(tiny_server(elsewhere)).segments()
    assert seen == ["/api/v2/filter"]
    assert "evil.example" in str(caught.value)
    assert "steal" not in str(caught.value)
