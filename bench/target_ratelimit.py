"""target-emarsys against the rate limit: does it keep the pipe full without dying on 429?

The sandbox answers with 50 ms latency and allows 120 requests per 10 s per API user (fixed
windows, the docs/emarsys-api.md §3.3 headers on every reply). The ceiling is
120 x 1000 rows / 10 s = 12,000 rows/s; the target should sustain at least 90% of it, and no
429 may end the run.
`--quick` keeps the same ceiling with 24 requests per 2 s windows.

Under fixed windows a run's first window is a free burst, so the figure that matters is the
steady rate: a full window's rows per (window + the idle gap before the next window starts).

    .venv/bin/python bench/target_ratelimit.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from target_sandbox import (
    BIN,
    OUT,
    request_log,
    sandbox_process,
    table_rows,
    target_config,
    write_singer_input,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s windows of 24 requests")
    parser.add_argument("--windows", type=int, default=5, help="windows' worth of rows to send")
    args = parser.parse_args()
    limit, window = (24, 2.0) if args.quick else (120, 10.0)
    ceiling = limit * 1000 / window
    count = limit * 1000 * args.windows
    input_path = write_singer_input(OUT / f"target_ratelimit_{count}.jsonl", count)
    extra = ["--rate-limit", str(limit), "--rate-window", str(window)]
    with sandbox_process(*extra) as credentials:
        base = credentials["base_url"]
        requests.post(
            f"{base}/_sandbox/faults", json={"latency": 0.05}, timeout=10
        ).raise_for_status()
        config_path = OUT / "target_ratelimit_config.json"
        config_path.write_text(json.dumps(target_config(credentials)))
        started = time.time()
        with input_path.open("rb") as stdin:
            target = subprocess.run(
                [str(BIN / "target-emarsys"), "--config", str(config_path)],
                stdin=stdin,
                capture_output=True,
                check=False,
            )
        elapsed = time.time() - started
        log = request_log(credentials)
        written = len(table_rows(credentials, "target_rows"))
    if target.returncode != 0:
        sys.stderr.write(target.stderr.decode()[-3000:])
        raise SystemExit(f"target-emarsys failed with exit code {target.returncode}")
    writes = [r for r in log if "/records" in str(r.get("path", ""))]
    throttled = [r for r in writes if r.get("status") == 429]
    accepted = [r for r in writes if r.get("status") == 200]
    times = sorted(datetime.fromisoformat(r["time"]).timestamp() for r in accepted)
    print(f"rows sent / in table:  {count:,} / {written:,}")
    print(
        f"write requests:        {len(accepted)} accepted, {len(throttled)} answered 429 (retried)"
    )
    print(f"wall time:             {elapsed:.1f} s, overall {count / elapsed:,.0f} rows/s")
    if times:
        # Fixed windows restart on the first request after one expires; a client that fills
        # every window runs at limit / (window + gap), gap = expiry -> its next request.
        starts, counts, gaps = [times[0]], [0], []
        for moment in times:
            if moment >= starts[-1] + window:
                gaps.append(moment - (starts[-1] + window))
                starts.append(moment)
                counts.append(0)
            counts[-1] += 1
        print(f"requests per window:   {counts} (limit {limit})")
        if gaps:
            gap = sum(gaps) / len(gaps)
            rate = limit * 1000 / (window + gap)
            print(
                f"steady rate:           {rate:,.0f} rows/s = {rate / ceiling:.0%} of ceiling "
                f"{ceiling:,.0f} rows/s (mean gap after a window {gap:.2f} s; goal >= 90%)"
            )
    print(f"overall vs ceiling:    {count / elapsed / ceiling:.0%}")
    if written != count:
        raise SystemExit("rows in the table differ from the rows sent")


if __name__ == "__main__":
    main()
