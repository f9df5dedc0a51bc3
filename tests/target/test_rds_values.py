"""RDS values in the forms a typed (MySQL) table takes, with a recording client.

Against typed sandbox tables over real HTTP: test_rds_types_sandbox.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from target_emarsys.errors import InvalidRowError, RecordRejectedError
from target_emarsys.sinks.relational import ISOLATION_REQUESTS
from target_emarsys.values import rds_date, rds_datetime
from tests.helpers.recording_client import RecordingClient, rds_error
from tests.helpers.target_run import record, schema

#: ISO text -> the naive Vienna time a DATETIME column holds; both sides of both DST changes
TIMESTAMPS = {
    "2026-03-29T00:59:59Z": "2026-03-29 01:59:59",  # CET, the last second before the change
    "2026-03-29T01:00:00Z": "2026-03-29 03:00:00",  # CEST from here
    "2026-03-29T01:30:00+00:00": "2026-03-29 03:30:00",
    "2026-03-29T03:30:00+02:00": "2026-03-29 03:30:00",
    "2026-03-29T01:30:00+01:00": "2026-03-29 01:30:00",
    "2026-10-25T00:59:59Z": "2026-10-25 02:59:59",  # CEST, the first 02:59:59
    "2026-10-25T01:00:00Z": "2026-10-25 02:00:00",  # CET again
    "2026-07-01T12:00:00-04:00": "2026-07-01 18:00:00",
    "2026-01-15T08:00:00": "2026-01-15 09:00:00",  # no offset: a Singer timestamp is UTC
    "2026-01-15T08:00:00.250000Z": "2026-01-15 09:00:00.250000",
    "2025-12-31T23:30:00Z": "2026-01-01 00:30:00",
}


@pytest.mark.parametrize(("iso", "stored"), sorted(TIMESTAMPS.items()))
def test_timestamps_become_vienna_datetime_text(iso: str, stored: str) -> None:
    assert rds_datetime(iso) == stored
    assert rds_datetime(dt.datetime.fromisoformat(iso)) == stored


@pytest.mark.parametrize("bad", ["yesterday", "2026-02-30T00:00:00Z", "", 1774750000])
def test_what_is_no_timestamp_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError):
        rds_datetime(bad)


def test_dates_become_iso_dates() -> None:
    assert rds_date("2026-03-29") == "2026-03-29"
    assert rds_date("20260329") == "2026-03-29"
    assert rds_date(dt.date(2026, 3, 29)) == "2026-03-29"
    with pytest.raises(ValueError):
        rds_date("29.03.2026")


TYPED = {
    "id": {"type": "integer"},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "d": {"type": ["string", "null"], "format": "date"},
    "vip": {"type": ["boolean", "null"]},
    "n": {"type": ["integer", "null"]},
    "x": {"type": ["number", "null"]},
    "s": {"type": ["string", "null"]},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
}


def typed_rows(run_target: Any, records: list[dict[str, Any]], **config: Any) -> Any:
    run = run_target({"stream_destinations": {"s": {"type": "relational", "table": "t"}}, **config})
    run.feed([schema("s", TYPED, ["id"]), *[record("s", **r) for r in records]])
    return [row for _, _, rows in run.client.named("rds_upsert") for row in rows]


@pytest.mark.parametrize("validate", [True, False])
def test_rows_carry_the_forms_a_typed_table_takes(run_target: Any, validate: bool) -> None:
    rows = typed_rows(
        run_target,
        [
            {
                "id": 1,
                "at": "2026-03-29T01:30:00Z",
                "d": "2026-03-29",
                "vip": True,
                "n": 7,
                "x": 2.5,
                "s": "Zoë",
                "tags": ["a"],
            },
            {"id": 2, "vip": False, "x": 3},
        ],
        validate_records=validate,
    )
    assert rows == [
        {
            "id": 1,
            "at": "2026-03-29 03:30:00",
            "d": "2026-03-29",
            "vip": 1,
            "n": 7,
            "x": 2.5,
            "s": "Zoë",
            "tags": '["a"]',
        },
        {"id": 2, "at": None, "d": None, "vip": 0, "n": None, "x": 3, "s": None, "tags": None},
    ]
    assert type(rows[0]["vip"]) is int and type(rows[1]["vip"]) is int


def test_a_stream_map_that_computes_a_boolean_sends_1_or_0(run_target: Any) -> None:
    props = {"id": {"type": "integer"}, "s": {"type": ["string", "null"]}}
    run = run_target(
        {
            "stream_destinations": {"s": {"type": "relational", "table": "t"}},
            "stream_maps": {"s": {"big": "id > 1"}},
            "validate_records": False,
        }
    )
    run.feed([schema("s", props, ["id"]), record("s", id=1), record("s", id=2)])
    ((_, _, rows),) = run.client.named("rds_upsert")
    assert [row["big"] for row in rows] == [0, 1]


#: a timestamp no DATETIME column can take -> whether the schema check lets it through, and
#: the reason its row is rejected with
ROW_ERROR_TIMESTAMPS = {
    "unparseable": ("last tuesday", [False], "'last tuesday' is not a date-time"),
    # ISO text a schema accepts, whose Vienna time is before year 1 or after 9999
    "before-year-1": ("0001-01-01T00:00:00+14:00", [True, False], "after year 9999 in Vienna"),
    "after-year-9999": ("9999-12-31T23:59:59-14:00", [True, False], "after year 9999 in Vienna"),
}


@pytest.mark.parametrize(
    ("case", "validate"),
    [(case, v) for case, (_, checks, _) in ROW_ERROR_TIMESTAMPS.items() for v in checks],
)
def test_a_timestamp_no_datetime_column_takes_is_a_row_error(
    run_target: Any, tmp_path: Path, case: str, validate: bool
) -> None:
    """One error naming the record (fail) or a rejected row with its reason (log), never a
    traceback; the other rows are written."""
    value, _, reason = ROW_ERROR_TIMESTAMPS[case]
    records = [{"id": 1, "at": value}, {"id": 2, "at": "2026-01-15T08:00:00Z"}]
    with pytest.raises(InvalidRowError, match=rf"record id=1: column at: .*{reason}"):
        typed_rows(run_target, records, validate_records=validate)
    path = tmp_path / "r.jsonl"
    rows = typed_rows(
        run_target,
        records,
        validate_records=validate,
        on_record_error="log",
        rejected_rows_path=str(path),
    )
    assert [row["at"] for row in rows] == ["2026-01-15 09:00:00"]
    (rejected,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert rejected["key"] == "id=1"
    assert reason in rejected["reason"]


# A request Emarsys refuses for one value: in log mode only the refused rows are kept aside


class RefusingClient(RecordingClient):
    """Refuses (400/15014, nothing stored) every upsert holding a row whose `s` is 'bad'."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[int] = []

    def rds_upsert(self, connection: str, table: str, rows: list[dict[str, Any]]) -> str:
        self._record("rds_upsert", (connection, table, rows))
        for number, row in enumerate(rows, start=1):
            if row["s"] == "bad":
                text = f"Incorrect value for column 's' (varchar(2)) at row {number}: \"bad\""
                raise rds_error(15014, text)
        with self.lock:
            self.stored.extend(row["id"] for row in rows)
        return "OK"


