"""Soak: target-emarsys killed with SIGKILL at random points of a load, rerun from its last STATE.

A runner (Meltano) stores the last STATE a target emitted and, after a crash, restarts the tap
from that bookmark; the tap then sends again every record after it. This script plays both: it
feeds `target-emarsys` (the installed command) a relational load with a STATE every 250 records,
kills it with SIGKILL at `--kills` random points, reruns it each time from the record after the
last STATE it read, lets the last run finish, and checks that the RDS table in the sandbox holds
exactly the source rows: every key once, every value equal.

    .venv/bin/python bench/soak_target_kill.py            # 100,000 records, 20 kills
    .venv/bin/python bench/soak_target_kill.py --quick    # 20,000 records, 3 kills

`make soak` runs the full version; tests/target/test_target_kill.py runs `soak()` reduced.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emarsys_sandbox import Sandbox

TARGET = Path(sys.executable).parent / "target-emarsys"
STATE_EVERY = 250
BATCH = 500
COLUMNS = ["order_id", "contact_id", "amount", "note"]
SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "integer"},
        "contact_id": {"type": ["integer", "null"]},
        "amount": {"type": ["number", "null"]},
        "note": {"type": ["string", "null"]},
    },
}
NOTES = ["plain", 'Zoë, "quoted"; semi', "line\nbreak", None, "日本語 ✓"]


def row(i: int) -> dict[str, Any]:
    """Source row `i` (deterministic, hostile text included)."""
    return {
        "order_id": i,
        "contact_id": None if i % 7 == 0 else i % 1000,
        "amount": round(i * 0.37, 2) if i % 5 else None,
        "note": NOTES[i % len(NOTES)],
    }


@dataclass
class SoakReport:
    """What a soak did and found."""

    records: int
    kills: int = 0
    runs: int = 0
    resent: int = 0
    kill_points: list[int] = field(default_factory=list)
    covered_before_kill: list[int] = field(default_factory=list)
    exact: bool = False
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def write_input(path: Path, start: int, total: int) -> None:
    """The tap's output from record `start` on: SCHEMA, RECORDs, a STATE every 250 records."""
    with path.open("w", encoding="utf-8") as out:
        schema = {"type": "SCHEMA", "stream": "purchases", "schema": SCHEMA}
        out.write(json.dumps({**schema, "key_properties": ["order_id"]}) + "\n")
        for i in range(start, total):
            out.write(json.dumps({"type": "RECORD", "stream": "purchases", "record": row(i)}))
            out.write("\n")
            if i % STATE_EVERY == STATE_EVERY - 1 or i == total - 1:
                out.write(json.dumps({"type": "STATE", "value": {"done_through": i}}) + "\n")


def held_ids(sb: Sandbox) -> list[int]:
    return [r["order_id"] for r in sb.rds_rows("demo", "purchases")]


def writes(sb: Sandbox) -> int:
    """Write requests the sandbox has answered (stored batches)."""
    return sum(1 for e in sb.request_log() if e["method"] == "POST" and e["status"] == 200)


def run_once(
    sb: Sandbox, config: Path, input_path: Path, kill_after: int | None, rng: random.Random
) -> tuple[int | None, bool]:
    """One target run, killed (SIGKILL) once the sandbox stored `kill_after` more batches.

    The trigger is the destination's progress, not the target's stdout (which a pipe buffers),
    plus a random few milliseconds, so kills land anywhere: between batches, with requests in
    flight, before or after a STATE.

    Returns:
        The last `done_through` the target wrote to stdout, and whether it was killed.
    """
    states: list[int] = []
    before = writes(sb)
    with input_path.open("rb") as stdin:
        proc = subprocess.Popen(
            [str(TARGET), "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(
        target=lambda: states.extend(json.loads(line)["done_through"] for line in stdout)
    )
    reader.start()
    killed = False
    while kill_after is not None and proc.poll() is None:
        if writes(sb) - before >= kill_after:
            time.sleep(rng.uniform(0.0, 0.02))
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.002)
    proc.wait(300)
    reader.join()
    if not killed and proc.returncode != 0:
        raise RuntimeError(f"target-emarsys failed with exit status {proc.returncode}")
    return (states[-1] if states else None), killed


def soak(records: int, kills: int, seed: int, workdir: Path, log: Any = print) -> SoakReport:
    """Run the kill-and-rerun soak and compare the destination with the source."""
    rng = random.Random(seed)
    report = SoakReport(records=records)
    # points in the first 90 % of the load, so every kill finds work left to interrupt
    report.kill_points = sorted(rng.sample(range(STATE_EVERY, records * 9 // 10), kills))
    started = time.monotonic()
    tables = {"purchases": {"columns": COLUMNS, "primary_key": ["order_id"]}}
    with Sandbox(
        contacts=10, seed=seed, rds_tables={"demo": tables}, db_path=str(workdir / "rds.sqlite")
    ) as sb:
        sb.faults.update(latency=0.002)
        config = workdir / "config.json"
        settings = {"rds_connection": "demo", "batch_size_rows": BATCH}
        config.write_text(json.dumps(sb.wsse_config(**settings)))
        input_path = workdir / "input.jsonl"
        resume = 0
        for point in [*report.kill_points, None]:
            write_input(input_path, resume, records)
            kill_after = None if point is None else max(1, (point - resume) // BATCH)
            last, killed = run_once(sb, config, input_path, kill_after, rng)
            report.runs += 1
            held = held_ids(sb)
            if last is not None:
                # every record a STATE covers was acknowledged before the STATE left the target
                missing = set(range(last + 1)) - set(held)
                if missing:
                    report.problems.append(f"run {report.runs}: {len(missing)} rows missing")
                resume = last + 1
            if killed:
                report.kills += 1
                report.covered_before_kill.append(resume)
                report.resent += max(0, len(held) - resume)
                log(
                    f"kill {report.kills}/{kills}: table held {len(held):,} rows, the last STATE "
                    f"covered {resume:,}; rerun from {resume:,}"
                )
        ids = held_ids(sb)
        rows = {r["order_id"]: r for r in sb.rds_rows("demo", "purchases")}
    report.seconds = time.monotonic() - started
    if sorted(ids) != list(range(records)):
        report.problems.append(f"table holds {len(ids)} rows, {len(set(ids))} distinct")
    wrong = [i for i in range(records) if i in rows and _differs(rows[i], row(i))]
    if wrong:
        report.problems.append(f"{len(wrong)} rows differ from the source, e.g. {wrong[:3]}")
    report.exact = not report.problems and report.kills == kills
    return report


def _differs(stored: dict[str, Any], source: dict[str, Any]) -> bool:
    for key, value in source.items():
        held = stored.get(key)
        if isinstance(value, float) and held is not None:
            if abs(float(held) - value) > 1e-9:
                return True
        elif held != value:
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 10_000)
    parser.add_argument("--quick", action="store_true", help="20,000 records, 3 kills")
    args = parser.parse_args()
    records, kills = (20_000, 3) if args.quick else (args.records, args.kills)
    shm = Path("/dev/shm")
    workdir = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    try:
        print(f"soak: {records:,} records, {kills} SIGKILLs, seed {args.seed}")
        report = soak(records, kills, args.seed, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{report.kills} kills, {report.runs} runs, {report.resent:,} rows stored past the last "
        f"STATE and resent, {report.seconds:.1f} s"
    )
    if report.exact:
        print(f"destination equals source: {records:,} rows, each once ({kills}/{kills} kills)")
    else:
        print("MISMATCH: " + "; ".join(report.problems or ["fewer kills than asked"]))
        sys.exit(1)


if __name__ == "__main__":
    main()
