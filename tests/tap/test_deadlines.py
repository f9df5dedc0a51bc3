"""No API call waits without end: a reply that never comes or trickles fails at
`request_deadline`, and an export download that stalls or trickles below `min_download_rate` is
cut and resumed; through the real `tap-emarsys` command against a tiny server, or a tiny proxy
in front of the sandbox that slows its downloads.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

import emarsys_api.transport
from emarsys_api.transport import DownloadRateFloor, DownloadTooSlow, Transport
from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from tests.helpers.commands import CommandRun
from tests.helpers.proxy import proxy_to
from tests.helpers.tap_runs import FAST, TapOutput, selected_catalog
from tests.helpers.truth import expected_records, typed

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

#: the command `tap-emarsys` runs (`.cli` would add console log handlers per access)
TAP_CLI = TapEmarsys.get_singer_command()
STREAM = "email_responses"


def assert_one_error(run: CommandRun, *words: str) -> str:
    assert run.exit_code == 1, run.stderr
    assert run.exception is None, run.exception
    assert "Traceback" not in run.stderr
    assert run.logged_errors == []  # not the SDK's "An unhandled error occurred while syncing"
    clicks = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert len(clicks) == 1, run.stderr
    for word in words:
        assert word in clicks[0]
    return clicks[0]


def test_a_reply_that_trickles_fails_at_the_request_deadline(
    tiny_server: Callable[..., str], run_command: Any, tmp_path: Path
) -> None:
    """Headers, then a byte every 0.1 s: no read times out, the deadline still ends the call."""
    sent = threading.Event()

    def trickle(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            sent.set()
            for _ in range(150):  # 15 s at most, far past the deadline
                time.sleep(0.1)
                yield b" "
            yield b'{"replyCode": 0, "replyText": "OK", "data": []}'

        return Response(body(), content_type="application/json")

    config = {
        "base_url": tiny_server(trickle),
        "username": "u",
        "secret": "s3cr3t-value",
        "start_date": "2026-03-15",
        "timeout": 5,
        "request_deadline": 1.5,
    }
    run = run_command(TAP_CLI, config, tmp_path, "--discover")
    assert sent.is_set()
    line = assert_one_error(run, "no complete reply within request_deadline=1.5 s")
    assert "s3cr3t-value" not in run.stderr + line


def test_a_server_that_never_answers_fails_at_the_request_deadline(
    tiny_server: Callable[..., str], run_command: Any, tmp_path: Path
) -> None:
    """Every attempt times out; the retries stop at the deadline, not after max_retries."""
    attempts: list[float] = []

    def silent(request: Request) -> Response:
        attempts.append(time.monotonic())
        time.sleep(3)  # longer than any attempt may wait; bounded so the server stops
        return Response("{}", content_type="application/json")

    config = {
        "base_url": tiny_server(silent),
        "username": "u",
        "secret": "s3cr3t-value",
        "start_date": "2026-03-15",
        "timeout": 0.3,
        "max_retries": 1000,
        "request_deadline": 1.2,
    }
    run = run_command(TAP_CLI, config, tmp_path, "--discover")
    assert_one_error(run, "request_deadline=1.2 s", "ReadTimeout")
    assert 2 <= len(attempts) < 1000  # retried, then stopped by the deadline


def slowed_downloads(sb: Sandbox, mode: str, downloads: int) -> Callable[[Request], Response]:
    """A proxy to the sandbox whose first `downloads` export downloads stall or trickle."""

    def slow(body: bytes) -> Iterator[bytes]:
        start = 0 if mode == "trickle-from-start" else min(200, len(body) // 2)
        yield body[:start]
        if mode == "stall":
            time.sleep(3)  # the tap stops waiting after one rate window
            return
        for position in range(start, min(len(body), start + 60)):  # 1 byte / 50 ms, 3 s
            time.sleep(0.05)
            yield body[position : position + 1]

    return proxy_to(sb, lambda number, body: slow(body) if number <= downloads else body)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=11) as sandbox:
        yield sandbox


def proxied_config(sb: Sandbox, proxy: str, **extra: Any) -> dict[str, Any]:
    config = sb.wsse_config(
        start_date="2026-03-15", end_date="2026-03-29", export_window_days=7, **FAST, **extra
    )
    return {**config, "base_url": proxy}


def records(run: CommandRun) -> TapOutput:
    return TapOutput([json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")])


@pytest.mark.parametrize("mode", ["trickle", "stall"])
def test_a_slow_download_is_cut_and_resumed_to_the_ground_truth(
    sb: Sandbox,
    tiny_server: Callable[..., str],
    run_command: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    monkeypatch.setattr(Transport, "rate_window", 0.3)
    proxy = tiny_server(slowed_downloads(sb, mode, downloads=2))
    config = proxied_config(sb, proxy, min_download_rate=1000)
    expected = expected_records(sb, TapEmarsys(config=config).streams[STREAM])  # type: ignore[arg-type]
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(selected_catalog(TapEmarsys(config=config), [STREAM])))
    run = run_command(TAP_CLI, config, tmp_path, "--catalog", str(catalog))
    assert run.exit_code == 0, run.stderr
    output = records(run)
    assert typed(output.records[STREAM]) == typed(expected)
    assert output.bookmark(STREAM) == "2026-03-28T23:00:00+00:00"
    why = "DownloadTooSlow" if mode == "trickle" else "ReadTimeoutError"
    cuts = [r.getMessage() for r in caplog.records if "cut after" in r.getMessage()]
    assert len(cuts) == 2 and all(why in cut for cut in cuts), cuts


def test_a_download_that_always_trickles_is_one_line_naming_the_export(
    sb: Sandbox,
    tiny_server: Callable[..., str],
    run_command: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Transport, "rate_window", 0.3)
    proxy = tiny_server(slowed_downloads(sb, "trickle-from-start", downloads=1000))
    config = proxied_config(sb, proxy, min_download_rate=1000, max_retries=1)
    run = run_command(TAP_CLI, config, tmp_path)
    line = assert_one_error(run, "Stream 'contact_changes'", "window [", "export ")
    assert "kept failing after 0 rows" in line
    assert sb.credentials["secret"] not in run.stderr


class FakeClock:
    """`time.monotonic` for `DownloadRateFloor`: reads take `read_time`, nothing else counts."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class FakeBody:
    """A raw body handing out `chunk` bytes per read, each taking `read_time` seconds."""

    def __init__(self, clock: FakeClock, chunk: int, read_time: float) -> None:
        self.clock, self.chunk, self.read_time, self.received = clock, chunk, read_time, 0

    def read1(self, size: int | None = None) -> bytes:
        self.clock.now += self.read_time
        self.received += self.chunk
        return b"x" * self.chunk

    def tell(self) -> int:
        return self.received


def test_the_floor_counts_reading_time_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tap held up by its consumer (a full stdout pipe) between reads is not a slow server."""
    clock = FakeClock()
    monkeypatch.setattr(emarsys_api.transport, "time", SimpleNamespace(monotonic=clock.monotonic))
    fast = FakeBody(clock, chunk=1000, read_time=0.01)  # 100 kB/s while reading
    floor = DownloadRateFloor(fast, 1024, 10.0, "GET /data")  # type: ignore[arg-type]
    for _ in range(3000):
        floor.read1(65536)
        clock.now += 60.0  # the consumer keeps the tap away for a minute between reads
    slow = FakeBody(clock, chunk=100, read_time=1.0)  # 100 B/s while reading
    floor = DownloadRateFloor(slow, 1024, 10.0, "GET /data")  # type: ignore[arg-type]
    with pytest.raises(DownloadTooSlow, match=r"1000 bytes in 10\.0 s of reading \(100 B/s"):
        for _ in range(11):
            floor.read1(65536)
