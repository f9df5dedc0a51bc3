"""A review of the target's faster record path: inputs whose handling must not change.

The record path (reader fast path, cached record plans and sinks, the plain branch of
`take_record`, the fast check vouching for keys, a cached date-time converter) was rewritten
for speed; these tests feed the target in-process with a recording client and compare its rows
or its error with what the input says they must be. Two found problems: a cached date
converter gave one instant's date to the same instant in another zone (dates are no longer
cached), and a null key property was sent when its type allowed null or validation was off
(older; a null key now stops the run as a missing one does).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import InvalidInputLine

from target_emarsys.errors import InvalidRowError
from target_emarsys.values import rds_datetime, rds_datetime_cached
from tests.helpers.target_run import TargetRun, lines, record, schema, state

DEST = {"stream_destinations": {"s": {"type": "relational", "table": "t"}}}

#: One instant written in two zones: its date is 29 March in UTC and 30 March in +02:00.
UTC_LATE = dt.datetime(2026, 3, 29, 23, 30, tzinfo=dt.UTC)
PLUS_TWO = dt.datetime(2026, 3, 30, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def upserted(run: TargetRun) -> list[dict[str, Any]]:
    """Every row the target upserted, in order."""
    return [row for _, _, rows in run.client.named("rds_upsert") for row in rows]


def test_the_cached_datetime_converter_is_right_for_equal_instants_in_other_zones() -> None:
    """Equal aware datetimes (one instant) are one cache key, and that is safe for date-times:
    one instant has one Vienna time. (Dates are not cached: one instant has two dates.)"""
    assert UTC_LATE == PLUS_TWO  # the premise: one cache key
    assert rds_datetime_cached(UTC_LATE) == rds_datetime(PLUS_TWO) == "2026-03-30 01:30:00"
    assert rds_datetime_cached(PLUS_TWO) == rds_datetime(UTC_LATE)


def test_a_stream_map_datetime_in_a_date_column_keeps_its_own_date(run_target: Any) -> None:
    """The same through the target: a stream map turns ISO text into datetimes (validation
    off, as such a map needs), and each row's DATE is the date its value states."""
    props = {"id": {"type": "integer"}, "d": {"type": ["string", "null"], "format": "date"}}
    run = run_target(
        {
            **DEST,
            "validate_records": False,
            "stream_maps": {"s": {"d": "d and datetime.datetime.fromisoformat(d)"}},
        }
    )
    run.feed(
        [
            schema("s", props, ["id"]),
            record("s", id=1, d="2026-03-29T23:30:00+00:00"),
            record("s", id=2, d="2026-03-30T01:30:00+02:00"),
        ]
    )
    assert [(row["id"], row["d"]) for row in upserted(run)] == [
        (1, "2026-03-29"),
        (2, "2026-03-30"),
    ]


@pytest.mark.parametrize(
    ("key_spec", "validate"),
    [
        ({"type": ["integer", "null"]}, True),
        ({"type": "integer"}, False),
        ({}, True),  # a key property whose schema names no type
    ],
    ids=["nullable-key", "validation-off", "untyped-key"],
)
def test_a_null_key_property_is_never_sent(
    run_target: Any, key_spec: dict[str, Any], validate: bool
) -> None:
    """No key property is ever null: a record whose key is null stops the run naming the
    stream and the key, and nothing of it reaches Emarsys."""
    props = {"id": key_spec, "s": {"type": ["string", "null"]}}
    run = run_target({**DEST, "validate_records": validate})
    with pytest.raises(Exception, match=r"'s'.*\bid\b"):
        run.feed([schema("s", props, ["id"]), record("s", id=None, s="x")])
    assert all(row["id"] is not None for row in upserted(run))


def test_a_record_line_that_fails_is_named_by_its_own_number(run_target: Any) -> None:
    """A RECORD taken by the reader's fast path that then fails is named by its own line
    number, not by the last line that took the slow path (the SCHEMA on line 2)."""
    run = run_target(DEST)
    text = "\n" + lines(
        [
            schema("s", {"id": {"type": "integer"}}, ["id"]),
            record("s", id=1),
            record("s", id=2),
            {"type": "RECORD", "record": {"id": 3}},
        ]
    )
    with pytest.raises(InvalidInputLine, match=r"^input line 5\b.*stream"):
        run.target.process_lines(io.StringIO(text))


def test_the_reader_counts_each_message_type_and_no_blank_line(run_target: Any) -> None:
    """RECORDs taken by the fast path are counted as the rest: blank lines count as nothing."""
    run = run_target(DEST)
    text = (
        "\n"
        + lines([schema("s", {"id": {"type": "integer"}}, ["id"]), record("s", id=1)])
        + "   \n"
        + lines([record("s", id=2), state({"a": 1}), record("s", id=3)])
        + "\n"
    )
    counts = run.target.process_lines(io.StringIO(text))
    assert dict(counts) == {"SCHEMA": 1, "RECORD": 3, "STATE": 1}


