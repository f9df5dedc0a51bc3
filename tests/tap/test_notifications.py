"""Export notifications: a run wakes on Emarsys's callback; a lost callback falls back to polls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emarsys_api import ConfigurationError
from emarsys_api.notifications import ExportNotifications, export_id_of
from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from tests.helpers.ports import free_port
from tests.helpers.tap_runs import run_tap
from tests.helpers.truth import expected_records, typed

STREAM = "segment_members"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=30, seed=5, export_delay=0.3, notification_retry_delay=0.05) as sandbox:
        yield sandbox


def _config(sb: Sandbox, poll_interval: float, timeout: float) -> dict[str, Any]:
    port = free_port()
    return sb.wsse_config(
        start_date="2026-03-15",
        end_date="2026-04-13",
        contact_fields=[1, 3],
        export_poll_interval=poll_interval,
        export_timeout=timeout,
        notification_url=f"http://127.0.0.1:{port}/emarsys/export-done",
        notification_listen=f"127.0.0.1:{port}",
    )


def _status_polls(sb: Sandbox) -> int:
    return sum(
        1
        for entry in sb.request_log()
        if entry["method"] == "GET" and entry["path"].rsplit("/", 1)[-1].isdigit()
    )


def test_a_notified_run_does_not_wait_for_the_poll_interval(sb: Sandbox) -> None:
    # Polling alone would wait 3 x 60 s after the first poll and hit export_timeout (20 s) first;
    # the run can only finish because the callback woke it.
    config = _config(sb, poll_interval=60, timeout=20)
    output = run_tap(config, [STREAM])
    stream = TapEmarsys(config=config).streams[STREAM]
    assert typed(output.records[STREAM]) == typed(expected_records(sb, stream))  # type: ignore[arg-type]
    exports = sum(1 for e in sb.request_log() if e["path"].endswith("/export/filter"))
    assert exports >= 1
    assert _status_polls(sb) <= 2 * exports  # the first poll, and the one the callback caused


def test_a_dropped_callback_still_completes_by_polling(sb: Sandbox) -> None:
    sb.faults.update(drop_notifications=True)
    config = _config(sb, poll_interval=0.04, timeout=20)
    output = run_tap(config, [STREAM])
    stream = TapEmarsys(config=config).streams[STREAM]
    assert typed(output.records[STREAM]) == typed(expected_records(sb, stream))  # type: ignore[arg-type]
    exports = sum(1 for e in sb.request_log() if e["path"].endswith("/export/filter"))
    assert _status_polls(sb) > 2 * exports


def test_listener_takes_the_status_envelope_or_its_data() -> None:
    assert export_id_of({"replyCode": 0, "data": {"id": "2140", "status": "done"}}) == 2140
    assert export_id_of({"id": 7}) == 7
    assert export_id_of({"data": {"id": True}}) is None
    with ExportNotifications("127.0.0.1", 0) as listener:
        url = f"http://127.0.0.1:{listener.port}/"
        assert requests.post(url, json={"data": {"id": "41"}}, timeout=5).status_code == 200
        assert requests.post(url, data=b"not json", timeout=5).status_code == 400
        assert listener.wait(41, timeout=1.0)
        assert not listener.wait(41, timeout=0.05)  # consumed


def test_a_busy_listen_address_is_a_configuration_error() -> None:
    with ExportNotifications("127.0.0.1", 0) as first:
        busy = ExportNotifications("127.0.0.1", first.port)
        with pytest.raises(ConfigurationError, match="notification_listen"):
            busy.start()
