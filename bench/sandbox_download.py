"""Is the sandbox fast enough not to be the bottleneck? Download vs. bare CSV parse.

Starts `emarsys-sandbox serve` in its own process, exports the contact list of all contacts
(1,000,000 rows; `--quick`: 100,000), then in one run:

1. downloads `GET /export/{id}/data` with `requests` streaming into nowhere;
2. parses the same bytes with `csv.reader` (a strict lower bound of any tap's parse time).

Prints both times and the ratio parse / download (goal: >= 3). Also prints how long the
sandbox took to produce the export file (that happens while the export is `in progress`).

    .venv/bin/python bench/sandbox_download.py [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import time
from datetime import datetime, timezone

import requests

from emarsys_sandbox.process import SandboxProcess

FIELDS = [1, 2, 3, 31, 1000]


def wsse(username: str, secret: str) -> dict[str, str]:
    """An X-WSSE header (docs/emarsys-api.md §2.1), written here: the bench trusts no client."""
    nonce = os.urandom(16).hex()
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(
        hashlib.sha1((nonce + created + secret).encode()).hexdigest().encode()
    ).decode()
    return {
        "X-WSSE": f'UsernameToken Username="{username}", PasswordDigest="{digest}", '
        f'Nonce="{nonce}", Created="{created}"'
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    parser.add_argument("--rows", type=int, default=None, help="explicit row count")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)

    started = time.perf_counter()
    with SandboxProcess("--contacts", str(rows)) as sandbox:
        info = sandbox.credentials
        startup = time.perf_counter() - started
        base, user, secret = info["base_url"], info["username"], info["secret"]
        body = {"distribution_method": "local", "contactlist": 101, "contact_fields": FIELDS}

        t0 = time.perf_counter()
        reply = requests.post(
            f"{base}/api/v2/email/getcontacts", json=body, headers=wsse(user, secret), timeout=60
        )
        export_id = reply.json()["data"]["id"]
        while True:
            status = requests.get(
                f"{base}/api/v2/export/{export_id}", headers=wsse(user, secret), timeout=600
            ).json()["data"]["status"]
            if status == "done":
                break
            time.sleep(0.2)
        produce = time.perf_counter() - t0

        url = f"{base}/api/v2/export/{export_id}/data"
        t0 = time.perf_counter()
        size = 0
        with requests.get(url, headers=wsse(user, secret), stream=True, timeout=600) as r:
            for chunk in r.iter_content(1 << 20):
                size += len(chunk)
        download = time.perf_counter() - t0

        payload = requests.get(url, headers=wsse(user, secret), timeout=600).content
        t0 = time.perf_counter()
        parsed = sum(1 for _ in csv.reader(io.StringIO(payload.decode("utf-8"), newline="")))
        parse = time.perf_counter() - t0

    assert parsed == rows + 1, (parsed, rows)
    print(f"sandbox start-up (process, {rows:,} contacts): {startup:6.2f} s")
    print(f"export produced (scheduled -> done):          {produce:6.2f} s")
    print(f"download {size / 1e6:7.1f} MB, {rows:,} rows:           {download:6.2f} s")
    print(f"csv.reader parse of the same bytes:           {parse:6.2f} s")
    print(f"ratio parse / download:                       {parse / download:6.1f}x (goal >= 3x)")


if __name__ == "__main__":
    main()