@pytest.mark.parametrize("aliased", [False, True], ids=["stream", "stream-map-alias"])
def test_a_schema_that_changes_keys_mid_stream_reaches_the_new_sink(
    run_target: Any, aliased: bool
) -> None:
    """Record plans cache the sink: a SCHEMA with other keys replaces the sink (also the one a
    stream map's alias names), and the records after it are upserted by the new key."""
    stream = "src" if aliased else "s"
    config: dict[str, Any] = dict(DEST)
    if aliased:
        config["stream_maps"] = {"src": {"__alias__": "s"}}
    props = {"id": {"type": "integer"}, "k": {"type": "string"}}
    run = run_target(config)
    run.feed(
        [
            schema(stream, props, ["id"]),
            record(stream, id=1, k="a"),
            record(stream, id=1, k="b"),
            schema(stream, props, ["k"]),
            record(stream, id=2, k="c"),
            record(stream, id=3, k="c"),
        ]
    )
    # by id: the last of id=1; then by k: the last of k=c (id=2 merged away)
    assert [(row["id"], row["k"]) for row in upserted(run)] == [(1, "b"), (3, "c")]


def test_a_record_without_its_optional_key_is_stopped(run_target: Any) -> None:
    """The fast check vouches for a key only when it is there: a record lacking its (typed,
    not required) key still stops with the key named, and nothing after it is sent."""
    props = {"id": {"type": ["integer", "null"]}, "s": {"type": "string"}}
    run = run_target({**DEST, "batch_size_rows": 1})
    with pytest.raises(Exception, match=r"'s'.*\bid\b"):
        run.feed([schema("s", props, ["id"]), record("s", id=1, s="x"), record("s", s="y")])
    assert [row["s"] for row in upserted(run)] == ["x"]


def test_add_record_metadata_sends_the_sdc_columns(run_target: Any) -> None:
    """With `add_record_metadata` (no plain branch) each row carries the SDK's `_sdc_*`
    columns, filled in for each record."""
    run = run_target({**DEST, "add_record_metadata": True})
    run.feed([schema("s", {"id": {"type": "integer"}}, ["id"]), record("s", id=1)])
    (row,) = upserted(run)
    assert row["id"] == 1
    assert {"_sdc_received_at", "_sdc_batched_at", "_sdc_sequence"} <= row.keys()
    assert row["_sdc_received_at"] is not None and type(row["_sdc_sequence"]) is int


def test_sdc_columns_of_a_record_are_dropped_without_add_record_metadata(
    run_target: Any,
) -> None:
    """A record carrying `_sdc_*` columns (another target's output) sends only the schema's
    columns when metadata is off: every row of a request has the same keys."""
    run = run_target(DEST)
    props = {"id": {"type": "integer"}, "s": {"type": ["string", "null"]}}
    run.feed(
        [
            schema("s", props, ["id"]),
            record("s", id=1, s="a", _sdc_deleted_at="2026-01-01T00:00:00Z"),
            record("s", id=2, s="b"),
        ]
    )
    assert upserted(run) == [{"id": 1, "s": "a"}, {"id": 2, "s": "b"}]


@pytest.mark.parametrize("value", [[1], {"at": 1}], ids=["list", "object"])
def test_an_unhashable_date_time_without_validation_is_a_row_error(
    run_target: Any, tmp_path: Path, value: Any
) -> None:
    """A list or object in a date-time column (validation off) meets the cached converter:
    one clear row error naming the record and the column, and in log mode a rejected row."""
    props = {"id": {"type": "integer"}, "at": {"type": ["string", "null"], "format": "date-time"}}
    messages = [
        schema("s", props, ["id"]),
        record("s", id=1, at=value),
        record("s", id=2, at="2026-01-15T08:00:00Z"),
    ]
    run = run_target({**DEST, "validate_records": False})
    with pytest.raises(InvalidRowError, match=r"record id=1: column at: .* is not a date-time"):
        run.feed(messages)
    rejects = tmp_path / "rejects.jsonl"
    run = run_target(
        {
            **DEST,
            "validate_records": False,
            "on_record_error": "log",
            "rejected_rows_path": str(rejects),
        }
    )
    run.feed(messages)
    assert [row["id"] for row in upserted(run)] == [2]
    assert '"id=1"' in rejects.read_text()


def test_batches_are_full_at_batch_size_rows(run_target: Any) -> None:
    """The batch size read once per batch still cuts every batch at `batch_size_rows`."""
    run = run_target({**DEST, "batch_size_rows": 2})
    run.feed(
        [schema("s", {"id": {"type": "integer"}}, ["id"])] + [record("s", id=i) for i in range(5)]
    )
    assert [len(rows) for _, _, rows in run.client.named("rds_upsert")] == [2, 2, 1]
