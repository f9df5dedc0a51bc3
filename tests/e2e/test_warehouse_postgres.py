"""tap-emarsys into meltanolabs-target-postgres on a real PostgreSQL server, checked in SQL.

Two real processes per run (`.venv/bin/tap-emarsys | .venv-loaders/target-postgres/bin/
target-postgres`), the tap against a sandbox on 127.0.0.1, the loader into the session's
PostgreSQL server (tests/helpers/postgres_server.py). What landed is compared with the RECORD
messages the tap sent in that run: one row per distinct key, each the last record sent for it.
Deletions use what a Meltano user would switch on: the tap's `emit_activate_version_messages`
and the loader's `hard_delete`.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from psycopg.rows import dict_row

from emarsys_sandbox import Sandbox
from tap_emarsys.streams import STREAM_TYPES
from tap_emarsys.tap import TapEmarsys
from tests.helpers.pipeline import PipelineRun, run_pipeline
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.tap_runs import selected_catalog
from tests.helpers.truth import TIME_RANGED_STREAMS

pytestmark = pytest.mark.slow

UTC = dt.timezone.utc
SCHEMA = "emarsys"
STREAMS = tuple(stream_type.name for stream_type in STREAM_TYPES)
MEMBERSHIP = ("contact_list_members", "segment_members")
CONTACT_FIELDS = ["first_name", "email", "gender", "optin", "loyalty_points", "last_purchase"]
START, END_1, END_2 = "2026-03-15", "2026-04-13", "2026-04-20"
NEW_ACTIVITY_AT = dt.datetime(2026, 4, 15, 8, 30, tzinfo=UTC)
# what target-postgres 0.8.1 makes of each JSON schema type; it maps `date-time` to TIMESTAMP
# only (no option gives `timestamp with time zone`) and writes wall time in the session's zone,
# which the test server pins to UTC
COLUMN_TYPES = {
    "integer": {"bigint", "integer"},
    "number": {"numeric"},
    "string": {"text"},
    "boolean": {"boolean"},
    "date-time": {"timestamp without time zone"},
    "date": {"date"},
}

Key = tuple[Any, ...]


def tap_config(sb: Sandbox, end_date: str) -> dict[str, Any]:
    """The tap's settings for a run up to `end_date` (small windows, fast polling)."""
    return sb.wsse_config(
        start_date=START,
        end_date=end_date,
        contact_fields=CONTACT_FIELDS,
        export_window_days=14,
        export_poll_interval=0.02,
        export_timeout=30,
        emit_activate_version_messages=True,
    )


@dataclass
class Warehouse:
    """One database of the test server, as target-postgres sees it and as the tests query it."""

    server: PostgresServer
    database: str

    @property
    def loader_config(self) -> dict[str, Any]:
        """target-postgres settings: TCP with a password, one schema, deletions applied."""
        return {
            "host": self.server.host,
            "port": self.server.port,
            "user": self.server.user,
            "password": self.server.password,
            "database": self.database,
            "default_target_schema": SCHEMA,
            "hard_delete": True,
        }

    def tables(self) -> set[str]:
        """The tables target-postgres created in the schema."""
        with self.server.connect(self.database) as connection:
            found = connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (SCHEMA,),
            ).fetchall()
        return {str(name) for (name,) in found}

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of a table, load metadata (`_sdc_*`) included, as psycopg types."""
        with (
            self.server.connect(self.database) as connection,
            connection.cursor(row_factory=dict_row) as cursor,
        ):
            cursor.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(SCHEMA, table)))
            return list(cursor.fetchall())

    def column_types(self, table: str) -> dict[str, str]:
        """{column: information_schema data_type}: what a warehouse user queries against."""
        with self.server.connect(self.database) as connection:
            found = connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s",
                (SCHEMA, table),
            ).fetchall()
        return {str(name): str(kind) for name, kind in found}

    def snapshot(self, tables: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
        """The rows of several tables now, to compare with a later state."""
        return {table: self.rows(table) for table in tables}


@dataclass
class StreamSent:
    """What the tap sent for one stream in one run: its schema, keys and records."""

    properties: dict[str, dict[str, Any]]
    key_properties: list[str]
    records: list[dict[str, Any]]

    def key(self, row: dict[str, Any]) -> Key:
        """The row's key values, the same for a record sent and for the row loaded from it."""
        return tuple(normalised(row[name], self.properties[name]) for name in self.key_properties)

    def last_per_key(self) -> dict[Key, dict[str, Any]]:
        """The record a warehouse must hold for each key: the last one sent."""
        return {self.key(record): record for record in self.records}


