"""Relational writes into typed (MySQL-like) sandbox RDS tables over real HTTP.

Emarsys-hosted RDS tables are typed MySQL tables (docs/emarsys-api.md §12.10): a `DATETIME`
refuses ISO text with `T` or an offset, a `TINYINT` refuses JSON booleans, a `VARCHAR(n)`
longer text. Every type round-trips what the target sends; what it used to send is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from emarsys_api import ClientSettings, EmarsysClient, ValidationError
from emarsys_sandbox import Sandbox
from target_emarsys.errors import RecordRejectedError
from tests.helpers.target_run import record, run, schema

COLUMNS = ["id", "at", "vip", "n", "d", "s", "x"]
TYPES = {
    "at": "datetime",
    "vip": "tinyint",
    "n": "int",
    "d": "date",
    "s": "varchar(40)",
    "x": "decimal",
}
PROPERTIES = {
    "id": {"type": "integer"},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "vip": {"type": ["boolean", "null"]},
    "n": {"type": ["integer", "null"]},
    "d": {"type": ["string", "null"], "format": "date"},
    "s": {"type": ["string", "null"]},
    "x": {"type": ["number", "null"]},
}
VIENNA = ZoneInfo("Europe/Vienna")
#: instants on both sides of both 2026 DST changes, in several offsets, with and without one
INSTANTS = [
    "2026-03-29T00:59:59Z",
    "2026-03-29T01:00:00+00:00",
    "2026-03-29T03:30:00+02:00",
    "2026-10-25T00:30:00Z",
    "2026-10-25T01:30:00Z",
    "2026-07-01T12:00:00-04:00",
    "2026-01-15T08:00:00",
    "2026-01-15T08:00:00.250000Z",
]


@pytest.fixture
def sb(shm_dir: Path) -> Iterator[Sandbox]:
    """A sandbox with the typed table `demo.typed` (key `id`)."""
    tables = {"typed": {"columns": COLUMNS, "primary_key": ["id"], "types": TYPES}}
    with Sandbox(
        contacts=5, seed=2, rds_tables={"demo": tables}, db_path=str(shm_dir / "rds.sqlite")
    ) as sandbox:
        yield sandbox


def stored_time(iso: str) -> str:
    """The naive Vienna text a DATETIME holds for an instant (naive ISO text meaning UTC)."""
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    local = moment.astimezone(VIENNA)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{local.microsecond:06d}" if local.microsecond else text


def row(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "at": INSTANTS[i % len(INSTANTS)] if i % 9 else None,
        "vip": [True, False, None][i % 3],
        "n": i * 1000 - 5000,
        "d": f"2026-03-{1 + i % 28:02d}",
        "s": ("Zoë ✓ " * 8)[: i % 41],  # up to the column's 40 characters
        "x": round(i * 1.25, 2),
    }


def typed_config(**extra: Any) -> dict[str, Any]:
    return {"stream_destinations": {"t": {"type": "relational", "table": "typed"}}, **extra}


def test_every_type_round_trips(sb: Sandbox) -> None:
    sent = [row(i) for i in range(1, 1201)]
    run(sb, typed_config(), [schema("t", PROPERTIES, ["id"]), *[record("t", **r) for r in sent]])
    held = {r["id"]: r for r in sb.rds_rows("demo", "typed")}
    assert len(held) == len(sent)
    for want in sent:
        got = held[want["id"]]
        assert got["at"] == (stored_time(want["at"]) if want["at"] else None)
        assert got["vip"] == (None if want["vip"] is None else int(want["vip"]))
        assert got["n"] == want["n"] and got["d"] == want["d"] and got["x"] == want["x"]
        assert got["s"] == want["s"]


def test_what_the_old_target_sent_is_refused(sb: Sandbox) -> None:
    """ISO text with T and an offset, and JSON booleans: 400/15014 naming column and value."""
    with EmarsysClient(ClientSettings.from_config(sb.wsse_config())) as client:
        for column, value in [("at", "2026-03-29T01:30:00+00:00"), ("vip", True)]:
            base = {c: None for c in COLUMNS}
            rows = [{**base, "id": 1}, {**base, "id": 2, column: value}]
            with pytest.raises(ValidationError) as refused:
                client.rds_upsert("demo", "typed", rows)
            assert refused.value.reply_code == 15014
            assert column in refused.value.reply_text
            assert json.dumps(value) in refused.value.reply_text
    assert sb.rds_rows("demo", "typed") == []  # nothing of either request stored


def test_text_too_long_for_its_column_is_a_rejected_row(sb: Sandbox, tmp_path: Path) -> None:
    too_long = {**row(1), "s": "x" * 41}
    messages = [schema("t", PROPERTIES, ["id"]), record("t", **row(2)), record("t", **too_long)]
    with pytest.raises(RecordRejectedError, match=r"column 's'.*varchar\(40\)"):
        run(sb, typed_config(), messages)
    assert sb.rds_rows("demo", "typed") == []
    path = tmp_path / "rejected.jsonl"
    run(sb, typed_config(on_record_error="log", rejected_rows_path=str(path)), messages)
    (kept,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert kept["record"]["id"] == 1 and "varchar(40)" in kept["reason"]
    assert [r["id"] for r in sb.rds_rows("demo", "typed")] == [2]  # the rest is written
