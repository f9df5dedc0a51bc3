"""The dbt package on PostgreSQL: tap-emarsys -> meltanolabs-target-postgres -> dbt-postgres.

The load is the warehouse tests' pipeline (two real processes, tests/helpers/pipeline.py) with
what a PostgreSQL user switches on: the tap's ACTIVATE_VERSION messages and the loader's record
metadata, so a member who left is soft-deleted (`_sdc_deleted_at`) and `_sdc_batched_at` feeds
source freshness. dbt runs as the project's `dbt-postgres` Meltano utility (its own venv). The
marts are compared with the same ground truth as on DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.rows import dict_row

from emarsys_sandbox import Sandbox
from tests.helpers.dbt_truth import FIGURES, campaign_truth, current_contacts, members, plain
from tests.helpers.meltano import (
    DEV_CONTACT_FIELDS,
    DEV_START,
    DEV_WINDOW_DAYS,
    meltano_environment,
    run_meltano,
)
from tests.helpers.pipeline import run_pipeline
from tests.helpers.postgres_server import PostgresServer

pytestmark = pytest.mark.slow

END_DATE = "2026-04-20"
MARTS = "analytics"


def tap_config(sb: Sandbox) -> dict[str, Any]:
    """The dev environment's tap settings, with ACTIVATE_VERSION on (deletions reach PostgreSQL)."""
    return sb.wsse_config(
        start_date=DEV_START,
        end_date=END_DATE,
        contact_fields=DEV_CONTACT_FIELDS,
        export_window_days=DEV_WINDOW_DAYS,
        export_poll_interval=0.02,
        emit_activate_version_messages=True,
    )


class Loop:
    """One sandbox, one database, and the commands of the loop on them."""

    def __init__(self, sb: Sandbox, server: PostgresServer, loader: Path, tmp: Path) -> None:
        self.sb, self.server, self.loader, self.tmp = sb, server, loader, tmp
        self.database = server.create_database("dbt_emarsys")
        self.state: dict[str, Any] = {}
        self.runs = 0
        self.build_output = ""  # the first `dbt build`'s output
        self.env = meltano_environment(
            tmp / "meltano.db",
            DBT_POSTGRES_HOST=server.host,
            DBT_POSTGRES_PORT=str(server.port),
            DBT_POSTGRES_USER=server.user,
            DBT_POSTGRES_PASSWORD=server.password,
            DBT_POSTGRES_DBNAME=self.database,
            DBT_TARGET_PATH=str(tmp / "dbt-target"),
            DBT_LOG_PATH=str(tmp / "dbt-logs"),
        )

    def load(self) -> None:
        """tap-emarsys | target-postgres, from the previous run's state."""
        self.runs += 1
        loader_config = {
            "host": self.server.host,
            "port": self.server.port,
            "user": self.server.user,
            "password": self.server.password,
            "database": self.database,
            "default_target_schema": "emarsys",
            "add_record_metadata": True,
            "hard_delete": False,
        }
        run = run_pipeline(
            self.tmp / f"run-{self.runs}",
            tap_config(self.sb),
            self.loader,
            loader_config,
            state=self.state or None,
        ).check()
        self.state = run.state

    def meltano(self, *args: str) -> str:
        """A meltano command in the project root; the test fails with its output if it fails."""
        return run_meltano(self.env, *args)

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a query on the database, as dicts."""
        with (
            self.server.connect(self.database) as connection,
            connection.cursor(row_factory=dict_row) as cursor,
        ):
            cursor.execute(sql)
            return list(cursor.fetchall())


@pytest.fixture(scope="module")
def loop(
    postgres_server: PostgresServer, target_postgres: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loop]:
    """The sandbox loaded into PostgreSQL and the package built on it."""
    tmp = tmp_path_factory.mktemp("dbt-postgres")
    with Sandbox(contacts=150, seed=11) as sb:
        loop = Loop(sb, postgres_server, target_postgres, tmp)
        loop.meltano("install", "utility", "dbt-postgres")
        loop.load()
        loop.build_output = loop.meltano("invoke", "dbt-postgres:build")
        yield loop


def test_dbt_build_passes_on_postgres(loop: Loop) -> None:
    assert "Completed successfully" in loop.build_output


def test_source_freshness_reads_the_loaders_batch_time(loop: Loop) -> None:
    output = loop.meltano("invoke", "dbt-postgres:source-freshness")
    assert "PASS freshness of emarsys.email_responses" in output.replace("  ", " "), output[-3000:]


def test_campaign_figures_equal_the_sandbox_records(loop: Loop) -> None:
    rows = loop.query(
        f"select campaign_id, {', '.join(FIGURES)} from {MARTS}.emarsys__campaign_performance"
    )
    got = {row["campaign_id"]: {name: row[name] for name in FIGURES} for row in rows}
    assert got == campaign_truth(loop.sb, END_DATE)


def test_contacts_hold_each_contacts_current_email_and_fields(loop: Loop) -> None:
    expected = current_contacts(loop.sb, END_DATE)
    rows = loop.query(
        f"select contact_id, {', '.join(DEV_CONTACT_FIELDS)} from {MARTS}.emarsys__contacts"
    )
    got = {
        row["contact_id"]: {name: plain(row[name]) for name in DEV_CONTACT_FIELDS} for row in rows
    }
    for contact_id, fields in expected.items():
        assert got[contact_id] == {name: plain(value) for name, value in fields.items()}


def test_a_soft_deleted_member_has_left(loop: Loop) -> None:
    before = members(loop.sb, END_DATE, "segment_members", "segment_id")
    leaver = min(before[201])
    loop.sb.remove_member(201, leaver)
    loop.load()
    deleted = loop.query(
        "select _sdc_deleted_at from emarsys.segment_members"
        f" where segment_id = 201 and contact_id = {leaver}"
    )
    assert deleted and deleted[0]["_sdc_deleted_at"] is not None  # the loader soft-deleted it
    loop.meltano("invoke", "dbt-postgres:build")
    rows = loop.query(
        f"select contact_id, is_current_member, left_at from {MARTS}.emarsys__list_membership"
        " where audience_type = 'segment' and audience_id = 201"
    )
    assert {row["contact_id"] for row in rows if row["is_current_member"]} == before[201] - {leaver}
    (left,) = [row for row in rows if row["contact_id"] == leaver]
    assert left["left_at"] is not None
