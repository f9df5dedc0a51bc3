"""CPU cost of target-emarsys: 200,000 records into a sandbox RDS table, against a floor.

The floor parses the same Singer lines with orjson and posts the same 1000-row JSON bodies to
the same upsert endpoint with one `requests.Session`: what any loader must at least do. The
target runs as a subprocess with record validation on. Goal: target time <= 2x floor time.

    .venv/bin/python bench/target_throughput.py [--quick] [--records N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from target_sandbox import (
    BIN,
    COLUMNS,
    OUT,
    sandbox_process,
    table_rows,
    target_config,
    write_singer_input,
)


def floor(config_path: Path, input_path: Path, table: str) -> None:
    """Parse with orjson, post 1000-row upsert bodies with one session (OAuth2 bearer)."""
    config = json.loads(config_path.read_text())
    session = requests.Session()
    token = session.post(
        config["token_url"],
        data={"grant_type": "client_credentials"},
        auth=(config["client_id"], config["client_secret"]),
        timeout=60,
    ).json()["access_token"]
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    url = f"{config['base_url']}/api/rds/v1/connections/bench/tables/{table}/records/upsert"
    batch: list[dict[str, Any]] = []

    def post() -> None:
        reply = session.post(url, data=orjson.dumps(batch), timeout=60)
        reply.raise_for_status()
        batch.clear()

    with input_path.open("rb") as lines:
        for line in lines:
            message = orjson.loads(line)
            if message["type"] == "RECORD":
                values = message["record"]
                batch.append({column: values.get(column) for column in COLUMNS})
                if len(batch) == 1000:
                    post()
    if batch:
        post()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 records")
    parser.add_argument("--records", type=int)
    parser.add_argument(
        "--floor", nargs=3, metavar=("CONFIG", "INPUT", "TABLE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.floor:
        floor(Path(args.floor[0]), Path(args.floor[1]), args.floor[2])
        return
    count = args.records or (20_000 if args.quick else 200_000)
    input_path = write_singer_input(OUT / f"target_throughput_{count}.jsonl", count)
    with sandbox_process(tables=("target_rows", "floor_rows")) as credentials:
        config_path = OUT / "target_throughput_config.json"
        config_path.write_text(json.dumps(target_config(credentials)))

        started = time.perf_counter()
        with input_path.open("rb") as stdin:
            target = subprocess.run(
                [str(BIN / "target-emarsys"), "--config", str(config_path)],
                stdin=stdin,
                capture_output=True,
                check=False,
            )
        target_seconds = time.perf_counter() - started
        if target.returncode != 0:
            sys.stderr.write(target.stderr.decode()[-3000:])
            raise SystemExit(f"target-emarsys failed with exit code {target.returncode}")

        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--floor", str(config_path), str(input_path), "floor_rows"],
            check=True,
        )
        floor_seconds = time.perf_counter() - started

        written = len(table_rows(credentials, "target_rows"))
        floor_written = len(table_rows(credentials, "floor_rows"))
    states = [line for line in target.stdout.decode().splitlines() if line.strip()]
    print(f"records:           {count:,}")
    print(
        f"target-emarsys:    {target_seconds:7.2f} s  ({count / target_seconds:,.0f} rows/s, "
        f"{written:,} rows in table, {len(states)} STATE lines)"
    )
    print(
        f"floor (orjson):    {floor_seconds:7.2f} s  ({count / floor_seconds:,.0f} rows/s, "
        f"{floor_written:,} rows in table)"
    )
    print(f"ratio target/floor: {target_seconds / floor_seconds:.2f}x  (goal <= 2x)")
    if written != count or floor_written != count:
        raise SystemExit("row counts differ from the records sent")


if __name__ == "__main__":
    main()
