"""Where finished exports go besides the API download: Emarsys Storage, SFTP, notifications.

- `local` exports are also files in Emarsys Storage, reachable over WebDAV with their own
  credentials (docs/emarsys-api.md §4): `StorageApp` serves them read-only with basic auth
  (wsgidav), writing a file (header + data rows, as the download would send them) when it is first
  asked.
- `sftp` exports are uploaded by Emarsys to the server in `sftp_settings`; until that worked the
  status stays `ready` and is retried later (docs/emarsys-api.md §5.1: "retried after one hour").
- An export with `notification_url` gets "the same payload as the Check Export Status response"
  POSTed there when it finishes, "retried 5 times" (docs/emarsys-api.md §4; the method is not
  documented, POST is the sandbox's choice).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko
import requests
from wsgidav.wsgidav_app import WsgiDAVApp

from emarsys_sandbox.export_files import ExportFile, export_id_in, write_full_file

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("emarsys_sandbox")

STORAGE_MOUNT = "/storage"
EXPORT_FOLDER = "export"
NOTIFICATION_ATTEMPTS = 5
UPLOAD_TIMEOUT = 10.0


class Storage:
    """The Emarsys Storage folder of the account: finished `local` export files."""

    def __init__(self, directory: Path, username: str, password: str) -> None:
        self.root = directory
        self.folder = directory / EXPORT_FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        self.username = username
        self.password = password
        self._lock = threading.Lock()

    def publish(self, name: str, export: ExportFile, with_header: bool) -> Path:
        """Write the file once (to a temporary name, then renamed); its path."""
        path = self.folder / name
        with self._lock:
            if not path.exists():
                partial = path.with_suffix(".partial")
                with open(partial, "wb") as target:
                    write_full_file(export, with_header, target)
                os.replace(partial, path)
        return path


class StorageApp:
    """WebDAV (wsgidav) over `Storage`, read-only, basic auth; publishes files on demand.

    Args:
        storage: the folder served.
        resolve: file name -> (name, export file, with header) of a finished `local` export.
        finished: every finished `local` export, for folder listings.
    """

    def __init__(
        self,
        storage: Storage,
        resolve: Callable[[int], tuple[str, ExportFile, bool] | None],
        finished: Callable[[], Iterable[tuple[str, ExportFile, bool]]],
    ) -> None:
        self.storage = storage
        self.resolve = resolve
        self.finished = finished
        self.dav = WsgiDAVApp(
            {
                "provider_mapping": {"/": {"root": str(storage.root), "readonly": True}},
                "mount_path": STORAGE_MOUNT,
                "simple_dc": {
                    "user_mapping": {"*": {storage.username: {"password": storage.password}}}
                },
                "http_authenticator": {
                    "accept_basic": True,
                    "accept_digest": False,
                    "default_to_digest": False,
                },
                "dir_browser": {"enable": False},
                "lock_storage": False,
                "verbose": 0,
                "logging": {"enable": False},
            }
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        name = path.rsplit("/", 1)[-1]
        export_id = export_id_in(name)
        if export_id is not None:
            found = self.resolve(export_id)
            if found is not None and found[0] == name:
                self.storage.publish(*found)
        elif environ.get("REQUEST_METHOD") == "PROPFIND":
            for item in self.finished():
                self.storage.publish(*item)
        return self.dav(environ, start_response)


def upload_sftp(settings: dict[str, Any], name: str, export: ExportFile, with_header: bool) -> str:
    """Upload the export file to `sftp_settings` as Emarsys does; the remote path.

    Emarsys connects to the customer's server; it does not pin host keys the sandbox could
    know, so the key is accepted as offered (the tap's side is the one that verifies).
    """
    host = str(settings.get("host") or "")
    port = int(settings.get("port") or 22)
    folder = str(settings.get("folder") or ".").rstrip("/") or "."
    sock = socket.create_connection((host, port), timeout=UPLOAD_TIMEOUT)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = UPLOAD_TIMEOUT
        transport.connect(
            username=str(settings.get("username") or ""),
            password=str(settings.get("password") or ""),
        )
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        remote = f"{folder}/{name}"
        with sftp.open(remote, "wb") as target:
            target.set_pipelined(True)
            write_full_file(export, with_header, target)
        sftp.close()
        return remote
    finally:
        transport.close()


def describe_failure(exc: BaseException, settings: dict[str, Any]) -> str:
    """A status text for a failed upload (host named, password never)."""
    where = f"{settings.get('host')}:{settings.get('port') or 22}"
    if isinstance(exc, paramiko.AuthenticationException):
        return f"SFTP login to {where} refused"
    return f"SFTP upload to {where} failed: {type(exc).__name__}: {exc}"


def notify(url: str, payload: dict[str, Any], retry_delay: float, closing: threading.Event) -> bool:
    """POST the status payload, up to 5 attempts `retry_delay` apart; whether one succeeded."""
    for attempt in range(1, NOTIFICATION_ATTEMPTS + 1):
        try:
            reply = requests.post(url, json=payload, timeout=UPLOAD_TIMEOUT)
            if reply.status_code < 300:
                return True
            reason = f"HTTP {reply.status_code}"
        except requests.RequestException as exc:
            reason = type(exc).__name__
        log.info("export notification attempt %d to %s failed (%s)", attempt, url, reason)
        if attempt < NOTIFICATION_ATTEMPTS and closing.wait(retry_delay):
            return False
    return False


def wait_until(deadline: float, closing: threading.Event) -> bool:
    """Sleep until `deadline` (time.time); False if the sandbox closes first."""
    left = deadline - time.time()
    return not (left > 0 and closing.wait(left))
