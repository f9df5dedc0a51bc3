"""`make demo`: the whole loop: Emarsys into DuckDB, dbt models, a model back into Emarsys.

Steps: start `emarsys-sandbox` on a free port; `meltano install`; `meltano run tap-emarsys
target-duckdb` (full load), add new activity to the sandbox, `meltano run tap-emarsys
target-duckdb dbt-duckdb:build` (incremental load, then the dbt package in dbt_emarsys/ with its
data and unit tests); `meltano invoke dbt-duckdb:docs-generate` (the docs site with the lineage
graph); print the top of `emarsys__campaign_performance`; write the dbt model `engaged_contacts`
as JSON lines and `meltano run tap-jsonl target-emarsys` it into an RDS table of the sandbox;
print a summary. The sandbox is stopped at the end, on failure and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emarsys_sandbox.process import SandboxProcess, SandboxStartError

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUTPUT = ROOT / "output"
WAREHOUSE = OUTPUT / "warehouse.duckdb"
VIP_FILE = OUTPUT / "vip_contacts.jsonl"
DBT_TARGET = OUTPUT / "dbt"  # dbt's artifacts: the docs site is its index.html
MARTS = "analytics"  # the dbt-duckdb utility's schema (meltano.yml)
RDS_CONNECTION = "demo"
RDS_TABLE = "vip_contacts"
# the columns of the dbt model engaged_contacts (dbt_emarsys/integration_tests/models)
VIP_COLUMNS = [
    "contact_id",
    "email",
    "first_name",
    "last_name",
    "engagement_tier",
    "opens_last_30_days",
    "clicks_last_30_days",
    "last_engaged_at",
]
METRIC = re.compile(r"METRIC: (\{.*\})")  # the SDK's metric line in JSON form (with tags)
METRIC_FIELDS = re.compile(r"\bMETRIC\s+metric_name=")  # its structured form (no stream tag)


def start_sandbox(contacts: int) -> SandboxProcess:
    """`emarsys-sandbox serve` as a child process with the VIP table; the caller stops it."""
    spec = f"{RDS_CONNECTION}.{RDS_TABLE}:" + ",".join(
        column + ("*" if column == "contact_id" else "") for column in VIP_COLUMNS
    )
    flags = ["--contacts", str(contacts), "--seed", "1", "--rds-table", spec]
    try:
        return SandboxProcess(*flags, "--db", str(OUTPUT / "sandbox.sqlite")).start()
    except SandboxStartError as exc:
        raise SystemExit(str(exc)) from None


def meltano(*args: str, env: dict[str, str]) -> tuple[float, list[dict[str, Any]]]:
    """Run one meltano command, echo its output, return seconds and the SDK's metric lines."""
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BIN / "meltano"), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    metrics = []
    assert process.stdout is not None
    for line in process.stdout:
        found = METRIC.search(line)
        if found:
            with contextlib.suppress(json.JSONDecodeError):
                metrics.append(json.loads(found.group(1).replace('\\"', '"')))
            continue
        if METRIC_FIELDS.search(line):
            continue
        if " START " not in line:  # dbt's line before each node's result line
            sys.stdout.write("    " + line)
    if process.wait() != 0:
        raise SystemExit(f"`meltano {' '.join(args)}` failed with exit code {process.returncode}")
    return time.monotonic() - started, metrics


def warehouse_counts() -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        tables = [
            row[0]
            for row in con.sql(
                "select table_name from information_schema.tables "
                "where table_schema = 'emarsys' order by table_name"
            ).fetchall()
        ]
        return {
            table: int(con.sql(f'select count(*) from emarsys."{table}"').fetchone()[0])  # type: ignore[index]
            for table in tables
        }


def export_engaged_contacts() -> int:
    """Write the dbt model `engaged_contacts` as JSON lines (tap-jsonl's input)."""
    import duckdb

    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        rows = con.sql(
            f"select {', '.join(VIP_COLUMNS)} from {MARTS}.engaged_contacts order by contact_id"
        ).fetchall()
    with VIP_FILE.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(dict(zip(VIP_COLUMNS, row, strict=True)), default=str) + "\n")
    return len(rows)


def print_campaign_performance(limit: int = 5) -> None:
    """The top of emarsys__campaign_performance: the campaigns with the most sends."""
    import duckdb

    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        con.sql(
            "select campaign_id, left(campaign_name, 24) as campaign, sends, deliveries,"
            " bounces, unique_opens, unique_clicks,"
            " round(unique_open_rate, 3) as open_rate,"
            " round(click_to_open_rate, 3) as click_to_open,"
            " round(bounce_rate, 3) as bounce_rate"
            f" from {MARTS}.emarsys__campaign_performance"
            f" order by sends desc, campaign_id limit {limit}"
        ).show(max_width=160)


