"""Target tests' helpers: Singer messages, and the target run in-process with a recording client."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

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


def lines(messages: Iterable[dict[str, Any]]) -> str:
    """Singer input text."""
    return "".join(json.dumps(message) + "\n" for message in messages)


class TargetRun:
    """A target with a recording client, fed Singer messages in-process."""

    def __init__(self, config: dict[str, Any], client: RecordingClient | None = None) -> None:
        self.client = client or RecordingClient()
        self.target = TargetEmarsys(config={**BASE_CONFIG, **config}, client=self.client)  # type: ignore[arg-type]

    def feed(self, messages: Iterable[dict[str, Any]], *, finish: bool = True) -> None:
        self.target.process_lines(io.StringIO(lines(messages)))
        if finish:
            self.target.process_endofpipe()
