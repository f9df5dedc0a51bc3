"""WSSE (docs/emarsys-api.md §2.1) and OAuth2 (§2.2) over real HTTP."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from emarsys_sandbox import Sandbox
from emarsys_sandbox.auth import wsse_digest
from tests.helpers.sandbox_http import Api, sign, wsse_header

VECTOR = (
    "d36e316282959a9ed4c89851497a717f",
    "2014-03-20T12:51:45Z",
    "customersecret",
    "YWQyNWE5Y2JkOTY2ZTU1ODg2M2QzNzVhNDZlZGQwZjg5YjZlZTk4Yw==",
)


def test_reference_vector_pins_both_signers() -> None:
    nonce, created, secret, digest = VECTOR
    assert sign(nonce, created, secret) == digest
    assert wsse_digest(nonce, created, secret) == digest


def _get(sb: Sandbox, header: str, name: str = "X-WSSE") -> requests.Response:
    return requests.get(f"{sb.base_url}/api/v2/settings", headers={name: header}, timeout=10)


def _now(fmt: str, zone: timezone = timezone.utc) -> str:
    return datetime.now(zone).strftime(fmt)


@pytest.mark.parametrize(
    "variant",
    [
        "z",
        "plus_colon",
        "plus_no_colon",
        "millis",
        "no_zone_vienna",
        "upper_nonce",
        "reordered_lowercase_nonce",
        "wsse_header_name",
    ],
)
def test_lenient_wsse_variants_are_accepted(sandbox: Sandbox, variant: str) -> None:
    c = sandbox.credentials
    user, secret = c["username"], c["secret"]
    nonce = "D36E316282959A9ED4C89851497A717F" if variant == "upper_nonce" else "ab" * 16
    created = {
        "plus_colon": _now("%Y-%m-%dT%H:%M:%S+00:00"),
        "plus_no_colon": _now("%Y-%m-%dT%H:%M:%S+0000"),
        "millis": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "no_zone_vienna": datetime.now(sandbox.backend.account.zone).strftime("%Y-%m-%dT%H:%M:%S"),
    }.get(variant, _now("%Y-%m-%dT%H:%M:%SZ"))
    digest = sign(nonce, created, secret)
    if variant == "reordered_lowercase_nonce":
        header = (
            f'UsernameToken Username="{user}", PasswordDigest="{digest}", '
            f'Created="{created}", nonce="{nonce}"'
        )
    else:
        header = wsse_header(user, secret, created=created, nonce=nonce)
    name = "WSSE" if variant == "wsse_header_name" else "X-WSSE"
    reply = _get(sandbox, header, name)
    assert reply.status_code == 200, reply.text
    assert reply.json()["replyCode"] == 0


def _unauthorized(reply: requests.Response, *needles: str) -> str:
    assert reply.status_code == 401
    body = reply.json()
    assert body["replyCode"] == 1 and body["data"] == ""
    text = body["replyText"]
    assert text.startswith("Unauthorized")
    for needle in needles:
        assert needle in text
    return text


def test_skewed_clock_is_rejected(sandbox: Sandbox) -> None:
    c = sandbox.credentials
    created = (datetime.now(timezone.utc) - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = _unauthorized(
        _get(sandbox, wsse_header(c["username"], c["secret"], created=created)), "off the server"
    )
    assert c["secret"] not in text
    fine = (datetime.now(timezone.utc) - timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _get(sandbox, wsse_header(c["username"], c["secret"], created=fine)).ok


def test_wrong_secret_and_unknown_user(sandbox: Sandbox) -> None:
    c = sandbox.credentials
    text = _unauthorized(_get(sandbox, wsse_header(c["username"], "nope")), "PasswordDigest")
    assert "nope" not in text
    _unauthorized(_get(sandbox, wsse_header("somebody", c["secret"])), "unknown API user")
    _unauthorized(requests.get(f"{sandbox.base_url}/api/v2/settings", timeout=10), "missing X-WSSE")
    _unauthorized(_get(sandbox, 'Digest Username="x"'), "UsernameToken")


def test_raw_bytes_digest_variant_is_rejected(sandbox: Sandbox) -> None:
    import base64
    import hashlib

    c = sandbox.credentials
    nonce, created = "cd" * 16, _now("%Y-%m-%dT%H:%M:%SZ")
    raw = base64.b64encode(hashlib.sha1((nonce + created + c["secret"]).encode()).digest())
    header = (
        f'UsernameToken Username="{c["username"]}", PasswordDigest="{raw.decode()}", '
        f'Nonce="{nonce}", Created="{created}"'
    )
    _unauthorized(_get(sandbox, header))


def test_rejected_requests_still_carry_rate_limit_headers(sandbox: Sandbox) -> None:
    reply = requests.get(f"{sandbox.base_url}/api/v2/field", timeout=10)
    assert reply.status_code == 401
    for name in ("X-RateLimit-Limit", "X-Ratelimit-Remaining", "X-RateLimit-Reset"):
        assert name in reply.headers


def _token(sb: Sandbox, **overrides: Any) -> requests.Response:
    c = sb.credentials
    auth = overrides.pop("auth", (c["client_id"], c["client_secret"]))
    data = overrides.pop("data", {"grant_type": "client_credentials"})
    return requests.post(c["token_url"], auth=auth, data=data, timeout=10)


def test_oauth_token_and_bearer_on_v3(sandbox: Sandbox) -> None:
    reply = _token(sandbox)
    assert reply.status_code == 200
    token = reply.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    ok = requests.get(
        f"{sandbox.base_url}/api/v3/field",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert ok.status_code == 200 and ok.json()["data"]
    # v2 takes WSSE only, v3 takes the bearer only
    bearer_on_v2 = requests.get(
        f"{sandbox.base_url}/api/v2/field",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    _unauthorized(bearer_on_v2)
    c = sandbox.credentials
    wsse_on_v3 = requests.get(
        f"{sandbox.base_url}/api/v3/field",
        headers={"X-WSSE": wsse_header(c["username"], c["secret"])},
        timeout=10,
    )
    _unauthorized(wsse_on_v3, "Bearer")


def test_oauth_failures(sandbox: Sandbox) -> None:
    c = sandbox.credentials
    bad = _token(sandbox, auth=(c["client_id"], "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert "wrong" not in bad.text
    in_form = requests.post(
        c["token_url"],
        data={
            "grant_type": "client_credentials",
            **{k: c[k] for k in ("client_id", "client_secret")},
        },
        timeout=10,
    )
    assert in_form.status_code == 401 and "HTTP Basic" in in_form.json()["error_description"]
    grant = _token(sandbox, data={"grant_type": "password"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    unknown = requests.get(
        f"{sandbox.base_url}/api/v3/field", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    _unauthorized(unknown, "unknown access token")


def test_oauth_token_expires(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=10, token_ttl=0.3)
    api = Api(sb, oauth=True)
    assert api.get("settings").status_code == 200
    time.sleep(0.4)
    _unauthorized(api.get("settings"), "expired")
    api.token = None
    assert api.get("settings").status_code == 200


def test_rds_takes_either_scheme(make_sandbox: Any) -> None:
    tables = {"demo": {"t": {"columns": ["id", "v"], "primary_key": ["id"]}}}
    sb = make_sandbox(contacts=10, rds_tables=tables)
    for api in (Api(sb), Api(sb, oauth=True)):
        reply = api.get("/api/rds/connections/demo/tables/t/records")
        assert reply.status_code == 200, reply.text
    assert (
        requests.get(f"{sb.base_url}/api/rds/connections/demo/tables/t/records").status_code == 401
    )
