"""The installed `target-emarsys` command logs one INFO line per answered write request.

A nightly run's log is how an operator sees the writes moving (and how far a run got before it
stopped), so the line is part of the target's interface: `stream '<s>': request of <n> row(s)
answered, <total> sent so far`. Here the command writes to a sandbox over real HTTP, and the
lines are checked against what the sandbox received.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.target_run import (
    PURCHASE,
    lines,
    purchase,
    purchases_sandbox,
    record,
    schema,
    writes,
)

TARGET = str(Path(sys.executable).parent / "target-emarsys")
LINE = re.compile(r"stream 'purchases': request of (\d+) row\(s\) answered, (\d+) sent so far")
RECORDS = 2500
BATCH_ROWS = 700  # requests of 700, 700, 700 and 400 rows


@pytest.fixture
def sb(shm_dir: Path) -> Iterator[Sandbox]:
    """A sandbox with `demo.purchases` (key `order_id`)."""
    with purchases_sandbox(shm_dir, contacts=20, seed=5) as sandbox:
        yield sandbox


def test_each_answered_request_logs_its_rows_and_the_running_total(
    sb: Sandbox, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sb.wsse_config(rds_connection="demo", batch_size_rows=BATCH_ROWS)))
    messages = [
        schema("purchases", PURCHASE, ["order_id"]),
        *[record("purchases", **purchase(i)) for i in range(RECORDS)],
    ]
    done = subprocess.run(
        [TARGET, "--config", str(config)],
        input=lines(messages),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert len(sb.rds_rows("demo", "purchases")) == RECORDS

    logged = [(int(n), int(total)) for n, total in LINE.findall(done.stderr)]
    # one line per write request the sandbox answered
    assert len(logged) == len(writes(sb)) == 4
    assert sorted(n for n, _ in logged) == [400, 700, 700, 700]
    assert all(0 < n <= 1000 for n, _ in logged)
    # Requests are answered on pool threads, so two lines may come out of order; by their
    # totals, each total is the one before plus its own rows, and the last is all records.
    running = 0
    for n, total in sorted(logged, key=lambda pair: pair[1]):
        running += n
        assert total == running
    assert running == RECORDS
    info = [line for line in done.stderr.splitlines() if LINE.search(line)]
    assert all("INFO" in line for line in info), info
