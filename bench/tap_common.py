"""Shared plumbing of the tap benchmarks: a CLI sandbox, configs, catalogs, timed tap runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emarsys_sandbox.process import SandboxProcess

BIN = Path(sys.executable).parent


@contextmanager
def cli_sandbox(*args: str) -> Iterator[dict[str, Any]]:
    """Run `emarsys-sandbox serve --port 0 ...` and yield its credentials line."""
    with SandboxProcess(*args) as sandbox:
        yield sandbox.credentials


def tap_config(credentials: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """A WSSE tap config for the sandbox plus the given settings."""
    keys = ("base_url", "username", "secret")
    return {**{key: credentials[key] for key in keys}, **settings}


def catalog_selecting(config_path: Path, streams: set[str]) -> dict[str, Any]:
    """Discover the catalog and select only `streams` (every property of them)."""
    out = subprocess.run(
        [str(BIN / "tap-emarsys"), "--config", str(config_path), "--discover"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    catalog = json.loads(out)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if not item["breadcrumb"]:
                item["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


class TapRun:
    """Files of one tap invocation (config, catalog) in a temporary directory."""

    def __init__(self, config: dict[str, Any], streams: set[str]) -> None:
        """Write the config and a catalog selecting `streams`."""
        self._dir = tempfile.TemporaryDirectory(prefix="tap-bench-")
        self.dir = Path(self._dir.name)
        self.config = self.dir / "config.json"
        self.config.write_text(json.dumps(config))
        self.catalog = self.dir / "catalog.json"
        self.catalog.write_text(json.dumps(catalog_selecting(self.config, streams)))
        self.cpu_seconds = 0.0  # user + system time of the last run's tap process

    def run(self, stdout: Any = subprocess.DEVNULL) -> tuple[float, int]:
        """Run the tap once; returns (wall seconds, peak RSS in KiB of the tap process)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "0"}
        env.pop("PYTHONUNBUFFERED")
        started = time.perf_counter()
        proc = subprocess.Popen(
            [
                str(BIN / "tap-emarsys"),
                "--config",
                str(self.config),
                "--catalog",
                str(self.catalog),
            ],
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"tap-emarsys failed with exit code {proc.returncode}")
        return elapsed, usage.ru_maxrss

    def close(self) -> None:
        """Remove the files."""
        self._dir.cleanup()
