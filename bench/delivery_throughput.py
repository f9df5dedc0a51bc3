"""File delivery: rows per second of one large export read via the API, WebDAV and SFTP.

One `email/getresponses` export of the whole synthetic range (2 rows per contact) is built once
per way; the timed part is reading all its rows (`EmarsysClient.export_rows`,
`WebDavDelivery.rows`, `SftpDelivery.rows`, all through the same `csv_rows`). The SFTP server is
asyncssh in this process (a real SSH server; OpenSSH would be faster), so the SFTP figure is a
lower bound.

    .venv/bin/python bench/delivery_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emarsys_api import ClientSettings, EmarsysClient
from emarsys_api.file_delivery import SftpDelivery, WebDavDelivery
from emarsys_api.sftp import SftpLogin
from emarsys_sandbox import Sandbox
from tests.helpers.sftp import SftpServer

BODY = {
    "time_range": ["2026-03-15", "2026-04-13"],
    "contact_fields": [1, 2, 3, 1000, 1001],
    "sources": ["mail_open", "trackable_links"],
    "analysis_fields": [1, 5, 8],
}


def timed(rows: Iterator[list[str]]) -> tuple[int, float]:
    """Data rows of a lazy row iterator (header excluded) and the seconds to read them all."""
    started = time.perf_counter()
    count = sum(1 for _ in rows)
    return count - 1, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 contacts instead of 200,000")
    contacts = 20_000 if parser.parse_args().quick else 200_000
    with tempfile.TemporaryDirectory() as tmp, Sandbox(contacts=contacts, seed=7) as sb:
        root = Path(tmp)
        (root / "exports").mkdir()
        server = SftpServer(root).start()
        s = server.settings()
        login = SftpLogin(
            "127.0.0.1", server.port, s["sftp_username"], s["sftp_password"], server.host_key
        )
        sftp = SftpDelivery(login, "/exports")
        c = sb.credentials
        webdav = WebDavDelivery(c["webdav_url"], c["webdav_username"], c["webdav_password"])
        client = EmarsysClient(ClientSettings.from_config(sb.wsse_config()))
        results = []
        for way in ("api", "webdav", "sftp"):
            body = {**BODY, **(sftp if way == "sftp" else webdav).export_body()}
            export_id = client.start_export("email/getresponses", body)
            status = client.wait_for_export(export_id, poll_interval=0.1, timeout=1800)
            if way == "api":
                rows, seconds = timed(client.export_rows(export_id))
            elif way == "webdav":
                rows, seconds = timed(webdav.rows(export_id, status))
            else:
                rows, seconds = timed(sftp.rows(export_id, status))
            results.append((way, rows, seconds))
        client.close()
        server.close()
    for way, rows, seconds in results:
        print(f"{way:7s} {rows:>9,d} rows in {seconds:6.2f} s = {rows / seconds:>9,.0f} rows/s")


if __name__ == "__main__":
    main()
