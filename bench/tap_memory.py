"""Memory: peak RSS of tap-emarsys for a 1,000,000-row export vs a 10,000-row export.

Both runs are real `tap-emarsys` processes (only `email_responses` selected, one export of the
whole range, Singer output to /dev/null) against CLI sandboxes; the peak RSS is the tap
process's own (`wait4`). Rows stream from the HTTP response through `csv.reader` to the writer,
so the peak should not grow with the export. Goal: large / small <= 1.25x (issue 3).

    .venv/bin/python bench/tap_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import sys

from tap_common import TapRun, cli_sandbox, tap_config


def peak_kib(contacts: int) -> tuple[int, float, int]:
    """Run the tap once against a sandbox of `contacts` (2 responses each).

    Returns:
        (rows, seconds, peak RSS in KiB).
    """
    with cli_sandbox("--contacts", str(contacts), "--seed", "7") as credentials:
        config = tap_config(
            credentials,
            start_date="2026-03-15",
            end_date="2026-04-13",
            export_window_days=31,
            export_poll_interval=0.05,
            export_timeout=1800,
            contact_fields=[1, 2, 3, 1000, 1001, 1002, 1003],
        )
        run = TapRun(config, {"email_responses"})
        try:
            seconds, peak = run.run()
        finally:
            run.close()
    return 2 * contacts, seconds, peak


def main() -> None:
    """Measure both sizes in one run and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows instead of 1,000,000")
    args = parser.parse_args()
    small = peak_kib(5_000)
    large = peak_kib(100_000 if args.quick else 500_000)
    for rows, seconds, peak in (small, large):
        print(f"{rows:>9,} rows: peak RSS {peak / 1024:6.1f} MiB ({seconds:.1f} s)")
    print(f"ratio large / small: {large[2] / small[2]:.3f}x (goal <= 1.25x)")


if __name__ == "__main__":
    sys.exit(main())
