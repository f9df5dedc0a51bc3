"""The sandbox as Emarsys delivers: SFTP uploads (stay `ready` on failure), Storage, callbacks."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from emarsys_api import ClientSettings, EmarsysClient
from emarsys_sandbox import Sandbox
from tests.helpers.ports import free_port
from tests.helpers.sftp import SFTP_PASSWORD, SFTP_USER, SftpServer

BODY = {"contactlist": 101, "contact_fields": [1, 2, 3]}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=30, seed=3, sftp_retry_interval=0.2) as sandbox:
        yield sandbox


@pytest.fixture
def client(sb: Sandbox) -> Iterator[EmarsysClient]:
    with EmarsysClient(ClientSettings.from_config(sb.wsse_config())) as c:
        yield c


def _sftp_body(server: SftpServer, **settings: Any) -> dict[str, Any]:
    sftp = {
        "host": "127.0.0.1",
        "port": str(server.port),
        "username": SFTP_USER,
        "password": SFTP_PASSWORD,
        "folder": "/exports",
        **settings,
    }
    return {**BODY, "distribution_method": "sftp", "sftp_settings": sftp}


def _settle(client: EmarsysClient, export_id: int, seconds: float = 1.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    status = client.export_status(export_id)
    while status["status"] != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.export_status(export_id)
    return status


def test_sftp_export_is_uploaded_then_done(
    sb: Sandbox, client: EmarsysClient, sftp_server: SftpServer
) -> None:
    export_id = client.start_export("email/getcontacts", _sftp_body(sftp_server))
    status = _settle(client, export_id, 10)
    assert status["status"] == "done" and status["distribution_error"] is None
    assert (status["ftp_host"], status["ftp_dir"]) == ("127.0.0.1", "/exports")
    uploaded = (sftp_server.root / "exports" / status["file_name"]).read_bytes()
    local = client.start_export("email/getcontacts", {**BODY, "distribution_method": "local"})
    client.wait_for_export(local, poll_interval=0.05, timeout=10)
    rows = list(csv.reader(io.StringIO(uploaded.decode(), newline="")))
    assert rows == list(client.export_rows(local))  # the same CSV as the API download
    assert uploaded.startswith(b"user_id,First Name,Last Name,E-Mail\r\n")


def test_wrong_password_leaves_the_export_ready_with_the_reason(
    sb: Sandbox, client: EmarsysClient, sftp_server: SftpServer
) -> None:
    export_id = client.start_export("email/getcontacts", _sftp_body(sftp_server, password="not-it"))
    status = _settle(client, export_id)
    assert status["status"] == "ready" and status["file_name"] is None
    assert "login" in status["distribution_error"] and "not-it" not in json.dumps(status)
    assert list((sftp_server.root / "exports").iterdir()) == []


def test_unreachable_host_stays_ready_across_retries(
    sb: Sandbox, client: EmarsysClient, sftp_server: SftpServer
) -> None:
    body = _sftp_body(sftp_server, port=str(free_port()))
    export_id = client.start_export("email/getcontacts", body)
    status = _settle(client, export_id, 0.5)
    assert status["status"] == "ready" and "failed" in status["distribution_error"]
    # The retry (sftp_retry_interval) uses the same settings: still ready, never `done`.
    assert _settle(client, export_id, 0.5)["status"] == "ready"


class _Callbacks(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    refuse_first = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length))
        if _Callbacks.refuse_first > 0:
            _Callbacks.refuse_first -= 1
            self.send_response(503)
        else:
            _Callbacks.received.append(payload)
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_notification_is_posted_with_the_status_payload_and_retried() -> None:
    _Callbacks.received, _Callbacks.refuse_first = [], 2
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Callbacks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/done"
    try:
        with Sandbox(contacts=20, export_delay=0.1, notification_retry_delay=0.05) as sb:
            c = EmarsysClient(ClientSettings.from_config(sb.wsse_config()))
            body = {**BODY, "distribution_method": "local", "notification_url": url}
            export_id = c.start_export("email/getcontacts", body)
            deadline = time.monotonic() + 10
            while not _Callbacks.received and time.monotonic() < deadline:
                time.sleep(0.02)
            [payload] = _Callbacks.received
            assert payload["replyCode"] == 0
            assert payload["data"]["id"] == str(export_id)
            assert payload["data"]["status"] == "done" and payload["data"]["file_name"]
            c.close()
    finally:
        server.shutdown()
        server.server_close()


def test_storage_lists_finished_exports_and_refuses_writes(
    sb: Sandbox, client: EmarsysClient
) -> None:
    export_id = client.start_export("email/getcontacts", {**BODY, "distribution_method": "local"})
    name = client.wait_for_export(export_id, poll_interval=0.05, timeout=10)["file_name"]
    c = sb.credentials
    auth = (c["webdav_username"], c["webdav_password"])
    listing = requests.request(
        "PROPFIND", c["webdav_url"] + "/", auth=auth, headers={"Depth": "1"}, timeout=10
    )
    assert listing.status_code == 207 and name in listing.text
    put = requests.put(c["webdav_url"] + "/x.csv", data=b"a", auth=auth, timeout=10)
    assert put.status_code in (403, 405)
    assert requests.get(c["webdav_url"] + "/" + name, timeout=10).status_code == 401