def sent(run: PipelineRun, stream: str) -> StreamSent:
    """The stream's SCHEMA (properties, key) and RECORD messages of one run."""
    schema = next(m for m in run.messages_of("SCHEMA") if m["stream"] == stream)
    return StreamSent(
        schema["schema"]["properties"], list(schema["key_properties"]), run.tap.records[stream]
    )


def json_type(prop: dict[str, Any]) -> str:
    """The property's type as COLUMN_TYPES names it (`format` first)."""
    if prop.get("format") in ("date-time", "date"):
        return str(prop["format"])
    types = prop.get("type", [])
    return next(t for t in ([types] if isinstance(types, str) else types) if t != "null")


def normalised(value: Any, prop: dict[str, Any]) -> Any:
    """One representation for a value sent (JSON) and the same value read back from PostgreSQL."""
    if value is None:
        return None
    kind = json_type(prop)
    if kind == "date-time":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # the server's zone
        return aware.astimezone(UTC).isoformat()
    if kind == "date":
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if kind == "number":
        return float(value) if isinstance(value, int | float | Decimal) else value
    return value


def assert_table_matches(table: str, rows: list[dict[str, Any]], stream: StreamSent) -> None:
    """One row per distinct key sent, holding the last record sent for that key."""
    assert stream.records, f"{table}: the tap sent no records, nothing to compare"
    keys = [stream.key(row) for row in rows]
    assert len(keys) == len(set(keys)), f"{table}: a key is held by more than one row"
    null_keys = [key for key in keys if None in key]
    assert not null_keys, f"{table}: key {stream.key_properties} is null in {null_keys[:3]}"
    expected = stream.last_per_key()
    assert set(keys) == set(expected), (
        f"{table}: keys missing {sorted(set(expected) - set(keys))[:5]}, "
        f"extra {sorted(set(keys) - set(expected))[:5]}"
    )
    for row in rows:
        record = expected[stream.key(row)]
        for name, prop in stream.properties.items():
            assert normalised(row[name], prop) == normalised(record.get(name), prop), (
                f"{table} {stream.key(row)}: column {name} holds {row[name]!r}, "
                f"the tap sent {record.get(name)!r}"
            )


@dataclass
class TwoRuns:
    """A load up to END_1; new activity and two members leave; a second load from its state.

    The sandbox stays up for the module, so a test can run a third load against the same
    account and warehouse (the snapshots here are taken before any such test runs).
    """

    sandbox: Sandbox
    warehouse: Warehouse
    first: PipelineRun
    second: PipelineRun
    after_first: dict[str, list[dict[str, Any]]]
    after_second: dict[str, list[dict[str, Any]]]
    left: dict[str, Key]  # per membership table: the key of the member removed between runs


@pytest.fixture(scope="module")
def two_runs(
    postgres_server: PostgresServer, target_postgres: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoRuns]:
    """Both loads, shared by the module's tests (each load costs seconds of process start)."""
    folder = tmp_path_factory.mktemp("two-runs")
    warehouse = Warehouse(postgres_server, postgres_server.create_database("two_runs"))
    with Sandbox(contacts=80, seed=11) as sb:
        first = run_pipeline(
            folder / "run-1", tap_config(sb, END_1), target_postgres, warehouse.loader_config
        ).check()
        after_first = warehouse.snapshot(STREAMS)
        sb.add_activity(NEW_ACTIVITY_AT, 7)  # new contacts register, change and respond
        left: dict[str, Key] = {}
        for table, audience in zip(MEMBERSHIP, ("contact_list_id", "segment_id"), strict=True):
            member = first.tap.records[table][-1]
            sb.remove_member(member[audience], member["contact_id"])
            left[table] = sent(first, table).key(member)
        second = run_pipeline(
            folder / "run-2",
            tap_config(sb, END_2),
            target_postgres,
            warehouse.loader_config,
            state=first.state,
        ).check()
        after_second = warehouse.snapshot(STREAMS)
        yield TwoRuns(sb, warehouse, first, second, after_first, after_second, left)


def test_every_stream_loads_one_row_per_distinct_key_sent(two_runs: TwoRuns) -> None:
    assert len(STREAMS) == 11
    assert two_runs.warehouse.tables() == set(STREAMS)
    for table in STREAMS:
        assert_table_matches(table, two_runs.after_first[table], sent(two_runs.first, table))


