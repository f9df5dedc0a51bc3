"""Throughput: tap-emarsys end to end vs a floor that only parses, types and writes the CSV.

The tap runs as a subprocess (`tap-emarsys --config ... --catalog ...`, only `email_responses`
selected, Singer output to /dev/null) against a CLI sandbox: export, poll, download, parse,
type, write. The floor reads the same CSV from a local file with `csv.reader`, applies the very
same column converters and writes Singer RECORD lines with `orjson` to /dev/null. Goal: tap time
<= 3x floor time (issue 3).

    .venv/bin/python bench/tap_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import orjson
from tap_common import TapRun, cli_sandbox, tap_config

from emarsys_api import ClientSettings, EmarsysClient, ExportType
from tap_emarsys.account import Account
from tap_emarsys.records import Column, RecordTyper, as_integer
from tap_emarsys.streams import EmailResponsesStream

START, END = "2026-03-15", "2026-04-13"


def download_csv(config: dict, path: Path) -> tuple[int, float]:
    """Run the export of the whole range once and store its CSV.

    Returns:
        (data rows, seconds Emarsys (the sandbox) took to build the export: start to `done`).
    """
    account = Account(config)
    client = EmarsysClient(ClientSettings.from_config(config))
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
    started = time.perf_counter()
    export_id = client.start_export(ExportType.EMAIL_RESPONSES, body)
    client.wait_for_export(export_id, poll_interval=0.02, timeout=600)
    build = time.perf_counter() - started
    count = -1
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        for row in client.export_rows(export_id):
            writer.writerow(row)
            count += 1
    return count, build


def floor(config: dict, path: Path) -> float:
    """csv.reader + the tap's converters + orjson to /dev/null; returns seconds."""
    account = Account(config)
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as source, open("/dev/null", "wb") as sink:
        rows = csv.reader(source)
        header = next(rows)
        columns = floor_columns(account, header)
        typer = RecordTyper(columns)
        dumps = orjson.dumps
        write = sink.write
        for record in typer.records(rows):
            write(dumps({"type": "RECORD", "stream": "email_responses", "record": record}))
            write(b"\n")
    return time.perf_counter() - started


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
    """Measure both sides in one run and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows instead of 200,000")
    args = parser.parse_args()
    contacts = 10_000 if args.quick else 100_000  # two responses per contact
    runs = {
        "one export (31-day window)": {"export_window_days": 31, "max_concurrent_exports": 1},
        "defaults (7-day windows, 4 at once)": {},
        "7-day windows, 1 at once": {"max_concurrent_exports": 1},
    }
    with cli_sandbox("--contacts", str(contacts), "--seed", "7") as credentials:
        config = tap_config(
            credentials,
            start_date=START,
            end_date=END,
            export_poll_interval=0.02,
            contact_fields=[1, 2, 3, 1000, 1001, 1002, 1003],
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "responses.csv"
            rows, build_seconds = download_csv(config, path)
            floor_seconds = floor(config, path)
            timings = {}
            for label, settings in runs.items():
                run = TapRun({**config, **settings}, {"email_responses"})
                try:
                    timings[label], _ = run.run()
                finally:
                    run.close()
    print(f"rows: {rows}; the sandbox builds the one-export file in {build_seconds:.2f} s")
    print(f"floor (csv.reader + the tap's converters + orjson): {floor_seconds:.2f} s")
    for label, seconds in timings.items():
        print(f"tap-emarsys end to end, {label}: {seconds:.2f} s = {seconds / floor_seconds:.2f}x")
    own = timings["one export (31-day window)"] - build_seconds
    print(
        f"one export without the sandbox's build time: {own:.2f} s = "
        f"{own / floor_seconds:.2f}x (goal for end to end: <= 3x)"
    )


if __name__ == "__main__":
    sys.exit(main())
