"""`tap-emarsys | <loader>` as two real processes, the tap's output kept for ground truth.

The tap's stdout is copied line by line into the loader's stdin (as `meltano run` pipes them) and
kept, so a test compares what landed in the warehouse with the RECORD messages that were sent.
The loader's stdout carries its STATE lines; the last one is what a runner stores for the next run.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.helpers.meltano import clean_environ
from tests.helpers.tap_runs import TapOutput

TAP = Path(sys.executable).parent / "tap-emarsys"
RUN_TIMEOUT = 240  # seconds for one tap-to-loader run before both are killed


@dataclass
class PipelineRun:
    """One run: the tap's messages, the loader's states, both exit statuses and logs."""

    tap: TapOutput
    tap_output: Path  # the tap's stdout as it went to the loader, one message a line
    tap_exit: int
    loader_exit: int
    loader_states: list[dict[str, Any]]
    tap_log: str
    loader_log: str

    @property
    def state(self) -> dict[str, Any]:
        """The loader's last STATE (what Meltano would store), or {}."""
        return self.loader_states[-1] if self.loader_states else {}

    def messages_of(self, kind: str) -> list[dict[str, Any]]:
        """The tap's messages of one type (`RECORD`, `ACTIVATE_VERSION`, ...)."""
        return [message for message in self.tap.messages if message["type"] == kind]

    def check(self) -> PipelineRun:
        """Fail with both logs' last lines unless both processes exited 0."""
        assert (self.tap_exit, self.loader_exit) == (0, 0), (
            f"tap exit {self.tap_exit}, loader exit {self.loader_exit}\n"
            f"--- tap stderr ---\n{self.tap_log[-3000:]}\n"
            f"--- loader stderr ---\n{self.loader_log[-3000:]}"
        )
        return self


def write_json(path: Path, value: Any) -> Path:
    """`value` as a JSON file (configs, state, catalog for the commands)."""
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def run_pipeline(
    folder: Path,
    tap_config: dict[str, Any],
    loader: Path,
    loader_config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> PipelineRun:
    """Run the tap into the loader; returns when both have exited (killed past RUN_TIMEOUT).

    Args:
        folder: where the config, state, catalog and log files of this run go (kept after it).
        tap_config: the tap's settings.
        loader: the loader's executable.
        loader_config: the loader's settings.
        state: the state from the previous run (`--state`), if any.
        catalog: a catalog with the streams to sync selected (`--catalog`); all when None.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tap_command = [str(TAP), "--config", str(write_json(folder / "tap-config.json", tap_config))]
    if state:
        tap_command += ["--state", str(write_json(folder / "state.json", state))]
    if catalog is not None:
        tap_command += ["--catalog", str(write_json(folder / "catalog.json", catalog))]
    loader_command = [
        str(loader),
        "--config",
        str(write_json(folder / "loader.json", loader_config)),
    ]
    env = clean_environ(("TAP_", "TARGET_", "MELTANO_"))
    sent: list[str] = []
    with (
        (folder / "tap.log").open("w+", encoding="utf-8") as tap_log,
        (folder / "loader.log").open("w+", encoding="utf-8") as loader_log,
    ):
        tap = subprocess.Popen(
            tap_command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=tap_log,
            text=True,
            encoding="utf-8",
            env=env,
        )
        target = subprocess.Popen(
            loader_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=loader_log,
            text=True,
            encoding="utf-8",
            env=env,
        )
        assert tap.stdout is not None and target.stdin is not None and target.stdout is not None
        copier = threading.Thread(target=_copy_lines, args=(tap.stdout, target.stdin, sent))
        copier.start()
        states_out: list[str] = []
        reader = threading.Thread(target=lambda: states_out.extend(target.stdout or []))
        reader.start()
        try:
            tap_exit = tap.wait(timeout=RUN_TIMEOUT)
            loader_exit = target.wait(timeout=RUN_TIMEOUT)
        finally:
            for process in (tap, target):
                if process.poll() is None:
                    process.kill()
                    process.wait()
            copier.join()
            reader.join()
        tap_log.seek(0)
        loader_log.seek(0)
        logs = tap_log.read(), loader_log.read()
    tap_output = folder / "tap-output.jsonl"
    tap_output.write_text("".join(sent), encoding="utf-8")
    return PipelineRun(
        tap=TapOutput([json.loads(line) for line in sent if line.strip()]),
        tap_output=tap_output,
        tap_exit=tap_exit,
        loader_exit=loader_exit,
        loader_states=[json.loads(line) for line in states_out if line.strip()],
        tap_log=logs[0],
        loader_log=logs[1],
    )


def _copy_lines(source: IO[str], sink: IO[str], kept: list[str]) -> None:
    """Tap stdout into loader stdin; a loader that died stops the copying, not the reading."""
    sink_open = True
    for line in source:
        kept.append(line)
        if sink_open:
            try:
                sink.write(line)
            except (BrokenPipeError, ValueError):
                sink_open = False
    with contextlib.suppress(BrokenPipeError, ValueError):
        sink.close()
