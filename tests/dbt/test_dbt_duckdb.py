"""The whole loop on DuckDB: `meltano run tap-emarsys target-duckdb dbt-duckdb:build`.

The project's own `meltano.yml` runs the tap against an in-process sandbox into a DuckDB file,
then the `dbt-duckdb` utility (its own venv under `.meltano/`) builds the package's integration
project on that file: every model, data test and unit test. The marts are then compared with
the sandbox's own records (tests/helpers/dbt_truth.py). A member leaves a list and the same
command runs again on the same file (target-duckdb after dbt wrote to it): the membership mart
says when.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.dbt_truth import FIGURES, campaign_truth, current_contacts, members, plain
from tests.helpers.meltano import meltano_environment, run_meltano

pytestmark = pytest.mark.slow

END_DATE = "2026-04-20"
MARTS = "analytics"


def query(path: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of a query on the warehouse file, as dicts."""
    with duckdb.connect(str(path), read_only=True) as con:
        result = con.sql(sql)
        names = result.columns
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox, Meltano pointed at it, and one full `tap -> DuckDB -> dbt build` run."""
    tmp = tmp_path_factory.mktemp("dbt-duckdb")
    warehouse = tmp / "warehouse.duckdb"
    with Sandbox(contacts=150, seed=11) as sb:
        env = meltano_environment(
            tmp / "meltano.db",
            sb,
            TAP_EMARSYS_END_DATE=END_DATE,
            TARGET_DUCKDB_FILEPATH=str(warehouse),
            DBT_DUCKDB_PATH=str(warehouse),
            # dbt's artifacts and logs stay out of the checkout
            DBT_TARGET_PATH=str(tmp / "dbt-target"),
            DBT_LOG_PATH=str(tmp / "dbt-logs"),
        )
        run_meltano(env, "install")
        output = run_meltano(env, "run", "tap-emarsys", "target-duckdb", "dbt-duckdb:build")
        yield {"sandbox": sb, "env": env, "warehouse": warehouse, "output": output}


def test_dbt_build_runs_every_model_data_test_and_unit_test(loop: dict[str, Any]) -> None:
    output = loop["output"]
    assert "Completed successfully" in output, output[-4000:]
    # each unit test of the package ran (and passed: the build completed)
    for unit_test in (
        "changes_latest_load_wins_soft_deletes_lose",
        "responses_attributed_to_received_launch",
        "campaign_counts_unique_counts_and_rates",
        "membership_spells_join_leave_rejoin",
        "contacts_latest_observation_first_registration",
        "engagement_windows_and_tiers_from_as_of",
    ):
        passed = [line for line in output.splitlines() if f"::{unit_test} " in line]
        assert any(" PASS " in line for line in passed), unit_test


def test_campaign_figures_equal_the_sandbox_records(loop: dict[str, Any]) -> None:
    expected = campaign_truth(loop["sandbox"], END_DATE)
    rows = query(
        loop["warehouse"],
        f"select campaign_id, {', '.join(FIGURES)}, unique_open_rate, bounce_rate"
        f" from {MARTS}.emarsys__campaign_performance",
    )
    got = {row["campaign_id"]: {name: row[name] for name in FIGURES} for row in rows}
    assert got == expected
    for row in rows:
        figures = expected[row["campaign_id"]]
        if figures["deliveries"]:
            assert row["unique_open_rate"] == pytest.approx(
                figures["unique_opens"] / figures["deliveries"]
            )
            assert row["bounce_rate"] == pytest.approx(figures["bounces"] / figures["sends"])
        else:
            assert row["unique_open_rate"] is None


def test_contacts_hold_each_contacts_current_email_and_fields(loop: dict[str, Any]) -> None:
    expected = current_contacts(loop["sandbox"], END_DATE)
    names = list(next(iter(expected.values())))
    rows = query(
        loop["warehouse"],
        f"select contact_id, {', '.join(names)} from {MARTS}.emarsys__contacts",
    )
    got = {row["contact_id"]: {name: plain(row[name]) for name in names} for row in rows}
    assert len(got) == len(rows)  # one row per contact
    for contact_id, fields in expected.items():
        assert got[contact_id] == {name: plain(value) for name, value in fields.items()}


def test_a_member_who_left_shows_after_the_next_run_on_the_same_file(
    loop: dict[str, Any],
) -> None:
    sb: Sandbox = loop["sandbox"]
    before = members(sb, END_DATE, "contact_list_members", "contact_list_id")
    leaver = min(before[102])
    sb.remove_member(102, leaver)

    # target-duckdb writes into the file dbt built in, then dbt builds again
    run_meltano(loop["env"], "run", "tap-emarsys", "target-duckdb", "dbt-duckdb:build")

    now = members(sb, END_DATE, "contact_list_members", "contact_list_id")
    assert now[102] == before[102] - {leaver}
    rows = query(
        loop["warehouse"],
        f"select audience_id, contact_id, joined_at, last_seen_at, left_at, is_current_member"
        f" from {MARTS}.emarsys__list_membership where audience_type = 'contact_list'",
    )
    current = {
        list_id: {
            row["contact_id"]
            for row in rows
            if row["audience_id"] == list_id and row["is_current_member"]
        }
        for list_id in now
    }
    assert current == now
    (left,) = [row for row in rows if row["contact_id"] == leaver and row["audience_id"] == 102]
    snapshots = query(
        loop["warehouse"],
        "select max(snapshot_at) as latest from emarsys.contact_list_members"
        " where contact_list_id = 102",
    )
    assert left["is_current_member"] is False
    assert left["left_at"] == snapshots[0]["latest"]  # the snapshot it was missing from
    assert left["last_seen_at"] < left["left_at"]
    # the campaigns' figures did not move with the second run
    test_campaign_figures_equal_the_sandbox_records(loop)


def test_two_accounts_union_with_source_relation(loop: dict[str, Any], tmp_path: Path) -> None:
    # a second account: the same tables in schema emarsys_b of a copy of the warehouse
    warehouse = tmp_path / "warehouse.duckdb"  # same name, same DuckDB catalog
    warehouse.write_bytes(loop["warehouse"].read_bytes())
    with duckdb.connect(str(warehouse)) as con:
        con.sql("create schema emarsys_b")
        for (table,) in con.sql(
            "select table_name from information_schema.tables where table_schema = 'emarsys'"
        ).fetchall():
            con.sql(f'create table emarsys_b."{table}" as select * from emarsys."{table}"')
    env = dict(loop["env"], DBT_DUCKDB_PATH=str(warehouse), DBT_TARGET_PATH=str(tmp_path / "dbt"))
    run_meltano(
        env,
        "invoke",
        "dbt-duckdb",
        "run",  # the models only: their tests ran in the loop's build
        "--select",
        "+emarsys__campaign_performance",
        "+emarsys__contacts",
        "--vars",
        '{"emarsys__union_schemas": ["emarsys", "emarsys_b"]}',
    )
    expected = campaign_truth(loop["sandbox"], END_DATE)
    rows = query(
        warehouse,
        f"select source_relation, campaign_id, {', '.join(FIGURES)}"
        f" from {MARTS}.emarsys__campaign_performance",
    )
    for account in ("emarsys", "emarsys_b"):
        got = {
            row["campaign_id"]: {name: row[name] for name in FIGURES}
            for row in rows
            if row["source_relation"] == account
        }
        assert got == expected, account
    contacts = query(
        warehouse,
        f"select source_relation, count(*) as n from {MARTS}.emarsys__contacts group by 1",
    )
    per_account = {row["source_relation"]: row["n"] for row in contacts}
    assert per_account["emarsys"] == per_account["emarsys_b"] > 0
