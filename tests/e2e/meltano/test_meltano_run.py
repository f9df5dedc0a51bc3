"""Real `meltano run`: tap-emarsys into DuckDB twice, and a Singer source into target-emarsys.

The project's own `meltano.yml` is used as it ships (the `dev` environment, pointed at an
in-process sandbox through environment variables); Meltano's system database and the warehouse
file live in the test's temporary directory.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.meltano import dev_tap_streams, meltano_environment, run_meltano
from tests.helpers.truth import EXPORT_STREAMS, TIME_RANGED_STREAMS, expected_records

meltano = functools.partial(run_meltano, timeout=240)
END_1, END_2 = "2026-04-13", "2026-04-20"
NEW_ACTIVITY_AT = dt.datetime(2026, 4, 15, 8, 30, tzinfo=dt.timezone.utc)
JOB = "dev:tap-emarsys-to-target-duckdb"
LOADED = re.compile(r"Loading (\d+) rows into '[^']*\"(\w+)\"'")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def meltano_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox, the environment that points Meltano at it, and the installed plugins."""
    tmp = tmp_path_factory.mktemp("meltano")
    with Sandbox(
        contacts=150,
        seed=11,
        rds_tables={
            "warehouse": {
                "vip_contacts": {
                    "columns": ["contact_id", "email", "first_name", "score"],
                    "primary_key": ["contact_id"],
                }
            }
        },
    ) as sb:
        warehouse = str(tmp / "warehouse.duckdb")
        env = meltano_environment(tmp / "meltano.db", sb, TARGET_DUCKDB_FILEPATH=warehouse)
        meltano(env, "install")
        yield {"sandbox": sb, "env": env, "tmp": tmp}


def normalised(value: Any) -> Any:
    """One representation for a value read back from DuckDB and one from a Singer record."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return aware.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def checksum(rows: list[dict[str, Any]], columns: list[str]) -> tuple[int, str]:
    """Row count and a digest of the sorted, normalised rows over `columns`."""
    lines = sorted(json.dumps([normalised(row.get(c)) for c in columns]) for row in rows)
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def warehouse_rows(path: Path, table: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(path), read_only=True) as con:
        result = con.sql(f'select * from emarsys."{table}"')
        names = result.columns
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def loaded_rows(output: str) -> Counter[str]:
    """Rows target-duckdb reports loading, per table (a re-sent row is counted again)."""
    counts: Counter[str] = Counter()
    for amount, table in LOADED.findall(output):
        counts[table] += int(amount)
    return counts


def test_meltano_run_into_duckdb_twice_then_state(meltano_env: dict[str, Any]) -> None:
    sb: Sandbox = meltano_env["sandbox"]
    env = dict(meltano_env["env"], TAP_EMARSYS_END_DATE=END_1)
    warehouse = meltano_env["tmp"] / "warehouse.duckdb"

    meltano(env, "run", "tap-emarsys", "target-duckdb")
    first_streams = dev_tap_streams(sb, END_1)
    first_counts = {}
    for name in EXPORT_STREAMS:
        expected = expected_records(sb, first_streams[name])
        # snapshot_at (member streams) is the time the run took its snapshot: present, not known
        columns = sorted(column for column in expected[0] if column != "snapshot_at")
        got = warehouse_rows(warehouse, name)
        assert checksum(got, columns) == checksum(expected, columns), name
        if "snapshot_at" in expected[0]:
            assert all(row["snapshot_at"] is not None for row in got), name
        first_counts[name] = len(expected)

    # New contacts register, change and respond between the runs.
    sb.add_activity(NEW_ACTIVITY_AT, 7)
    second_output = meltano(
        dict(meltano_env["env"], TAP_EMARSYS_END_DATE=END_2), "run", "tap-emarsys", "target-duckdb"
    )
    second_streams = dev_tap_streams(sb, END_2)
    sent = loaded_rows(second_output)
    for name in TIME_RANGED_STREAMS:
        expected = expected_records(sb, second_streams[name])
        # contact_changes' key window_start names the window a change was exported in, which
        # for the second run's rows differs from a single run to END_2: compared without it.
        columns = sorted(column for column in expected[0] if column != "window_start")
        assert checksum(warehouse_rows(warehouse, name), columns) == checksum(expected, columns)
        new_rows = len(expected) - first_counts[name]
        assert new_rows > 0, f"{name}: the sandbox's new activity should add rows"
        # Only the new rows travelled in run 2: nothing from run 1's windows was sent again.
        assert sent[name] == new_rows, name

    state = json.loads(meltano(env, "state", "get", JOB, stdout_only=True))
    bookmarks = state["singer_state"]["bookmarks"]
    for name in TIME_RANGED_STREAMS:
        assert bookmarks[name]["window_end"].startswith("2026-04-19T22:00:00"), bookmarks[name]


def test_meltano_run_singer_source_into_target_emarsys(meltano_env: dict[str, Any]) -> None:
    sb: Sandbox = meltano_env["sandbox"]
    source = meltano_env["tmp"] / "vip_contacts.jsonl"
    rows = [
        {"contact_id": i, "email": f"vip{i}@exämple.com", "first_name": name, "score": i * 1.5}
        for i, name in enumerate(["Zoë", 'O"Brien, Jr.', "日本", "line\nbreak", "Ann"], start=1)
    ]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    env = dict(
        meltano_env["env"],
        DEMO_VIP_FILE=str(source),
        TARGET_EMARSYS_RDS_CONNECTION="warehouse",
    )
    meltano(env, "run", "tap-jsonl", "target-emarsys")
    landed = sorted(sb.rds_rows("warehouse", "vip_contacts"), key=lambda row: row["contact_id"])
    assert [{key: row[key] for key in rows[0]} for row in landed] == rows
