"""CPU cost of target-emarsys: 200,000 records into a sandbox RDS table, against a floor.

The floor parses the same Singer lines with orjson and posts the same 1000-row JSON bodies to
the same upsert endpoint with one `requests.Session`: what any loader must at least do. The
target runs as a subprocess with record validation on. Goal: target CPU time <= 2x floor CPU
time, CPU time being user + system time of that process alone (`getrusage(RUSAGE_CHILDREN)`
around each run: the sandbox's own work, and waiting for it, count on neither side). Wall
times are printed too. The machine is shared, so both sides run in alternating rounds (3 by
default, each into fresh tables) and the best of each side counts; the median of the rounds'
ratios is printed too.

    .venv/bin/python bench/target_throughput.py [--quick] [--records N] [--rounds N]
    .venv/bin/python bench/target_throughput.py --instructions [--records N]

CPU time on a shared (virtual) machine varies by a fifth from one run to the next. With
`--instructions` each side runs once under valgrind's callgrind instead, and the ratio is of the
instructions each executed (user space, every thread): the same from run to run, and blind to
what instructions cost (cache misses, thread switches), which CPU time includes. It needs
`valgrind` on PATH (Debian: `apt install valgrind`) and takes minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from installed import compile_packages
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


def children_cpu() -> float:
    """User + system seconds of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_target(config_path: Path, input_path: Path) -> tuple[float, float, int]:
    """CPU and wall seconds of one target-emarsys run, and the STATE lines it wrote."""
    cpu, started = children_cpu(), time.perf_counter()
    with input_path.open("rb") as stdin:
        target = subprocess.run(
            [str(BIN / "target-emarsys"), "--config", str(config_path)],
            stdin=stdin,
            capture_output=True,
            check=False,
        )
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
    if target.returncode != 0:
        sys.stderr.write(target.stderr.decode()[-3000:])
        raise SystemExit(f"target-emarsys failed with exit code {target.returncode}")
    states = len([line for line in target.stdout.decode().splitlines() if line.strip()])
    return cpu, seconds, states


def instructions(command: list[str], input_path: Path) -> int:
    """Instructions `command` executed (all threads), counted by valgrind's callgrind."""
    with input_path.open("rb") as stdin:
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
            stdin=stdin,
            capture_output=True,
            check=False,
        )
    found = re.search(rb"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        sys.stderr.write(run.stderr.decode()[-3000:])
        raise SystemExit(f"{command[1]} failed under valgrind (exit code {run.returncode})")
    return int(found.group(1))


def count_instructions(count: int) -> None:
    """`--instructions`: one run of each side under callgrind, and their ratio."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind on PATH (Debian: apt install valgrind)")
    input_path = write_singer_input(OUT / f"target_throughput_{count}.jsonl", count)
    with sandbox_process(
        "--rate-limit", "off", tables=("target_rows", "floor_rows")
    ) as credentials:
        config_path = OUT / "target_throughput_config_instructions.json"
        config_path.write_text(json.dumps(target_config(credentials, table="target_rows")))
        python = str(BIN / "python")
        target = instructions(
            [python, str(BIN / "target-emarsys"), "--config", str(config_path)], input_path
        )
        floor_side = instructions(
            [python, __file__, "--floor", str(config_path), str(input_path), "floor_rows"],
            input_path,
        )
        counts = {t: len(table_rows(credentials, t)) for t in ("target_rows", "floor_rows")}
    print(f"records:                   {count:,}")
    print(f"target-emarsys:            {target / 1e9:6.2f} G instructions")
    print(f"floor (orjson):            {floor_side / 1e9:6.2f} G instructions")
    print(f"instruction ratio target/floor: {target / floor_side:.2f}x  (CPU-time goal <= 2x)")
    if set(counts.values()) != {count}:
        raise SystemExit(f"row counts differ from the records sent: {counts}")


def run_floor(config_path: Path, input_path: Path, table: str) -> tuple[float, float]:
    """CPU and wall seconds of one floor run (a subprocess too: both pay interpreter start-up)."""
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--floor", str(config_path), str(input_path), table],
        check=True,
    )
    return children_cpu() - cpu, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 records, one round")
    parser.add_argument("--records", type=int)
    parser.add_argument(
        "--rounds", type=int, help="alternating target/floor rounds; the best of each counts"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind (one run of each side) instead of CPU time",
    )
    parser.add_argument(
        "--floor", nargs=3, metavar=("CONFIG", "INPUT", "TABLE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.floor:
        floor(Path(args.floor[0]), Path(args.floor[1]), args.floor[2])
        return
    count = args.records or (20_000 if args.quick else 200_000)
    compile_packages("emarsys_api", "emarsys_singer", "target_emarsys")
    if args.instructions:
        count_instructions(count)
        return
    rounds = args.rounds or (1 if args.quick else 3)
    input_path = write_singer_input(OUT / f"target_throughput_{count}.jsonl", count)
    tables = [f"{side}_rows_{i}" for i in range(rounds) for side in ("target", "floor")]
    target_cpu: list[float] = []
    floor_cpu: list[float] = []
    target_wall: list[float] = []
    floor_wall: list[float] = []
    # CPU cost, not pacing (that is target_ratelimit.py): the sandbox's default of 1000
    # requests a minute would answer the floor's requests of later rounds with 429.
    with sandbox_process("--rate-limit", "off", tables=tuple(tables)) as credentials:
        # Each round writes fresh tables, so both sides always insert (never update).
        for i in range(rounds):
            config_path = OUT / f"target_throughput_config_{i}.json"
            config_path.write_text(json.dumps(target_config(credentials, table=f"target_rows_{i}")))
            cpu, seconds, states = run_target(config_path, input_path)
            target_cpu.append(cpu)
            target_wall.append(seconds)
            cpu, seconds = run_floor(config_path, input_path, f"floor_rows_{i}")
            floor_cpu.append(cpu)
            floor_wall.append(seconds)
        counts = {table: len(table_rows(credentials, table)) for table in tables}

    def rounds_text(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in times)

    best_target, best_floor = min(target_cpu), min(floor_cpu)
    print(f"records:            {count:,}, rounds: {rounds} (best of each side counts)")
    print(
        f"target-emarsys CPU: {best_target:6.2f} s  (rounds {rounds_text(target_cpu)}; wall "
        f"{rounds_text(target_wall)}; {states} STATE lines)"
    )
    print(
        f"floor (orjson) CPU: {best_floor:6.2f} s  (rounds {rounds_text(floor_cpu)}; wall "
        f"{rounds_text(floor_wall)})"
    )
    print(f"CPU ratio target/floor:  {best_target / best_floor:.2f}x  (goal <= 2x)")
    # Each round's two runs are neighbours in time: their ratio is less moved by the machine
    # speeding up or slowing down between rounds than the best of each side is.
    ratios = sorted(t / f for t, f in zip(target_cpu, floor_cpu, strict=True))
    print(
        f"CPU ratio of each round: median {statistics.median(ratios):.2f}x "
        f"(from {ratios[0]:.2f}x to {ratios[-1]:.2f}x)"
    )
    print(f"wall ratio target/floor: {min(target_wall) / min(floor_wall):.2f}x")
    if set(counts.values()) != {count}:
        raise SystemExit(f"row counts differ from the records sent: {counts}")


if __name__ == "__main__":
    main()
