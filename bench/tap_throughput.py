"""Throughput: tap-emarsys end to end vs the least a client must do over HTTP, same sandbox.

The tap runs as a subprocess (`tap-emarsys --config ... --catalog ...`, only `email_responses`
selected, Singer output to /dev/null) against a CLI sandbox: export, poll, download, parse,
type, write. The floor does the least any client must do against the same sandbox, in this
process: start the export (one `requests.Session`, WSSE), poll its status at the tap's
interval, stream the download, `csv.reader` over it, the very same column converters, and
Singer RECORD lines with `orjson` to /dev/null. The server's cost (building and serving the
export) is in both figures. Goal: tap time <= 1.25x floor time for one 200,000-row export.
The sandbox runs without its rate limit: pacing is not what is measured.

    .venv/bin/python bench/tap_throughput.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time

import orjson
import requests
from installed import compile_packages
from tap_common import TapRun, cli_sandbox, tap_config

from emarsys_api import ExportType, wsse_header
from tap_emarsys.account import Account
from tap_emarsys.records import Column, RecordTyper, as_integer
from tap_emarsys.streams import EmailResponsesStream

START, END = "2026-03-15", "2026-04-13"
POLL = 0.02  # seconds between status polls, the tap's `export_poll_interval` here too


def http_floor(config: dict) -> tuple[int, float, float]:
    """One export over HTTP, parsed, typed and written as Singer lines to /dev/null.

    Returns:
        (data rows, seconds from starting the export to the last line written, CPU seconds of
        this process meanwhile).
    """
    account = Account(config)  # contact fields and zone: settings, not per-run work
    fields = account.contact_fields
    body = {
        "distribution_method": "local",
        "contact_fields": [field.id for field in fields],
        "language": "en",
        "add_field_names_header": 1,
        "delimiter": ",",
        **EmailResponsesStream.body_extras,
        "time_range": [f"{START} 00:00:00", f"{END} 00:00:00"],
    }
    api = f"{config['base_url'].rstrip('/')}/api/v2"
    session = requests.Session()

    def headers() -> dict[str, str]:
        return {"X-WSSE": wsse_header(config["username"], config["secret"])}

    count = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    reply = session.post(f"{api}/{ExportType.EMAIL_RESPONSES.value}", json=body, headers=headers())
    export_id = int(reply.json()["data"]["id"])
    while (
        session.get(f"{api}/export/{export_id}", headers=headers()).json()["data"]["status"]
        != "done"
    ):
        time.sleep(POLL)
    with (
        session.get(f"{api}/export/{export_id}/data", headers=headers(), stream=True) as response,
        open("/dev/null", "wb") as sink,
    ):
        response.raise_for_status()
        response.raw.decode_content = True
        rows = csv.reader(io.TextIOWrapper(response.raw, encoding="utf-8", newline=""))
        header = next(rows)
        typer = RecordTyper(floor_columns(account, header))
        dumps = orjson.dumps
        write = sink.write
        for record in typer.records(rows):
            write(dumps({"type": "RECORD", "stream": "email_responses", "record": record}))
            write(b"\n")
            count += 1
    return count, time.perf_counter() - started, time.process_time() - cpu_started


def floor_columns(account: Account, header: list[str]) -> list:
    """The tap's column plan for this header (same converters, every column kept)."""
    columns: list = [Column("contact_id", as_integer)]
    fields = account.contact_fields
    for field in fields:
        columns.append(Column(field.property_name, field.converter))
    extras = {extra.label.casefold(): extra for extra in EmailResponsesStream.extra_columns}
    for label in header[1 + len(fields) :]:
        extra = extras[label.casefold()]
        columns.append(Column(extra.property_name, extra.converter(account)))
    return columns


def main() -> None:
    """Measure floor and tap in turns, `--repeat` times, and print each ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows instead of 200,000")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of floor + tap runs")
    parser.add_argument(
        "--all", action="store_true", help="also the tap at its defaults (7-day windows)"
    )
    args = parser.parse_args()
    compile_packages("emarsys_api", "emarsys_singer", "tap_emarsys")
    contacts = 10_000 if args.quick else 100_000  # two responses per contact
    runs = {"one export (31-day window)": {"export_window_days": 31, "max_concurrent_exports": 1}}
    if args.all:
        runs["defaults (7-day windows, 4 at once)"] = {}
    sandbox = ("--contacts", str(contacts), "--seed", "7", "--rate-limit", "off")
    with cli_sandbox(*sandbox) as credentials:
        config = tap_config(
            credentials,
            start_date=START,
            end_date=END,
            export_poll_interval=POLL,
            contact_fields=[1, 2, 3, 1000, 1001, 1002, 1003],
        )
        taps = {
            label: TapRun({**config, **settings}, {"email_responses"})
            for label, settings in runs.items()
        }
        floors: list[float] = []
        best: dict[str, float] = {}
        try:
            for round_number in range(1, args.repeat + 1):
                rows, floor_seconds, floor_cpu = http_floor(config)
                floors.append(floor_seconds)
                line = (
                    f"round {round_number}: {rows} rows; floor over HTTP {floor_seconds:.2f} s "
                    f"(CPU {floor_cpu:.2f} s)"
                )
                for label, run in taps.items():
                    seconds, _ = run.run()
                    best[label] = min(best.get(label, seconds), seconds)
                    line += (
                        f"; tap, {label}: {seconds:.2f} s = {seconds / floor_seconds:.2f}x "
                        f"(CPU {run.cpu_seconds:.2f} s = {run.cpu_seconds / floor_cpu:.2f}x)"
                    )
                print(line, flush=True)
            for label, seconds in best.items():
                print(
                    f"best of {args.repeat}: tap, {label} {seconds:.2f} s / floor "
                    f"{min(floors):.2f} s = {seconds / min(floors):.2f}x (goal: one export "
                    "<= 1.25x)"
                )
        finally:
            for run in taps.values():
                run.close()


if __name__ == "__main__":
    sys.exit(main())
