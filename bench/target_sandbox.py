"""Shared by the target benchmarks: a sandbox in its own process, and Singer input files."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from emarsys_sandbox.process import SandboxProcess

BIN = Path(sys.executable).parent  # the target benchmarks run `BIN / "target-emarsys"`
OUT = Path(__file__).resolve().parent / "out"
COLUMNS = ["order_id", "contact_id", "amount", "sku", "bought_at"]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "integer"},
        "contact_id": {"type": ["integer", "null"]},
        "amount": {"type": ["number", "null"]},
        "sku": {"type": ["string", "null"]},
        "bought_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def write_singer_input(path: Path, count: int, stream: str = "purchases") -> Path:
    """SCHEMA, `count` RECORDs (non-ASCII included) and a STATE every 10,000 records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        message = {
            "type": "SCHEMA",
            "stream": stream,
            "schema": SCHEMA,
            "key_properties": ["order_id"],
        }
        out.write(json.dumps(message) + "\n")
        for i in range(count):
            values = {
                "order_id": i,
                "contact_id": i % 5000,
                "amount": round(i * 0.37, 2),
                "sku": f"SKU-{i % 977}-ü",
                "bought_at": "2026-03-29T01:30:00+00:00",
            }
            out.write(json.dumps({"type": "RECORD", "stream": stream, "record": values}) + "\n")
            if i % 10_000 == 9_999:
                out.write(json.dumps({"type": "STATE", "value": {"purchases": i}}) + "\n")
    return path


@contextlib.contextmanager
def sandbox_process(
    *extra: str, tables: tuple[str, ...] = ("target_rows",)
) -> Iterator[dict[str, Any]]:
    """A `SandboxProcess` with the bench tables (on tmpfs); yields its credentials line."""
    table_args = []
    for table in tables:
        spec = ",".join(f"{c}*" if c == "order_id" else c for c in COLUMNS)
        table_args += ["--rds-table", f"bench.{table}:{spec}"]
    # RDS data on tmpfs: the sandbox commits every row, and disk syncs would swamp the figures.
    db_dir = tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    table_args += ["--db", str(Path(db_dir) / "rds.sqlite")]
    try:
        with SandboxProcess(*["--contacts", "10", "--seed", "1", *table_args, *extra]) as sandbox:
            yield sandbox.credentials
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)


def target_config(
    credentials: dict[str, Any], table: str = "target_rows", **extra: Any
) -> dict[str, Any]:
    """An OAuth2 target config writing the `purchases` stream to `bench.<table>`."""
    return {
        "base_url": credentials["base_url"],
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
        "token_url": credentials["token_url"],
        "rds_connection": "bench",
        "stream_destinations": {"purchases": {"type": "relational", "table": table}},
        "validate_records": True,
        **extra,
    }


def table_rows(credentials: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """What the sandbox holds in `bench.<table>` (control API)."""
    reply = requests.get(f"{credentials['base_url']}/_sandbox/rds/bench/{table}", timeout=60)
    reply.raise_for_status()
    data = reply.json()
    return data["rows"] if isinstance(data, dict) and "rows" in data else data


def request_log(credentials: dict[str, Any]) -> list[dict[str, Any]]:
    """The sandbox's request log (control API)."""
    reply = requests.get(f"{credentials['base_url']}/_sandbox/requests", timeout=60)
    reply.raise_for_status()
    data = reply.json()
    return data["requests"] if isinstance(data, dict) and "requests" in data else data
