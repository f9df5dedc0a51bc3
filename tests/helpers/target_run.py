"""Target tests' helpers: Singer messages, and the target run in-process with a recording client."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from emarsys_sandbox import Sandbox
from target_emarsys.target import TargetEmarsys
from tests.helpers.recording_client import RecordingClient

BASE_CONFIG: dict[str, Any] = {
    "base_url": "http://127.0.0.1:9",
    "username": "tester",
    "secret": "not-a-real-secret",
    "rds_connection": "demo",
}


def schema(stream: str, properties: dict[str, Any], keys: Iterable[str] = ()) -> dict[str, Any]:
    """A SCHEMA message."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": list(keys),
    }


def record(stream: str, **values: Any) -> dict[str, Any]:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": values}


def state(value: Any) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": value}


def lines(messages: Iterable[dict[str, Any] | None]) -> str:
    """Singer input text (None: a blank line)."""
    return "".join(json.dumps(message) + "\n" if message else "\n" for message in messages)


class TargetRun:
    """A target with a recording client, fed Singer messages in-process."""

    def __init__(self, config: dict[str, Any], client: RecordingClient | None = None) -> None:
        self.client = client or RecordingClient()
        self.target = TargetEmarsys(config={**BASE_CONFIG, **config}, client=self.client)  # type: ignore[arg-type]

    def feed(self, messages: Iterable[dict[str, Any]], *, finish: bool = True) -> None:
        """Process `messages` as binary input, as standard input is read (in blocks)."""
        self.target.process_lines(io.BytesIO(lines(messages).encode()))  # type: ignore[arg-type]
        if finish:
            self.target.process_endofpipe()


def run(sb: Sandbox, config: dict[str, Any], messages: list[dict[str, Any]]) -> list[Any]:
    """Run the target in-process against the sandbox over HTTP; returns the STATE values it
    emitted (RDS connection `demo` unless `config` names another)."""
    target = TargetEmarsys(config=sb.wsse_config(rds_connection="demo", **config))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        target.listen(io.BytesIO(lines(messages).encode()))  # type: ignore[arg-type]
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def writes(sb: Sandbox) -> list[dict[str, Any]]:
    """The sandbox's logged requests that write (everything but GETs and token requests)."""
    return [r for r in sb.request_log() if r["method"] != "GET" and "/api/" in r["path"]]


def contacts_config(**extra: Any) -> dict[str, Any]:
    """Target settings that send the `people` stream to contacts, keyed by email."""
    return {"stream_destinations": {"people": {"type": "contacts", "key_field": "email"}}, **extra}


# The `purchases` stream of the sandbox round trips (tests/target).
PURCHASE_COLUMNS = ["order_id", "contact_id", "amount", "note", "bought_at", "paid"]
PURCHASE = {
    "order_id": {"type": "integer"},
    "contact_id": {"type": ["integer", "null"]},
    "amount": {"type": ["number", "null"]},
    "note": {"type": ["string", "null"]},
    "bought_at": {"type": ["string", "null"], "format": "date-time"},
    "paid": {"type": ["boolean", "null"]},
}
NOTES = ["plain", 'Zoë, "quoted"; semi', "многоязычный ✓", "line\nbreak", None, "日本語"]


def purchase(i: int) -> dict[str, Any]:
    """Purchase `i`: nulls, non-ASCII notes and both sides of a DST change, by turns."""
    return {
        "order_id": i,
        "contact_id": None if i % 5 == 0 else i % 97,
        "amount": round(i * 1.25, 2) if i % 7 else None,
        "note": NOTES[i % len(NOTES)],
        "bought_at": f"2026-03-29T0{i % 4}:30:00+02:00",
        "paid": i % 2 == 0,
    }


@contextlib.contextmanager
def purchases_sandbox(db_dir: Path, *, contacts: int, seed: int) -> Iterator[Sandbox]:
    """A sandbox with the RDS table `demo.purchases` (key `order_id`), its data in `db_dir`."""
    tables = {"purchases": {"columns": PURCHASE_COLUMNS, "primary_key": ["order_id"]}}
    with Sandbox(
        contacts=contacts,
        seed=seed,
        rds_tables={"demo": tables},
        db_path=str(db_dir / "rds.sqlite"),
    ) as sandbox:
        yield sandbox
