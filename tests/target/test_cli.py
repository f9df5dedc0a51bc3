"""The installed `target-emarsys` command: errors the user can fix are one line, exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from emarsys_sandbox import Sandbox

TARGET = str(Path(sys.executable).parent / "target-emarsys")


def run(config: dict[str, Any], tmp_path: Path, lines: list[dict[str, Any]]) -> Any:
    (tmp_path / "config.json").write_text(json.dumps(config))
    return subprocess.run(
        [TARGET, "--config", str(tmp_path / "config.json")],
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_mistake_is_one_line(tmp_path: Path) -> None:
    config = {"username": "u", "secret": "s3cr3t", "stream_destinations": {"x": {"type": "nope"}}}
    proc = run(config, tmp_path, [])
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert proc.returncode == 1
    assert errors == [
        "Error: Invalid configuration: stream_destinations['x']: unknown destination type "
        "'nope'; expected one of relational, behavior, contacts"
    ]
    assert "Traceback" not in proc.stderr and "s3cr3t" not in proc.stderr


def test_rejected_contact_is_one_line(sandbox: Sandbox, tmp_path: Path) -> None:
    config = sandbox.wsse_config(
        stream_destinations={"people": {"type": "contacts", "key_field": "email"}}
    )
    lines = [
        {
            "type": "SCHEMA",
            "stream": "people",
            "schema": {"properties": {"email": {"type": "string"}}},
            "key_properties": ["email"],
        },
        {"type": "RECORD", "stream": "people", "record": {"email": "bad-email"}},
        {"type": "STATE", "value": {"done": 1}},
    ]
    proc = run(config, tmp_path, lines)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert proc.returncode == 1 and proc.stdout == ""  # no STATE for a rejected record
    assert errors == [
        "Error: stream 'people': Emarsys rejected record email='bad-email': "
        "Invalid email address. (errorCode 2011)"
    ]
    assert "Traceback" not in proc.stderr
    assert sandbox.credentials["secret"] not in proc.stderr