def stream_durations(metrics: list[dict[str, Any]]) -> dict[str, float]:
    durations: dict[str, float] = {}
    for metric in metrics:
        if metric.get("metric") == "sync_duration":
            stream = metric.get("tags", {}).get("stream", "?")
            durations[stream] = durations.get(stream, 0.0) + float(metric.get("value", 0.0))
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=2000)
    args = parser.parse_args()

    OUTPUT.mkdir(exist_ok=True)
    for path in (WAREHOUSE, VIP_FILE, OUTPUT / "sandbox.sqlite", OUTPUT / "meltano.db"):
        path.unlink(missing_ok=True)
    shutil.rmtree(OUTPUT / "jsonl", ignore_errors=True)

    began = time.monotonic()
    sandbox = start_sandbox(args.contacts)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        info = sandbox.credentials
        print(f"==> emarsys-sandbox on {info['base_url']} ({args.contacts} contacts)")
        env = dict(os.environ)
        env.update(
            MELTANO_DATABASE_URI=f"sqlite:///{OUTPUT / 'meltano.db'}",
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
            EMARSYS_BASE_URL=info["base_url"],
            EMARSYS_USERNAME=info["username"],
            EMARSYS_SECRET=info["secret"],
            DEMO_VIP_FILE=str(VIP_FILE),
            # dbt's artifacts (the docs site among them) and logs go to output/, not the package
            DBT_TARGET_PATH=str(DBT_TARGET),
            DBT_LOG_PATH=str(OUTPUT / "dbt-logs"),
        )
        print("==> meltano install")
        meltano("install", env=env)

        print("==> meltano run tap-emarsys target-duckdb (first run: full history)")
        first_seconds, first_metrics = meltano("run", "tap-emarsys", "target-duckdb", env=env)
        first = warehouse_counts()

        now = datetime.now(timezone.utc).replace(microsecond=0)
        sandbox.control("activity", {"at": now.isoformat(), "contacts": 25})
        print(f"==> 25 contacts register, change and respond at {now.isoformat()}")
        print(
            "==> meltano run tap-emarsys target-duckdb dbt-duckdb:build"
            " (second run: incremental, then the dbt package)"
        )
        second_seconds, _second_metrics = meltano(
            "run", "tap-emarsys", "target-duckdb", "dbt-duckdb:build", env=env
        )
        second = warehouse_counts()
        print("==> meltano invoke dbt-duckdb:docs-generate")
        meltano("invoke", "dbt-duckdb:docs-generate", env=env)
        print("==> emarsys__campaign_performance (top 5 by sends)")
        print_campaign_performance()

        vip_count = export_engaged_contacts()
        print(f"==> {vip_count} engaged contacts (dbt model) from DuckDB -> RDS table {RDS_TABLE}")
        back_seconds, _ = meltano("run", "tap-jsonl", "target-emarsys", env=env)
        landed = sandbox.control(f"rds/{RDS_CONNECTION}/{RDS_TABLE}")
        landed_count = len(landed if isinstance(landed, list) else landed.get("rows", []))
    finally:
        sandbox.stop()

    durations = stream_durations(first_metrics)
    print()
    print("==> Summary")
    # seconds per stream only where the metric lines name their stream
    seconds = {table: f"{durations[table]:>8.1f} " for table in durations}
    seconds_header = f"{'run 1 s':>8} " if seconds else ""
    print(f"  {'stream':<24} {'run 1 rows':>10} {seconds_header}{'run 2 new':>10}")
    for table in sorted(second):
        print(
            f"  {table:<24} {first.get(table, 0):>10} {seconds.get(table, '') if seconds else ''}"
            f"{second[table] - first.get(table, 0):>10}"
        )
    print(
        "  (run 2 new: time-ranged streams moved only the new activity; contact_changes exports"
        " whole days only, so today's changes come with tomorrow's run; list and segment"
        " members are snapshots, upserted by key)"
    )
    print(f"  meltano run 1: {first_seconds:.1f} s, run 2 with dbt build: {second_seconds:.1f} s")
    print(
        f"  back into Emarsys: {landed_count} of {vip_count} rows in RDS "
        f"{RDS_CONNECTION}.{RDS_TABLE} ({back_seconds:.1f} s)"
    )
    print(f"  warehouse: {WAREHOUSE} (tap tables in `emarsys`, dbt models in `{MARTS}`)")
    print(
        f"  dbt docs with the lineage graph: {DBT_TARGET / 'static_index.html'}"
        " (one file: open it in a browser)"
    )
    query = (
        f"select engagement_tier, count(*) as n from {MARTS}.emarsys__contact_engagement"
        " group by 1 order by 2 desc"
    )
    print(
        f'  look at it: {BIN / "python"} -c "import duckdb; '
        f"con = duckdb.connect('{WAREHOUSE}', read_only=True); con.sql('{query}').show()\""
    )
    print(f"  demo wall time: {time.monotonic() - began:.1f} s")
    if landed_count != vip_count:
        raise SystemExit("the RDS table does not hold every row that was sent")


if __name__ == "__main__":
    main()
