"""`make demo`: the sandbox into DuckDB with Meltano, twice, then one table back into Emarsys.

Steps: start `emarsys-sandbox` on a free port; `meltano install`; `meltano run tap-emarsys
target-duckdb` (full load), add new activity to the sandbox, run again (incremental); export a
segment of contacts from DuckDB as JSON lines and `meltano run tap-jsonl target-emarsys` them into
an RDS table of the sandbox; print a summary. The sandbox is stopped at the end, on failure and on
Ctrl-C.
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
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUTPUT = ROOT / "output"
WAREHOUSE = OUTPUT / "warehouse.duckdb"
VIP_FILE = OUTPUT / "vip_contacts.jsonl"
RDS_CONNECTION = "demo"
RDS_TABLE = "vip_contacts"
VIP_COLUMNS = ["contact_id", "first_name", "last_name", "email", "segment_id"]
METRIC = re.compile(r"METRIC: (\{.*\})")


class Sandbox:
    """`emarsys-sandbox serve` as a child process, stopped on exit."""

    def __init__(self, contacts: int) -> None:
        spec = f"{RDS_CONNECTION}.{RDS_TABLE}:" + ",".join(
            column + ("*" if column == "contact_id" else "") for column in VIP_COLUMNS
        )
        self.process = subprocess.Popen(
            [
                str(BIN / "emarsys-sandbox"),
                "serve",
                "--port",
                "0",
                "--contacts",
                str(contacts),
                "--seed",
                "1",
                "--rds-table",
                spec,
                "--db",
                str(OUTPUT / "sandbox.sqlite"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        line = stdout.readline()
        if not line:
            raise SystemExit("emarsys-sandbox did not start; see its output above")
        self.info: dict[str, str] = json.loads(line)

    def control(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """Call the sandbox's /_sandbox/ inspection and control endpoints."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.info["base_url"] + "/_sandbox/" + path,
            data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


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


def export_vip_segment() -> int:
    """Write the members of the first segment, with their names, as JSON lines."""
    import duckdb

    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        rows = con.sql(
            "select contact_id, first_name, last_name, email, segment_id "
            "from emarsys.segment_members "
            "where segment_id = (select min(segment_id) from emarsys.segment_members) "
            "order by contact_id"
        ).fetchall()
    with VIP_FILE.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(dict(zip(VIP_COLUMNS, row, strict=True)), default=str) + "\n")
    return len(rows)


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
    sandbox = Sandbox(args.contacts)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        info = sandbox.info
        print(f"==> emarsys-sandbox on {info['base_url']} ({args.contacts} contacts)")
        env = dict(os.environ)
        env.update(
            MELTANO_DATABASE_URI=f"sqlite:///{OUTPUT / 'meltano.db'}",
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
            EMARSYS_BASE_URL=info["base_url"],
            EMARSYS_USERNAME=info["username"],
            EMARSYS_SECRET=info["secret"],
            DEMO_VIP_FILE=str(VIP_FILE),
        )
        print("==> meltano install")
        meltano("install", env=env)

        print("==> meltano run tap-emarsys target-duckdb (first run: full history)")
        first_seconds, first_metrics = meltano("run", "tap-emarsys", "target-duckdb", env=env)
        first = warehouse_counts()

        now = datetime.now(timezone.utc).replace(microsecond=0)
        sandbox.control("activity", {"at": now.isoformat(), "contacts": 25})
        print(f"==> 25 contacts register, change and respond at {now.isoformat()}")
        print("==> meltano run tap-emarsys target-duckdb (second run: incremental)")
        second_seconds, _second_metrics = meltano("run", "tap-emarsys", "target-duckdb", env=env)
        second = warehouse_counts()

        vip_count = export_vip_segment()
        print(f"==> {vip_count} segment members from DuckDB -> RDS table {RDS_TABLE}")
        back_seconds, _ = meltano("run", "tap-jsonl", "target-emarsys", env=env)
        landed = sandbox.control(f"rds/{RDS_CONNECTION}/{RDS_TABLE}")
        landed_count = len(landed if isinstance(landed, list) else landed.get("rows", []))
    finally:
        sandbox.stop()

    durations = stream_durations(first_metrics)
    print()
    print("==> Summary")
    print(f"  {'stream':<24} {'run 1 rows':>10} {'run 1 s':>8} {'run 2 new':>10}")
    for table in sorted(second):
        print(
            f"  {table:<24} {first.get(table, 0):>10} {durations.get(table, 0.0):>8.1f}"
            f" {second[table] - first.get(table, 0):>10}"
        )
    print(
        "  (run 2 new: time-ranged streams moved only the new activity; contact_changes exports"
        " whole days only, so today's changes come with tomorrow's run; list and segment"
        " members are snapshots, upserted by key)"
    )
    print(f"  meltano run 1: {first_seconds:.1f} s, run 2: {second_seconds:.1f} s")
    print(
        f"  back into Emarsys: {landed_count} of {vip_count} rows in RDS "
        f"{RDS_CONNECTION}.{RDS_TABLE} ({back_seconds:.1f} s)"
    )
    print(f"  warehouse: {WAREHOUSE}")
    query = "select source, count(*) as n from emarsys.email_responses group by 1"
    print(
        f'  look at it: {BIN / "python"} -c "import duckdb; '
        f"con = duckdb.connect('{WAREHOUSE}', read_only=True); con.sql('{query}').show()\""
    )
    print(f"  demo wall time: {time.monotonic() - began:.1f} s")
    if landed_count != vip_count:
        raise SystemExit("the RDS table does not hold every row that was sent")


if __name__ == "__main__":
    main()
