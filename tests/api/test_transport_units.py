"""Error classification and wait computation (single functions)."""

from __future__ import annotations

import pytest

from emarsys_api import (
    AuthenticationError,
    ClientSettings,
    EmarsysError,
    ExportAlreadyRunningError,
    ExportExpiredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from emarsys_api.transport import Transport, classify, reset_time, retry_wait, server_wait


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, 1, AuthenticationError),
        (403, None, PermissionDeniedError),
        (403, 1, PermissionDeniedError),
        (429, 7003, RateLimitedError),
        (410, 4003, ExportExpiredError),
        (400, 4001, ExportAlreadyRunningError),
        (400, 10001, ValidationError),
        (423, 6028, ValidationError),
        (404, 4005, NotFoundError),
        (404, 15004, NotFoundError),
        (500, 1003, ServerError),
        (503, None, ServerError),
        (200, 2008, EmarsysError),
    ],
)
def test_classify(status: int, code: int | None, kind: type[EmarsysError]) -> None:
    error = classify(status, code, "some text", "POST /api/v2/x")
    assert type(error) is kind
    assert (error.status, error.reply_code, error.endpoint) == (status, code, "POST /api/v2/x")
    text = str(error)
    assert "POST /api/v2/x" in text
    assert "some text" in text
    assert error.hint in text


def test_download_not_found_hints() -> None:
    assert "distribution_method" in str(classify(404, 4004, "x", "GET /api/v2/export/1/data"))
    assert "done" in str(classify(404, 4005, "x", "GET /api/v2/export/1/data"))
    assert "Check the ids" in str(classify(404, 15004, "x", "GET /api/rds/x"))


def test_authentication_message_mentions_clock_and_credentials() -> None:
    text = str(classify(401, 1, "Unauthorized", "GET /api/v2/field"))
    assert "clock" in text
    assert "credentials" in text


def test_errors_pickle() -> None:
    import pickle

    error = classify(400, 4001, "running", "POST /api/v2/contact/getchanges")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ExportAlreadyRunningError
    assert str(again) == str(error)


def test_server_wait_prefers_retry_after_then_reset() -> None:
    now = 1_800_000_000.0
    assert server_wait({"Retry-After": "7"}, now) == 7.0
    assert server_wait({"X-RateLimit-Reset": str(int(now) + 12)}, now) == 12.0
    assert server_wait({"X-RateLimit-Reset": "3"}, now) == 3.0  # a delay, not a Unix time
    assert server_wait({"X-RateLimit-Reset": str(int(now) - 5)}, now) == 0.0
    assert server_wait({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now) == 0.0
    assert server_wait({}, now) is None
    assert reset_time({"X-RateLimit-Reset": "junk"}, now) is None


def test_retry_wait_honours_hint_capped_else_exponential() -> None:
    hinted = RateLimitedError(429, 7003, "", "GET /x")
    hinted.retry_after = 500.0
    assert retry_wait(hinted, 0, base=1.0, max_wait=30.0) == 30.0
    hinted.retry_after = 2.0
    assert retry_wait(hinted, 3, base=1.0, max_wait=30.0) == 2.0
    plain = ServerError(500, None, "", "GET /x")
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (10, 30.0)]:
        wait = retry_wait(plain, attempt, base=1.0, max_wait=30.0)
        assert ceiling / 2 <= wait <= ceiling


def test_redact_removes_secrets_and_secret_shapes() -> None:
    settings = ClientSettings(username="u", secret="topsecret")
    transport = Transport(settings, auth=None, secrets=lambda: ["topsecret"])  # type: ignore[arg-type]
    text = transport.redact(
        'echo topsecret PasswordDigest="YWQyNWE5Y2JkOTY2ZTU1OD==" Bearer abcdef123456'
    )
    assert "topsecret" not in text
    assert "YWQyNWE5Y2JkOTY2ZTU1OD" not in text
    assert "abcdef123456" not in text


def test_request_bodies_take_any_mapping_as_an_object_and_nothing_else_loosely() -> None:
    """Rows go into a body as they are: a mapping that is no dict is encoded as an object, a
    `str` subclass as a string; a value that is neither (here a `UserString`) is refused, not
    spelt out as a list of its characters."""
    import collections
    import types

    from emarsys_api.transport import _JSON_ENCODER

    class Secret(str):
        pass

    body = [types.MappingProxyType({"a": 1}), {"b": Secret("x")}]
    assert _JSON_ENCODER.encode(body) == b'[{"a":1},{"b":"x"}]'
    with pytest.raises(NotImplementedError):
        _JSON_ENCODER.encode([{"c": collections.UserString("xy")}])
