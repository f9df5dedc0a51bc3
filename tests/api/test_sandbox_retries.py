"""Retries and pacing against the sandbox: 429 waited out, 5xx retried, limits respected."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from emarsys_api import RateLimitedError, ServerError
from tests.helpers.clients import oauth_client, wsse_client


def _statuses(sandbox: Any, path: str) -> list[int]:
    return [e["status"] for e in sandbox.request_log() if e["path"] == path]


def test_429_burst_is_waited_out(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    sandbox.faults.update(burst_429=2)
    with caplog.at_level(logging.INFO, logger="emarsys_api"):
        lists = wsse_client(sandbox).contact_lists()
    assert lists
    assert _statuses(sandbox, "/api/v2/contactlist") == [429, 429, 200]
    assert "retry 1" in caplog.text


def test_429_beyond_max_retries_is_rate_limited_error(sandbox: Any) -> None:
    sandbox.faults.update(burst_429=5)
    with pytest.raises(RateLimitedError) as caught:
        wsse_client(sandbox, max_retries=1).segments()
    assert (caught.value.status, caught.value.reply_code) == (429, 7003)
    assert _statuses(sandbox, "/api/v2/filter") == [429, 429]


def test_server_errors_are_retried(sandbox: Any) -> None:
    sandbox.faults.update(error_rate=0.4)
    client = oauth_client(sandbox)
    for _ in range(8):
        assert client.contact_lists()
    statuses = _statuses(sandbox, "/api/v3/contactlist")
    assert statuses.count(200) == 8
    assert {500, 503} & set(statuses)


def test_persistent_server_errors_give_server_error(sandbox: Any) -> None:
    sandbox.faults.update(error_rate=1.0)
    with pytest.raises(ServerError) as caught:
        wsse_client(sandbox, max_retries=2).settings()
    assert caught.value.endpoint == "GET /api/v2/settings"
    assert len(_statuses(sandbox, "/api/v2/settings")) == 3


def test_client_errors_are_not_retried(sandbox: Any) -> None:
    client = wsse_client(sandbox)
    with pytest.raises(Exception) as caught:
        client.email_launches(999_999_999)
    assert caught.value.__class__.__name__ in {"ValidationError", "NotFoundError"}
    assert len(_statuses(sandbox, "/api/v2/email/getlaunchesofemail")) == 1


@pytest.mark.slow  # waits out a 1-second rate window
def test_pacing_keeps_under_the_limit(make_sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    sandbox = make_sandbox(contacts=20, rate_limit=3, rate_window=1.0)
    client = wsse_client(sandbox)
    with caplog.at_level(logging.INFO, logger="emarsys_api"):
        for _ in range(4):
            client.contact_lists()
    statuses = _statuses(sandbox, "/api/v2/contactlist")
    assert statuses.count(200) == 4
    assert 429 not in statuses
    assert "pausing" in caplog.text


@pytest.mark.slow  # waits out 1-second rate windows
def test_threads_share_one_client_token_and_pace(make_sandbox: Any) -> None:
    sandbox = make_sandbox(contacts=20, rate_limit=5, rate_window=1.0)
    client = oauth_client(sandbox)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: client.contact_lists(), range(9)))
    assert all(results)
    log = sandbox.request_log()
    assert len([e for e in log if e["path"].endswith("/oauth2/token")]) == 1
    statuses = [e["status"] for e in log if e["path"] == "/api/v3/contactlist"]
    assert statuses == [200] * 9  # requests in flight count against the budget: no 429
