"""Killed at any point and rerun from the last emitted STATE: nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.target_run import (
    PURCHASE,
    lines,
    purchase,
    record,
    schema,
    state,
)

TOTAL = 4000
STATE_EVERY = 250
TARGET = Path(sys.executable).parent / "target-emarsys"
CONTACT = {"email": {"type": "string"}, "first_name": {"type": ["string", "null"]}}


def messages(kind: str, start: int) -> list[dict[str, Any]]:
    """A tap's output from record `start` on, with a bookmark STATE every 250 records."""
    out = []
    if kind in ("contacts", "mixed"):
        out.append(schema("people", CONTACT, ["email"]))
    if kind in ("relational", "mixed"):
        out.append(schema("purchases", PURCHASE, ["order_id"]))
    for i in range(start, TOTAL):
        # "mixed": even records are purchases, odd ones contacts, under one bookmark.
        if kind == "contacts" or (kind == "mixed" and i % 2):
            out.append(record("people", email=f"p{i}@example.com", first_name=f"Zoë {i}"))
        else:
            out.append(record("purchases", **purchase(i)))
        if i % STATE_EVERY == STATE_EVERY - 1:
            out.append(state({"done_through": i}))
    return out


def start_target(config: dict[str, Any], tmp: Path, kind: str, start: int) -> subprocess.Popen[str]:
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "input.jsonl").write_text(lines(messages(kind, start)))
    with (tmp / "input.jsonl").open() as stdin:
        return subprocess.Popen(
            [str(TARGET), "--config", str(tmp / "config.json")],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )


def done_through(sb: Sandbox, kind: str) -> list[int]:
    """Record numbers the destination holds (one entry per stored row or created contact)."""
    contacts = [
        int(w["key_value"][1:].split("@")[0]) for w in sb.contacts_written() if w["created"]
    ]
    return contacts + [row["order_id"] for row in sb.rds_rows("demo", "purchases")]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "how"),
    [
        ("relational", signal.SIGKILL),
        ("contacts", signal.SIGKILL),
        ("mixed", signal.SIGKILL),
        ("relational", signal.SIGTERM),
    ],
)
def test_kill_and_rerun_from_last_state(
    make_sandbox: Any, shm_dir: Path, tmp_path: Path, kind: str, how: signal.Signals
) -> None:
    tables = {"purchases": {"columns": list(PURCHASE), "primary_key": ["order_id"]}}
    sb = make_sandbox(
        contacts=10, seed=2, rds_tables={"demo": tables}, db_path=str(shm_dir / "rds.sqlite")
    )
    sb.faults.update(latency=0.01)
    config = sb.wsse_config(
        rds_connection="demo",
        batch_size_rows=100,
        stream_destinations={"people": {"type": "contacts", "key_field": "email"}},
    )

    proc = start_target(config, tmp_path, kind, 0)
    assert proc.stdout is not None
    states = []
    for line in proc.stdout:
        states.append(json.loads(line))
        if len(states) == 3:
            os.kill(proc.pid, how)
            break
    # Requests already in flight may still finish and release their STATE.
    rest, _ = proc.communicate(timeout=60)
    states += [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == (128 + how if how == signal.SIGTERM else -how)
    last = states[-1]["done_through"]
    held = done_through(sb, kind)
    # Everything a STATE covers was acknowledged before the STATE left the target.
    assert set(range(last + 1)) <= set(held)
    assert len(held) < TOTAL

    rerun = start_target(config, tmp_path, kind, last + 1)
    out, _ = rerun.communicate(timeout=60)
    assert rerun.returncode == 0
    assert json.loads(out.splitlines()[-1]) == {"done_through": TOTAL - 1}
    held = done_through(sb, kind)
    assert sorted(held) == list(range(TOTAL))  # nothing lost, nothing twice
    if kind == "relational":
        rows = {row["order_id"]: row for row in sb.rds_rows("demo", "purchases")}
        assert all(rows[i]["note"] == purchase(i)["note"] for i in range(TOTAL))
