"""The export runner against a scripted client: order, concurrency, retries, clear errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emarsys_api import (
    ExportAlreadyRunningError,
    ExportExpiredError,
    ExportType,
)
from tap_emarsys.export_runner import (
    ExportJobError,
    ExportRequest,
    ExportRunner,
    ExportSettings,
    ExportUnit,
)


class ScriptedClient:
    """Stands in for EmarsysClient: exports finish after `delays[key]` seconds."""

    def __init__(self, delays: dict[int, float] | None = None) -> None:
        self.delays = delays or {}
        self.downloaded_bytes = 0  # the runner's per-download log line reads it
        self.lock = threading.Lock()
        self.started: list[dict[str, Any]] = []
        self.running = 0
        self.max_running = 0
        self.fail_start: list[Exception] = []
        self.fail_wait: list[str] = []  # statuses instead of `done`, one per poll
        self.expire_after: dict[int, int] = {}  # export id -> rows before a 410
        self.rows: dict[int, list[list[str]]] = {}

    def start_export(self, export_type: ExportType, body: dict[str, Any]) -> int:
        with self.lock:
            if self.fail_start:
                raise self.fail_start.pop(0)
            self.started.append(body)
            return len(self.started)

    def export_status(self, export_id: int) -> dict:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            failure = self.fail_wait.pop(0) if self.fail_wait else None
        try:
            time.sleep(self.delays.get(self.started[export_id - 1]["key"], 0.0))
            return {"status": failure or "done"}
        finally:
            with self.lock:
                self.running -= 1

    def export_rows(self, export_id: int) -> Iterator[list[str]]:
        key = self.started[export_id - 1]["key"]
        yield ["user_id"]
        limit = self.expire_after.pop(export_id, None)
        for i, row in enumerate(self.rows.get(key, [[str(key)]])):
            if limit is not None and i == limit:
                raise ExportExpiredError(410, 4003, "Exported data is not available.", "GET /x")
            yield row


def units(count: int) -> list[ExportUnit[int]]:
    return [
        ExportUnit(k, f"window {k}", [ExportRequest(ExportType.CONTACT_CHANGES, {"key": k})])
        for k in range(count)
    ]


def runner(client: ScriptedClient, **settings: Any) -> ExportRunner:
    return ExportRunner(client, "contact_changes", ExportSettings(poll_interval=0.01, **settings))  # type: ignore[arg-type]


def test_units_come_back_in_order_with_bounded_concurrency() -> None:
    # Later windows finish first; they still come back in window order.
    client = ScriptedClient({0: 0.2, 1: 0.1, 2: 0.0, 3: 0.05, 4: 0.0, 5: 0.0})
    got = [unit.key for unit, _ in runner(client, max_concurrent=3).ready(units(6))]
    assert got == [0, 1, 2, 3, 4, 5]
    assert 1 < client.max_running <= 3


def test_one_at_a_time() -> None:
    client = ScriptedClient({k: 0.01 for k in range(4)})
    list(runner(client, max_concurrent=1).ready(units(4)))
    assert client.max_running == 1


def test_identical_export_running_is_waited_out() -> None:
    client = ScriptedClient()
    client.fail_start = [ExportAlreadyRunningError(400, 4001, "An export ...", "POST /x")] * 2
    assert [unit.key for unit, _ in runner(client).ready(units(1))] == [0]


def test_export_in_error_is_requested_again_then_fails_clearly() -> None:
    client = ScriptedClient()
    client.fail_wait = ["error"]
    ((_unit, ids),) = list(runner(client).ready(units(1)))
    assert ids == [2]  # the second request succeeded

    client = ScriptedClient()
    client.fail_wait = ["error"] * 5
    with pytest.raises(ExportJobError) as caught:
        list(runner(client, re_requests=2).ready(units(1)))
    message = str(caught.value)
    assert "contact_changes" in message
    assert "window 0" in message
    assert "export 3" in message
    assert len(client.started) == 3


def test_timeout_is_a_clear_error() -> None:
    client = ScriptedClient()
    client.fail_wait = ["in progress"] * 1000
    with pytest.raises(ExportJobError, match=r"export 1 failed: not done within export_timeout"):
        list(runner(client, timeout=0.1).ready(units(1)))


def test_expired_file_is_requested_again_without_repeating_rows() -> None:
    client = ScriptedClient()
    client.rows = {0: [["1"], ["2"], ["3"]]}
    export_runner = runner(client)
    ((unit, ids),) = list(export_runner.ready(units(1)))
    client.expire_after = {ids[0]: 2}
    rows = list(export_runner.rows(unit.label, unit.requests[0], ids[0]))
    assert rows == [["user_id"], ["1"], ["2"], ["3"]]
    assert len(client.started) == 2


def test_a_failed_unit_stops_the_rest() -> None:
    client = ScriptedClient({k: 0.05 for k in range(8)})
    client.fail_wait = ["error"] * 3
    got: list[int] = []
    with pytest.raises(ExportJobError):
        for unit, _ in runner(client, max_concurrent=2, re_requests=0).ready(units(8)):
            got.append(unit.key)
    assert len(client.started) < 8
