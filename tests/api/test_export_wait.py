"""The one export poll loop: `ready` that never becomes `done`, stops, and the download probe."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from emarsys_api import ClientSettings, EmarsysClient, ExportTimeoutError, NotFoundError
from emarsys_api.exports import ExportWaitStopped, poll_export


class FakeTime:
    """A clock that moves only when the loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _poll(
    fake: FakeTime,
    statuses: Callable[[], str],
    available: Callable[[], bool],
    **kwargs: Any,
) -> dict[str, Any]:
    options: dict[str, Any] = {"poll_interval": 5.0, "timeout": 300.0, "ready_grace": 60.0}
    options.update(kwargs)
    return poll_export(
        7,
        lambda: {"status": statuses(), "id": "7"},
        endpoint="GET /api/v2/export/7",
        data_available=available,
        clock=fake.clock,
        sleep=fake.sleep,
        **options,
    )


def test_ready_for_the_grace_period_tries_the_download_until_it_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTime()
    probes: list[float] = []
    states = iter(["in progress"] * 4)

    def available() -> bool:
        probes.append(fake.now)
        return len(probes) >= 3  # 404/4005 twice, then the file is there

    with caplog.at_level("INFO", logger="emarsys_api"):
        final = _poll(fake, lambda: next(states, "ready"), available)
    assert final["status"] == "ready"
    # `ready` from t=20; the first try is 60 s later, then once per poll.
    assert probes == [80.0, 85.0, 90.0]
    text = caplog.text
    assert "export 7 has been `ready` for 60.0 s (export_ready_grace=60 s)" in text
    assert "export 7 stays `ready` but its file can be downloaded" in text


def test_a_file_that_never_comes_is_waited_for_until_the_timeout() -> None:
    fake = FakeTime()
    with pytest.raises(ExportTimeoutError, match="export 7 still 'ready' after 300 s"):
        _poll(fake, lambda: "ready", lambda: False)


def test_without_a_grace_ready_is_not_final() -> None:
    fake = FakeTime()

    def never() -> bool:
        raise AssertionError("the download must not be tried")

    with pytest.raises(ExportTimeoutError):
        _poll(fake, lambda: "ready", never, ready_grace=None)


def test_leaving_ready_restarts_the_grace() -> None:
    fake = FakeTime()
    probes: list[float] = []
    states = iter(["ready"] * 10 + ["in progress"] + ["ready"] * 100)

    def available() -> bool:
        probes.append(fake.now)
        return True

    _poll(fake, lambda: next(states), available)
    assert probes == [55.0 + 60.0]  # `ready` again at 55 s


def test_done_is_final_without_a_try() -> None:
    fake = FakeTime()
    states = iter(["scheduled", "in progress", "ready", "done"])
    assert _poll(fake, lambda: next(states), lambda: False)["status"] == "done"


def test_a_stop_ends_the_wait_after_the_pause() -> None:
    stopped = threading.Event()
    paused: list[float] = []

    def pause(seconds: float) -> None:
        paused.append(seconds)
        stopped.set()

    with pytest.raises(ExportWaitStopped, match="export 7"):
        _poll(FakeTime(), lambda: "in progress", lambda: False, stopped=stopped, pause=pause)
    assert paused == [5.0]


def _client(url: str) -> EmarsysClient:
    return EmarsysClient(ClientSettings(base_url=url, username="u", secret="s", max_retries=0))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, "user_id\r\n1\r\n", True),
        (404, {"replyCode": 4005, "replyText": "Export is currently in progress."}, False),
        (404, "Not Found", False),
    ],
)
def test_the_download_probe_reads_200_and_still_building(
    tiny_server: Callable[..., str], status: int, body: Any, expected: bool
) -> None:
    asked: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        asked.append(dict(request.args))
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status=status)

    assert _client(tiny_server(handler)).export_data_available(9) is expected
    assert asked == [{"offset": "0", "limit": "1"}]


def test_the_download_probe_raises_other_404s(tiny_server: Callable[..., str]) -> None:
    def handler(request: Request) -> Response:
        body = {"replyCode": 4004, "replyText": '"distribution_method" of this export is not'}
        return Response(json.dumps(body), status=404)

    with pytest.raises(NotFoundError) as caught:
        _client(tiny_server(handler)).export_data_available(9)
    assert caught.value.reply_code == 4004
