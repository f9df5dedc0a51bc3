"""The partitions `meltano.yml` declares, run two at a time: together they are one full run.

Each partition is an inherited extractor (`tap-emarsys--lists-a`, ...) with its own streams and
its own lists, segments or dates. Meltano resolves each one's settings
(`meltano config print`, the `dev` environment pointed at a sandbox); the tap then runs as two
processes at once per pair, each with its own state file, as an orchestrator would run the jobs.
The records of all partitions together must equal one full run's, none twice, and each
partition's state holds its own bookmarks, untouched by the partition running beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from emarsys_sandbox import Sandbox
from tests.helpers.meltano import ROOT, meltano_environment, run_meltano
from tests.helpers.truth import TIME_RANGED_STREAMS

BIN = Path(sys.executable).parent
PROJECT = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
EXTRACTORS = {plugin["name"]: plugin for plugin in PROJECT["plugins"]["extractors"]}
PARTITIONS = sorted(
    name for name, plugin in EXTRACTORS.items() if plugin.get("inherit_from") == "tap-emarsys"
)
PAIRS = [
    ("tap-emarsys--lists-a", "tap-emarsys--lists-b"),
    ("tap-emarsys--backfill", "tap-emarsys--recent"),
]
END_DATE = "2026-04-13"  # one fixed end for the full run and the open-ended partition

pytestmark = pytest.mark.slow


def selected_streams(plugin: dict[str, Any]) -> set[str]:
    """The streams a plugin's `select` names (`stream.*` patterns)."""
    return {pattern.split(".", 1)[0] for pattern in plugin["select"]}


def meltano_config(name: str, env: dict[str, str]) -> dict[str, Any]:
    """The settings Meltano hands the partition's tap (inheritance and environment applied)."""
    command = ("--environment", "dev", "config", "--unsafe", "print", name)
    printed = run_meltano(env, *command, timeout=120, stdout_only=True)
    config: dict[str, Any] = json.loads(printed)
    config.setdefault("end_date", END_DATE)
    return {key: value for key, value in config.items() if value is not None}