def test_second_run_moves_only_new_rows(two_runs: TwoRuns) -> None:
    for table in TIME_RANGED_STREAMS:
        stream = sent(two_runs.first, table)
        before = {stream.key(row) for row in two_runs.after_first[table]}
        moved = sent(two_runs.second, table)
        assert moved.records, f"{table}: the new activity should travel in run 2"
        assert not set(moved.last_per_key()) & before, f"{table}: run 2 re-sent old rows"
        new_rows = [row for row in two_runs.after_second[table] if stream.key(row) not in before]
        assert_table_matches(table, new_rows, moved)
    # snapshots (full table) are sent whole again and still hold one row per key
    for table in set(STREAMS) - set(TIME_RANGED_STREAMS):
        assert_table_matches(table, two_runs.after_second[table], sent(two_runs.second, table))


def test_second_run_keeps_the_rows_of_the_first(two_runs: TwoRuns) -> None:
    for table in TIME_RANGED_STREAMS:
        stream = sent(two_runs.first, table)
        before = {stream.key(row): row for row in two_runs.after_first[table]}
        after = {stream.key(row): row for row in two_runs.after_second[table]}
        missing = sorted(set(before) - set(after))
        assert not missing, f"{table}: {len(missing)} rows of run 1 are gone, e.g. {missing[:3]}"
        # untouched, load metadata included: they were not written again
        assert {key: after[key] for key in before} == before, table


def test_column_types_follow_the_tap_schema(two_runs: TwoRuns) -> None:
    for table in STREAMS:
        stream = sent(two_runs.first, table)
        columns = two_runs.warehouse.column_types(table)
        for name, prop in stream.properties.items():
            assert columns[name] in COLUMN_TYPES[json_type(prop)], (
                f"{table}.{name}: {columns[name]} for JSON schema {prop}"
            )
        for name in stream.key_properties:
            if name == "id" or name.endswith("_id"):
                assert columns[name] in {"bigint", "integer"}, f"{table}.{name}: {columns[name]}"
    timestamps = {
        f"{table}.{name}"
        for table in STREAMS
        for name, prop in sent(two_runs.first, table).properties.items()
        if json_type(prop) == "date-time"
    }
    assert {"contact_changes.last_update", "email_responses.time"} <= timestamps


def test_target_jsonl_loads_the_tap_output_one_file_per_stream(
    two_runs: TwoRuns, target_jsonl: Path, tmp_path: Path
) -> None:
    destination = tmp_path / "jsonl"
    config = tmp_path / "target-jsonl.json"
    config.write_text(
        json.dumps({"destination_path": str(destination), "do_timestamp_file": False})
    )
    with two_runs.first.tap_output.open("rb") as tap_output:
        done = subprocess.run(
            [str(target_jsonl), "--config", str(config)],
            stdin=tap_output,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    files = {path.name: path for path in destination.iterdir()}
    assert set(files) == {f"{stream}.jsonl" for stream in STREAMS}
    for stream in STREAMS:
        lines = files[f"{stream}.jsonl"].read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == two_runs.first.tap.records[stream], stream


def test_member_who_left_is_gone_after_the_next_run(two_runs: TwoRuns) -> None:
    for table in MEMBERSHIP:
        stream = sent(two_runs.second, table)
        left = two_runs.left[table]
        assert left in {stream.key(row) for row in two_runs.after_first[table]}, table
        assert left not in stream.last_per_key(), f"{table}: the sandbox still sent {left}"
        assert left not in {stream.key(row) for row in two_runs.after_second[table]}, (
            f"{table}: {left} left before run 2 and is still in the table"
        )
        assert_table_matches(table, two_runs.after_second[table], stream)


def test_failed_export_leaves_the_table_as_it_was(
    two_runs: TwoRuns, target_postgres: Path, tmp_path: Path
) -> None:
    sb, warehouse = two_runs.sandbox, two_runs.warehouse
    config = tap_config(sb, END_2)
    catalog = selected_catalog(TapEmarsys(config=config), MEMBERSHIP)
    before = warehouse.snapshot(MEMBERSHIP)
    assert all(before.values()), "the earlier runs should have loaded members"
    sb.faults.update(export_error_every=1)  # every export ends in `error`
    try:
        failed = run_pipeline(
            tmp_path / "run-3",
            config,
            target_postgres,
            warehouse.loader_config,
            state=two_runs.second.state,
            catalog=catalog,
        )
    finally:
        sb.faults.reset()
    assert failed.tap_exit != 0, "the tap must fail when its exports fail"
    assert warehouse.snapshot(MEMBERSHIP) == before
