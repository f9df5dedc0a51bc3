"""Concurrency: 8 export windows with a 2 s export build, 4 exports at once vs 1 at a time.

A CLI sandbox answers every export `done` only 2 s after it was started (`--export-delay 2`).
The tap (only `contact_registrations` selected, 8 one-day windows) runs once with
`max_concurrent_exports=4` and once with `=1`; records still leave in window order in both.
Goal: wall time at 4 <= 0.4x wall time at 1 (issue 3).

    .venv/bin/python bench/tap_concurrency.py [--quick]
"""

from __future__ import annotations

import argparse
import sys

from tap_common import TapRun, cli_sandbox, tap_config


def main() -> None:
    """Measure both settings in one run and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1 s export delay instead of 2 s")
    args = parser.parse_args()
    delay = "1" if args.quick else "2"
    with cli_sandbox("--contacts", "2000", "--seed", "7", "--export-delay", delay) as credentials:
        timings = {}
        for concurrent in (1, 4):
            config = tap_config(
                credentials,
                start_date="2026-03-20",
                end_date="2026-03-28",
                export_window_days=1,
                max_concurrent_exports=concurrent,
                export_poll_interval=0.1,
            )
            run = TapRun(config, {"contact_registrations"})
            try:
                timings[concurrent], _ = run.run()
            finally:
                run.close()
    print(f"8 windows, export delay {delay} s")
    print(f"max_concurrent_exports=1: {timings[1]:.2f} s")
    print(f"max_concurrent_exports=4: {timings[4]:.2f} s")
    print(f"ratio 4 / 1: {timings[4] / timings[1]:.2f}x (goal <= 0.4x)")


if __name__ == "__main__":
    sys.exit(main())
