"""WSSE header construction and OAuth2 token handling (single functions, no sandbox)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import requests
from werkzeug.wrappers import Request, Response

from emarsys_api import AuthenticationError, wsse_header
from emarsys_api.auth import OAuth2ClientCredentials, WsseAuth

VECTOR_DIGEST = "YWQyNWE5Y2JkOTY2ZTU1ODg2M2QzNzVhNDZlZGQwZjg5YjZlZTk4Yw=="


def _params(header: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def test_wsse_digest_matches_reference_vector() -> None:
    header = wsse_header(
        "customer001",
        "customersecret",
        nonce="d36e316282959a9ed4c89851497a717f",
        created="2014-03-20T12:51:45Z",
    )
    assert header.startswith("UsernameToken ")
    params = _params(header)
    assert params == {
        "Username": "customer001",
        "PasswordDigest": VECTOR_DIGEST,
        "Nonce": "d36e316282959a9ed4c89851497a717f",
        "Created": "2014-03-20T12:51:45Z",
    }
    # base64 of the 40-char hex text, never of the raw 20 sha1 bytes (docs/emarsys-api.md §2.1)
    assert len(base64.b64decode(params["PasswordDigest"])) == 40


def test_wsse_fresh_nonce_and_created_per_request() -> None:
    auth = WsseAuth("user", "secret")
    first = auth(requests.Request("GET", "http://127.0.0.1/").prepare())
    second = auth(requests.Request("GET", "http://127.0.0.1/").prepare())
    one, two = _params(first.headers["X-WSSE"]), _params(second.headers["X-WSSE"])
    assert one["Nonce"] != two["Nonce"]
    assert re.fullmatch(r"[0-9a-f]{32}", one["Nonce"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", one["Created"])
    assert "secret" not in repr(auth)


def test_oauth_token_cached_renewed_and_rejected(tiny_server: Callable[..., str]) -> None:
    issued: list[str] = []

    def handler(request: Request) -> Response:
        assert request.form["grant_type"] == "client_credentials"
        assert request.authorization is not None
        if request.authorization.password != "right":
            return Response('{"error":"invalid_client"}', status=401)
        issued.append(f"token{len(issued)}")
        body = f'{{"access_token":"{issued[-1]}","token_type":"Bearer","expires_in":3600}}'
        return Response(body, content_type="application/json")

    url = tiny_server(handler) + "/oauth2/token"
    auth = OAuth2ClientCredentials("cid", "right", url, timeout=5)
    assert auth.token() == "token0"
    assert auth.token() == "token0"  # cached
    auth.invalidate("token0")
    assert auth.token() == "token1"
    auth.invalidate("stale")  # an older token does not drop the current one
    assert auth.token() == "token1"

    wrong = OAuth2ClientCredentials("cid", "wrong-secret-value", url, timeout=5)
    try:
        wrong.token()
    except AuthenticationError as error:
        assert error.status == 401
        assert "client_secret" in str(error)
        assert "(invalid_client)" in str(error)
        assert "wrong-secret-value" not in str(error)
    else:
        raise AssertionError("expected AuthenticationError")