def refused_run(run_target: Any, bad: set[int], tmp_path: Path, **config: Any) -> Any:
    client = RefusingClient()
    run = run_target(
        {
            "stream_destinations": {"s": {"type": "relational", "table": "t"}},
            "rejected_rows_path": str(tmp_path / "r.jsonl"),
            **config,
        },
        client,
    )
    props = {"id": {"type": "integer"}, "s": {"type": "string"}}
    messages = [record("s", id=i, s="bad" if i in bad else "ok") for i in range(1000)]
    run.feed([schema("s", props, ["id"]), *messages])
    return client


def test_log_mode_keeps_aside_only_the_refused_rows(run_target: Any, tmp_path: Path) -> None:
    client = refused_run(run_target, {17, 640}, tmp_path, on_record_error="log")
    assert sorted(client.stored) == [i for i in range(1000) if i not in (17, 640)]
    kept = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert sorted(k["key"] for k in kept) == ["id=17", "id=640"]
    assert all("column 's'" in k["reason"] and "15014" in k["reason"] for k in kept)


def test_the_search_for_refused_rows_is_bounded(run_target: Any, tmp_path: Path) -> None:
    client = refused_run(run_target, set(range(1000)), tmp_path, on_record_error="log")
    assert client.stored == []
    assert len(client.named("rds_upsert")) <= 1 + ISOLATION_REQUESTS
    kept = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(kept) == 1000  # nothing dropped: every refused row is in the file


def test_fail_mode_stops_at_the_refused_request(run_target: Any, tmp_path: Path) -> None:
    with pytest.raises(RecordRejectedError, match=r"column 's'"):
        refused_run(run_target, {17}, tmp_path)
