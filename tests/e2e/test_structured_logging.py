"""Both connectors under the logging config Meltano hands a `structured-logging` plugin.

The plugin definitions declare the `structured-logging` capability; here the real commands run
with the config Meltano would write (no Meltano needed), and every stderr line must be a JSON
log object carrying the lines a user reads: export waits, per-stream summaries, target totals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emarsys_sandbox import Sandbox

# The logging config Meltano writes for a plugin declaring `structured-logging` (and hands it in
# SINGER_SDK_LOG_CONFIG): the SDK's StructuredFormatter, one JSON object per stderr line.
STRUCTURED_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "singer_sdk.logging.StructuredFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}


def structured_messages(stderr: str) -> list[str]:
    """The `message` of every stderr line, each of which must be a JSON log object."""
    messages = []
    for line in stderr.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"not a structured log line: {line[:300]}")
        messages.append(entry["message"])
    return messages


def test_structured_logging_as_declared_both_connectors(tmp_path: Path) -> None:
    """The declared capability holds: under Meltano's config every log line is JSON, and the
    export waits, the per-stream summaries and the target's per-stream totals are among them."""
    log_config = tmp_path / "logging.json"
    log_config.write_text(json.dumps(STRUCTURED_LOGGING), encoding="utf-8")
    env = dict(os.environ, SINGER_SDK_LOG_CONFIG=str(log_config))
    rds_tables = {
        "demo": {"vip": {"columns": ["contact_id", "email"], "primary_key": ["contact_id"]}}
    }
    with Sandbox(contacts=40, seed=2, rds_tables=rds_tables) as sb:
        tap_config = tmp_path / "tap.json"
        tap_config.write_text(
            json.dumps(
                {
                    **sb.wsse_config(),
                    "start_date": "2026-03-15",
                    "end_date": "2026-03-22",
                    "export_poll_interval": 0.05,
                }
            ),
            encoding="utf-8",
        )
        bin_dir = Path(sys.executable).parent
        tap = subprocess.run(
            [str(bin_dir / "tap-emarsys"), "--config", str(tap_config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert tap.returncode == 0, tap.stderr[-4000:]
        messages = structured_messages(tap.stderr)
        for stream in ("contact_changes", "contact_list_members"):
            assert any(
                m.startswith(f"Stream '{stream}'") and "done after" in m for m in messages
            ), f"no export wait line for {stream}"
            assert any(m.startswith(f"Stream '{stream}' done:") for m in messages), stream

        target_config = tmp_path / "target.json"
        target_config.write_text(
            json.dumps({**sb.wsse_config(), "rds_connection": "demo"}), encoding="utf-8"
        )
        lines = [
            {
                "type": "SCHEMA",
                "stream": "vip",
                "schema": {
                    "type": "object",
                    "properties": {
                        "contact_id": {"type": "integer"},
                        "email": {"type": ["string", "null"]},
                    },
                },
                "key_properties": ["contact_id"],
            },
            *(
                {"type": "RECORD", "stream": "vip", "record": {"contact_id": i, "email": None}}
                for i in range(1, 1201)
            ),
        ]
        target = subprocess.run(
            [str(bin_dir / "target-emarsys"), "--config", str(target_config)],
            input="".join(json.dumps(line) + "\n" for line in lines),
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert target.returncode == 0, target.stderr[-4000:]
        assert len(sb.rds_rows("demo", "vip")) == 1200
        messages = structured_messages(target.stderr)
        assert any(m.startswith("stream 'vip': 1200 record(s) read") for m in messages), "\n".join(
            messages
        )
