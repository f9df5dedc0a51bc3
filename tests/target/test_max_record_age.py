"""Records that wait too long are written: the SDK's max-record-age drain in target-emarsys.

singer-sdk drains every sink once records have waited longer than
`Target._MAX_RECORD_AGE_IN_MINUTES` (5) since the last full drain, so a slow tap's few records
reach the destination (and its STATE goes out) long before a batch fills. target-emarsys
re-implements the SDK's RECORD path (`target_emarsys/sdk_overrides.py`), and with it that
check. Here the clock is moved on instead of waited for: `time.time` runs ahead by an offset the
test sets, so both the re-implemented check and the SDK's own `_handle_max_record_age` see it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from target_emarsys.target import TargetEmarsys
from tests.helpers.target_run import PURCHASE, TargetRun, purchase, record, schema

LIMIT_SECONDS = TargetEmarsys._MAX_RECORD_AGE_IN_MINUTES * 60


@pytest.fixture
def advance(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """`advance(seconds)`: from now on `time.time()` is that much further ahead."""
    real = time.time
    offset = [0.0]
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])

    def move(seconds: float) -> None:
        offset[0] += seconds

    return move


def purchases(start: int, count: int) -> list[dict[str, Any]]:
    return [record("purchases", **purchase(i)) for i in range(start, start + count)]


def test_a_small_batch_is_written_once_its_records_are_older_than_the_limit(
    advance: Callable[[float], None],
) -> None:
    run = TargetRun({"batch_size_rows": 1000})
    pool = run.target.write_context.pool
    run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(0, 10)], finish=False)
    sink = run.target._sinks_active["purchases"]

    advance(LIMIT_SECONDS - 60)  # four minutes on: young enough, nothing is written
    run.feed(purchases(10, 1), finish=False)
    pool.wait_all()
    assert sink.current_size == 11
    assert run.client.calls == []

    advance(61)  # past the limit: the next record drains every sink, far below 1000 rows
    run.feed(purchases(11, 1), finish=False)
    pool.wait_all()
    assert sink.current_size == 0
    (upsert,) = run.client.named("rds_upsert")
    assert [row["order_id"] for row in upsert[2]] == list(range(12))

    advance(60)  # the drain restarted the clock: a minute later the next record waits again
    run.feed(purchases(12, 1), finish=False)
    pool.wait_all()
    assert sink.current_size == 1
    assert len(run.client.calls) == 1

    run.target.process_endofpipe()
    assert [row["order_id"] for row in run.client.named("rds_upsert")[1][2]] == [12]
