"""Rate limiting and each fault, over HTTP (deterministic: no timing assertions)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from emarsys_sandbox import Sandbox
from emarsys_sandbox.faults import Faults
from tests.helpers.sandbox_http import Api, parse_csv

CONTACTS = {"distribution_method": "local", "contactlist": 101, "contact_fields": [1, 2, 3]}


def test_rate_limit_headers_and_429(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=10, rate_limit=3, rate_window=30.0)
    api = Api(sb)
    replies = [api.get("settings") for _ in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert [r.headers["X-Ratelimit-Remaining"] for r in replies] == ["2", "1", "0", "0"]
    assert replies[0].headers["X-RateLimit-Limit"] == "3"
    reset = int(replies[3].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 31
    assert replies[3].json() == {
        "replyCode": 7003,
        "replyText": "Too many requests for this account and resource within the last minute.",
        "data": "",
    }
    assert "Retry-After" not in replies[3].headers
    # the limit is per API user: the OAuth client has its own window
    assert Api(sb, oauth=True).get("settings").status_code == 200


def test_rate_window_resets(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=10, rate_limit=1, rate_window=0.3)
    api = Api(sb)
    assert api.get("settings").status_code == 200
    assert api.get("settings").status_code == 429
    time.sleep(0.35)
    assert api.get("settings").status_code == 200


def test_burst_429(sandbox: Sandbox, api: Api) -> None:
    sandbox.faults.update(burst_429=2)
    statuses = [api.get("settings").status_code for _ in range(3)]
    assert statuses == [429, 429, 200]


def test_error_rate_is_deterministic(make_sandbox: Any) -> None:
    runs = []
    for _ in range(2):
        sb = make_sandbox(contacts=10, seed=5)
        sb.faults.update(error_rate=0.5)
        api = Api(sb)
        runs.append([api.get("settings").status_code for _ in range(12)])
    assert runs[0] == runs[1]
    assert {200, 500, 503} >= set(runs[0]) and len(set(runs[0])) > 1
    sb.faults.update(error_rate=1.0)
    assert Api(sb).get("settings").json()["replyCode"] == 1003


def test_latency(sandbox: Sandbox, api: Api) -> None:
    sandbox.faults.update(latency=0.05)
    assert api.get("settings").status_code == 200
    sandbox.faults.reset()
    assert sandbox.faults.latency == 0.0


def test_cut_download_breaks_the_chunked_stream(sandbox: Sandbox, api: Api) -> None:
    export_id = api.export("email/getcontacts", CONTACTS)
    whole = api.download(export_id).content
    sandbox.faults.update(cut_download_every=2)
    assert api.download(export_id).content == whole  # 1st since the fault: intact
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.download(export_id).content  # noqa: B018  (2nd: cut)
    assert api.download(export_id).content == whole  # 3rd: intact
    sandbox.faults.update(cut_download_every=1)
    header = parse_csv(whole.decode())[0]
    resumed = api.download(export_id, offset=100)  # a resumed download is never cut
    assert parse_csv(resumed.text)[0] == header


def test_cut_position_is_mid_row(sandbox: Sandbox, api: Api) -> None:
    export_id = api.export("email/getcontacts", CONTACTS)
    whole = api.download(export_id).content
    sandbox.faults.update(cut_download_every=1)
    received = b""
    with requests.get(
        api.url(f"export/{export_id}/data"), headers=api.headers(), stream=True, timeout=10
    ) as reply:
        try:
            for chunk in reply.iter_content(None):
                received += chunk
        except requests.exceptions.ChunkedEncodingError:
            pass
    assert 0 < len(received) < len(whole) and whole.startswith(received)
    assert not received.endswith(b"\r\n")


def test_export_error_every_and_expired_files(sandbox: Sandbox, api: Api) -> None:
    sandbox.faults.update(export_error_every=2)
    first = api.export("email/getcontacts", CONTACTS)
    second = api.export("email/getcontacts", {**CONTACTS, "contactlist": 102})
    assert api.get(f"export/{first}").json()["data"]["status"] == "done"
    assert api.get(f"export/{second}").json()["data"]["status"] == "error"
    failed = api.get(f"export/{second}/data")
    assert (failed.status_code, failed.json()["replyCode"]) == (404, 4006)
    sandbox.faults.update(expire_files=True)
    gone = api.get(f"export/{first}/data")
    assert (gone.status_code, gone.json()["replyCode"]) == (410, 4003)


def test_export_delay_per_type(sandbox: Sandbox, api: Api) -> None:
    sandbox.faults.update(export_delay={"export/filter": 30.0})
    slow = api.export(
        "export/filter", {"distribution_method": "local", "filter": 201, "contact_fields": [3]}
    )
    fast = api.export("email/getcontacts", CONTACTS)
    assert api.get(f"export/{slow}").json()["data"]["status"] == "scheduled"
    assert api.get(f"export/{fast}").json()["data"]["status"] == "done"


def test_http_control_endpoints(sandbox: Sandbox, api: Api) -> None:
    base = sandbox.base_url
    assert requests.post(f"{base}/_sandbox/faults", json={"burst_429": 1}, timeout=5).ok
    assert api.get("settings").status_code == 429
    bad = requests.post(f"{base}/_sandbox/faults", json={"nonsense": 1}, timeout=5)
    assert bad.status_code == 400
    reset = requests.post(f"{base}/_sandbox/faults", json={"reset": True}, timeout=5).json()
    assert reset["burst_429"] == 0
    added = requests.post(
        f"{base}/_sandbox/activity", json={"at": "2026-04-20T10:00:00Z", "contacts": 2}, timeout=5
    )
    assert added.json()["total_contacts"] == 202
    expected = requests.get(
        f"{base}/_sandbox/expected",
        params={
            "export_type": "email/getcontacts",
            "body": json.dumps(
                {"distribution_method": "local", "contactlist": 101, "contact_fields": [1, 4]}
            ),
        },
        timeout=5,
    ).json()
    assert len(expected) == 202 and expected[0]["user_id"] == 1_000_000
    log = requests.get(f"{base}/_sandbox/requests", timeout=5).json()
    assert any(e["path"] == "/api/v2/settings" and e["status"] == 429 for e in log)
    assert requests.get(f"{base}/_sandbox/behavior", timeout=5).json() == []
    assert requests.get(f"{base}/_sandbox/contacts", timeout=5).json() == []
    assert requests.get(f"{base}/_sandbox/rds/x/y", timeout=5).json() == []
    unknown = requests.get(f"{base}/api/v2/nothing", timeout=5)
    assert unknown.status_code == 404 and unknown.json()["replyCode"] == 1


def test_a_sandbox_bug_still_answers_with_an_envelope(
    sandbox: Sandbox, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sandbox.backend, "settings", broken)
    reply = api.get("settings")
    assert reply.status_code == 500 and reply.json()["replyCode"] == 1003
    assert "boom" not in reply.text


def test_export_errors_are_transient_unless_every_export_fails() -> None:
    faults = Faults(seed=1)
    faults.update(export_error_every=2)
    # the 2nd start fails; the same request started again (4th start) does not
    assert [faults.next_export_fails(r) for r in ("a", "b", "c", "b")] == [
        False,
        True,
        False,
        False,
    ]
    assert faults.next_export_fails("d") is False  # 5th
    assert faults.next_export_fails("e") is True  # 6th, a new request
    faults.update(export_error_every=1)
    assert [faults.next_export_fails("a") for _ in range(3)] == [True, True, True]


def test_the_real_rate_limit_is_the_default(sandbox: Sandbox) -> None:
    """1000 requests a minute per API user unless told otherwise (docs/emarsys-api.md §3.3)."""
    api = Api(sandbox)
    first = api.get("settings")
    assert first.headers["X-RateLimit-Limit"] == "1000"
    assert first.headers["X-Ratelimit-Remaining"] == "999"
    # 999 more requests of the WSSE user, counted without HTTP, use up the window
    for _ in range(999):
        sandbox.backend.rate_limiter.count("wsse:" + sandbox.credentials["username"])
    over = api.get("settings")
    assert (over.status_code, over.json()["replyCode"]) == (429, 7003)
    # the OAuth client is another API user with its own 1000
    oauth = Api(sandbox, oauth=True).get("settings")
    assert oauth.status_code == 200 and oauth.headers["X-Ratelimit-Remaining"] == "999"


def test_rate_limit_none_switches_enforcement_off(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=10, rate_limit=None)
    for _ in range(1500):
        sb.backend.rate_limiter.count("wsse:" + sb.credentials["username"])
    reply = Api(sb).get("settings")
    assert reply.status_code == 200 and reply.headers["X-RateLimit-Limit"] == "1000000"