def catalog_selecting(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """The discovered catalog with exactly `streams` selected."""
    chosen = json.loads(json.dumps(catalog))
    for entry in chosen["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return chosen


def start_tap(
    folder: Path, config: dict[str, Any], catalog: dict[str, Any]
) -> subprocess.Popen[str]:
    """A tap process with its own config, catalog and state files in `folder`."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")
    command = [str(BIN / "tap-emarsys"), "--config", str(folder / "config.json")]
    command += ["--catalog", str(folder / "catalog.json")]
    if (folder.parent / f"{folder.name}.state.json").exists():
        command += ["--state", str(folder.parent / f"{folder.name}.state.json")]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(
    process: subprocess.Popen[str],
) -> tuple[Counter[str], dict[str, list[str]], dict[str, Any]]:
    """Records per stream (as sorted JSON, `snapshot_at` left out) and the last STATE."""
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-4000:]
    counts: Counter[str] = Counter()
    records: dict[str, list[str]] = {}
    state: dict[str, Any] = {}
    for line in out.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            record = message["record"]
            record.pop("snapshot_at", None)  # the run's snapshot time: differs between runs
            records.setdefault(message["stream"], []).append(json.dumps(record, sort_keys=True))
            counts[message["stream"]] += 1
        elif message["type"] == "STATE":
            state = message["value"]
    return counts, records, state


def bookmarks(state: dict[str, Any]) -> dict[str, Any]:
    """Stream -> its `window_end` bookmark, for the time-ranged streams a state holds."""
    return {
        stream: entry.get("replication_key_value") or entry.get("window_end")
        for stream, entry in state.get("bookmarks", {}).items()
        if stream in TIME_RANGED_STREAMS
    }


def test_partitions_cover_every_stream_once() -> None:
    """Every stream of the full run is in a partition; one in two is split by ids or dates."""
    assert set(PARTITIONS) == {name for pair in PAIRS for name in pair}
    full = selected_streams(EXTRACTORS["tap-emarsys"])
    assert set().union(*(selected_streams(EXTRACTORS[name]) for name in PARTITIONS)) == full
    jobs = {job["name"]: job["tasks"] for job in PROJECT["jobs"]}
    extractors_in_jobs = [task.split()[0] for tasks in jobs.values() for task in tasks]
    # One job per partition: each job's state id (`dev:<extractor>-to-<loader>`) is its own.
    assert sorted(extractors_in_jobs) == PARTITIONS


def test_two_partitions_at_once_equal_one_full_run(tmp_path: Path) -> None:
    with Sandbox(contacts=120, seed=9) as sb:
        env = meltano_environment(tmp_path / "meltano.db", sb)
        base = meltano_config("tap-emarsys", env)
        discovered = subprocess.run(
            [str(BIN / "tap-emarsys"), "--config", "/dev/stdin", "--discover"],
            input=json.dumps(base),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert discovered.returncode == 0, discovered.stderr[-4000:]
        catalog = json.loads(discovered.stdout)

        full = start_tap(
            tmp_path / "full",
            base,
            catalog_selecting(catalog, selected_streams(EXTRACTORS["tap-emarsys"])),
        )
        full_counts, full_records, _ = finish(full)

        union: dict[str, list[str]] = {}
        union_counts: Counter[str] = Counter()
        states: dict[str, dict[str, Any]] = {}
        configs: dict[str, dict[str, Any]] = {}
        for pair in PAIRS:
            running = {}
            for name in pair:
                configs[name] = meltano_config(name, env)
                streams = selected_streams(EXTRACTORS[name])
                running[name] = start_tap(
                    tmp_path / name, configs[name], catalog_selecting(catalog, streams)
                )
            for name, process in running.items():  # both run at once; collect each
                counts, records, states[name] = finish(process)
                union_counts.update(counts)
                for stream, rows in records.items():
                    union.setdefault(stream, []).extend(rows)

        assert full_counts and union_counts == full_counts, "a partition overlaps or misses rows"
        for stream, rows in full_records.items():
            assert sorted(union[stream]) == sorted(rows), stream

        # Each partition's state is its own: the backfill's bookmarks stop at its end_date, the
        # nightly part's at the full run's end (local midnights of the account's zone, in UTC);
        # the list partitions keep no window bookmarks.
        zone = sb.backend.account.zone
        backfill, recent = configs["tap-emarsys--backfill"], configs["tap-emarsys--recent"]
        assert recent["start_date"] == backfill["end_date"]
        for name, end_date in (
            ("tap-emarsys--backfill", backfill["end_date"]),
            ("tap-emarsys--recent", END_DATE),
        ):
            ends = bookmarks(states[name])
            assert set(ends) == set(TIME_RANGED_STREAMS), states[name]
            local = {dt.datetime.fromisoformat(value).astimezone(zone) for value in ends.values()}
            assert {(moment.date().isoformat(), moment.hour) for moment in local} == {
                (end_date, 0)
            }, f"{name}: {states[name]}"
        for name in PAIRS[0]:
            assert not bookmarks(states[name]), states[name]

        # Run again, each partition from its own state: nothing of the time ranges comes twice.
        for name in PAIRS[1]:
            (tmp_path / f"{name}-again.state.json").write_text(
                json.dumps(states[name]), encoding="utf-8"
            )
        again = {
            name: start_tap(
                tmp_path / f"{name}-again",
                configs[name],
                catalog_selecting(
                    catalog, selected_streams(EXTRACTORS[name]) & set(TIME_RANGED_STREAMS)
                ),
            )
            for name in PAIRS[1]
        }
        for name, process in again.items():
            counts, _, state = finish(process)
            assert not counts, f"{name} re-sent {dict(counts)} from its own state"
            assert bookmarks(state) == bookmarks(states[name]), name
