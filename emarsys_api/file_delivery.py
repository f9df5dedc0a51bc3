"""File delivery of finished exports: Emarsys Storage over WebDAV, or the user's SFTP server.

`GET /export/{id}/data` is one way to get an export's CSV. An export can instead stay in Emarsys
Storage (`local`, also reachable over WebDAV with its own credentials) or be uploaded by Emarsys
to the user's SFTP server (`sftp`, docs/emarsys-api.md §4.2); accounts with large exports use
these. Either file goes through the same `csv_rows` as the API download, so rows and their order
do not depend on the way the file travelled.

A file that is missing, or shorter than a complete export (its last row has no line break yet,
e.g. an upload still running), is fetched again a bounded number of times; rows already handed
out are skipped on the next attempt, so none is lost or repeated.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

import requests

from emarsys_api.exports import DROPPED_CONNECTION, RowsHandedOut, csv_rows, damaged_csv
from emarsys_api.sftp import (
    CONNECT_TIMEOUT,
    DeliveryAuthError,
    DeliveryError,
    FileMissingError,
    HostKeyError,
    SecretText,
    SftpLogin,
)

if TYPE_CHECKING:
    import paramiko

__all__ = [
    "DeliveryAuthError",
    "DeliveryError",
    "FileDelivery",
    "FileMissingError",
    "HostKeyError",
    "SecretText",
    "SftpDelivery",
    "WebDavDelivery",
]

logger = logging.getLogger("emarsys_api")

REFETCH_ATTEMPTS = 5
REFETCH_WAIT = 2.0
READ_BUFFER = 1 << 16


class _Missing(Exception):
    """This attempt found no file (or an incomplete one); fetch again."""


class FileDelivery(Protocol):
    """How an export's file reaches the tap: what the export body says, and how to read it."""

    method: str
    downloaded_bytes: int  # file bytes read so far, for the tap's summaries

    def export_body(self) -> dict[str, Any]:
        """Body fields the export request needs (`distribution_method`, `sftp_settings`)."""
        ...

    def rows(
        self, export_id: int, status: Mapping[str, Any], *, delimiter: str = ","
    ) -> Iterator[list[str]]:
        """The finished export's CSV rows, header first, parsed like the API download."""
        ...

    def check_connection(self) -> None:
        """Log in once and look at the folder, so wrong settings fail before any export."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class _TailTracker(io.RawIOBase):
    """Reads through to a source, remembering the byte count and the last byte seen.

    The end of the file is final: a file still being written can grow after a read has come
    back empty, and reading on would glue a cut row to the rest of it.
    """

    def __init__(self, source: Any, counted: Callable[[int], None]) -> None:
        self.source = source
        self.counted = counted
        self.size = 0
        self.last = b""
        self.ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.ended:
            return 0
        data = self.source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n:
            self.size += n
            self.last = data[-1:]
            self.counted(n)
        else:
            self.ended = True
        return n


@dataclass
class _Fetcher:
    """The bounded re-fetch loop shared by both ways (header first, then data rows).

    Retry layers: 3 of 4, a missing or incomplete file fetched again (the others: each request
    in `transport.Transport._retrying`, download resume in `exports.export_rows`, export
    re-request in `tap_emarsys.export_runner`).
    """

    export_id: int
    host: str
    path: str
    attempts: int
    wait: float
    counted: Callable[[int], None] = lambda size: None  # bytes read, as they arrive

    def rows(
        self, open_file: Callable[[], AbstractContextManager[Any]], delimiter: str
    ) -> Iterator[list[str]]:
        handed: RowsHandedOut[list[str]] = RowsHandedOut()  # rows, header included
        reason = "not found"
        for attempt in range(1, self.attempts + 1):
            try:
                with open_file() as source:
                    yield from handed.fresh(self._complete_rows(source, delimiter))
                    return
            except _Missing as missing:
                reason = str(missing)
            except DROPPED_CONNECTION as exc:
                reason = f"the connection dropped ({type(exc).__name__})"
            if attempt < self.attempts:
                logger.warning(
                    "export %s: host %s, path %s %s; fetching again in %.1f s (attempt %d of %d)",
                    self.export_id,
                    self.host,
                    self.path,
                    reason,
                    self.wait,
                    attempt + 1,
                    self.attempts,
                )
                time.sleep(self.wait)
        raise FileMissingError(
            f"the file is {reason} after {self.attempts} attempts",
            host=self.host,
            path=self.path,
            export_id=self.export_id,
            hint="Check that Emarsys delivers this export there (status `done`, file_name) "
            "and that nothing else removes files from that folder; then rerun.",
        )

    def _complete_rows(self, source: Any, delimiter: str) -> Iterator[list[str]]:
        """The rows of one read, held back by one: the last row is complete only at a line break.

        Raises:
            _Missing: the file is empty or ends inside a row (an upload still running).
        """
        tracker = _TailTracker(source, self.counted)
        reader = csv_rows(io.BufferedReader(tracker, READ_BUFFER), delimiter)
        held: list[str] | None = None
        read = 0
        try:
            for row in reader:
                if held is not None:
                    yield held
                held = row
                read += 1
        except (csv.Error, UnicodeDecodeError) as exc:
            # A file cut inside a quoted cell trips `csv` before the tail check.
            if tracker.size and tracker.last != b"\n" and tracker.ended:
                raise _Missing(f"incomplete ({tracker.size} bytes, ends inside a row)") from None
            where = f"{self.host}:{self.path}"
            raise damaged_csv(exc, self.export_id, max(read - 2, 0), where) from None
        if tracker.size == 0 or tracker.last != b"\n":
            raise _Missing(f"incomplete ({tracker.size} bytes, no final line break)")
        if held is not None:
            yield held


class WebDavDelivery:
    """Exports kept in Emarsys Storage (`local`), read over WebDAV with their own credentials."""

    method = "local"

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        attempts: int = REFETCH_ATTEMPTS,
        wait: float = REFETCH_WAIT,
        timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        """Bind to a WebDAV folder.

        Args:
            url: the folder the export files appear in (`webdav_url`).
            username: `webdav_username`.
            password: `webdav_password`.
            attempts: fetches of a missing or incomplete file before giving up.
            wait: seconds between them.
            timeout: connect and read timeout in seconds.
        """
        self.url = url.rstrip("/")
        self.host = urlsplit(url).netloc.rpartition("@")[2]
        self.attempts = attempts
        self.wait = wait
        self.downloaded_bytes = 0
        self.timeout = timeout
        self.session = requests.Session()
        self.session.auth = (username, password)

    def export_body(self) -> dict[str, Any]:
        """Storage exports are plain `local` exports."""
        return {"distribution_method": "local"}

    def rows(
        self, export_id: int, status: Mapping[str, Any], *, delimiter: str = ","
    ) -> Iterator[list[str]]:
        """Stream the file named in the export status.

        Raises:
            DeliveryAuthError: wrong `webdav_username` / `webdav_password`.
            FileMissingError: missing or incomplete on every attempt.
            DeliveryError: any other refusal.
        """
        name = _file_name(status, export_id, self.host)
        path = f"{urlsplit(self.url).path}/{name}"
        fetcher = _Fetcher(export_id, self.host, path, self.attempts, self.wait, self._count)

        @contextmanager
        def open_file() -> Iterator[Any]:
            url = f"{self.url}/{quote(name)}"
            try:
                response = self.session.get(url, stream=True, timeout=self.timeout)
            except requests.exceptions.ConnectionError as exc:
                raise _Missing(f"unreachable ({type(exc).__name__})") from None
            try:
                if response.status_code in (401, 403):
                    raise self._refused(response.status_code, path, export_id)
                if response.status_code == 404:
                    raise _Missing("not found")
                if response.status_code != 200:
                    raise DeliveryError(
                        f"the WebDAV server answered HTTP {response.status_code}",
                        host=self.host,
                        path=path,
                        export_id=export_id,
                        setting="webdav_url",
                    )
                raw = response.raw
                raw.decode_content = True
                yield raw
            finally:
                response.close()

        yield from fetcher.rows(open_file, delimiter)

    def check_connection(self) -> None:
        """PROPFIND the folder once.

        Raises:
            DeliveryAuthError: wrong `webdav_username` / `webdav_password`.
            DeliveryError: unreachable, or no such folder.
        """
        path = urlsplit(self.url).path or "/"
        try:
            response = self.session.request(
                "PROPFIND", self.url + "/", headers={"Depth": "0"}, timeout=self.timeout
            )
        except requests.exceptions.RequestException as exc:
            raise DeliveryError(
                f"cannot connect ({type(exc).__name__})",
                host=self.host,
                path=path,
                export_id=None,
                setting="webdav_url",
                hint="Check `webdav_url` and that this machine may reach it.",
            ) from None
        with response:
            if response.status_code in (401, 403):
                raise self._refused(response.status_code, path, None)
            if response.status_code >= 300:
                raise DeliveryError(
                    f"the folder is not available (HTTP {response.status_code})",
                    host=self.host,
                    path=path,
                    export_id=None,
                    setting="webdav_url",
                    hint="Check the `webdav_url` setting (the Storage folder exports go to).",
                )

    def _refused(self, status: int, path: str, export_id: int | None) -> DeliveryAuthError:
        return DeliveryAuthError(
            f"the WebDAV server refused the credentials (HTTP {status})",
            host=self.host,
            path=path,
            export_id=export_id,
            setting="webdav_username",
            hint="Fix the `webdav_username` / `webdav_password` settings (Emarsys Storage has "
            "its own WebDAV user, not the API user).",
        )

    def _count(self, size: int) -> None:
        self.downloaded_bytes += size

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()


class SftpDelivery:
    """Exports Emarsys uploads to the user's SFTP server (`sftp`), read back with paramiko.

    The server is trusted only by its host key: `host_key` (an OpenSSH public key or
    known_hosts line) or, without it, the user's known_hosts files. An unknown or changed key
    refuses the connection.
    """

    method = "sftp"

    def __init__(
        self,
        login: SftpLogin,
        path: str,
        *,
        delete_after_read: bool = False,
        attempts: int = REFETCH_ATTEMPTS,
        wait: float = REFETCH_WAIT,
    ) -> None:
        """Bind to an SFTP folder.

        The login comes in built (the tap's settings parser, `TAP_SFTP.server`, has already
        checked the port and parsed the host key), so the key is parsed once and its errors
        name the settings the parser was given.

        Args:
            login: `sftp_host`, `sftp_port`, `sftp_username`, `sftp_password` and
                `sftp_host_key` (or a known_hosts file), and the connect timeout.
            path: `sftp_path`, the folder the export files are uploaded to.
            delete_after_read: remove each file once all its rows were read.
            attempts: fetches of a missing or incomplete file before giving up.
            wait: seconds between them.
        """
        self.login = login
        self.host = login.host
        self.port = login.port
        self.folder = path.rstrip("/") or "."
        self.delete_after_read = delete_after_read
        self.attempts = attempts
        self.wait = wait
        self.downloaded_bytes = 0

    def export_body(self) -> dict[str, Any]:
        """`sftp` with the server Emarsys uploads to (the same one this tap reads from)."""
        return {
            "distribution_method": "sftp",
            "sftp_settings": {
                "host": self.host,
                "port": str(self.port),
                "username": self.login.username,
                "password": self.login.password,
                "folder": self.folder,
            },
        }

    def rows(
        self, export_id: int, status: Mapping[str, Any], *, delimiter: str = ","
    ) -> Iterator[list[str]]:
        """Stream the uploaded file, then delete it if `delete_after_read`.

        Raises:
            HostKeyError: the server's host key is unknown or does not match.
            DeliveryAuthError: wrong `sftp_username` / `sftp_password`.
            FileMissingError: missing or incomplete on every attempt.
        """
        name = _file_name(status, export_id, self.host)
        path = f"{self.folder}/{name}"
        fetcher = _Fetcher(
            export_id, f"{self.host}:{self.port}", path, self.attempts, self.wait, self._count
        )
        with self.login.session(export_id, path) as sftp:

            @contextmanager
            def open_file() -> Iterator[paramiko.SFTPFile]:
                try:
                    handle = sftp.open(path, "rb")
                except FileNotFoundError:
                    raise _Missing("not found") from None
                with handle:
                    handle.prefetch()
                    yield handle

            yield from fetcher.rows(open_file, delimiter)
            if self.delete_after_read:
                sftp.remove(path)
                logger.info("export %s: removed %s:%s after reading", export_id, self.host, path)

    def check_connection(self) -> None:
        """Connect and list the folder once (a configuration check before any export)."""
        with self.login.session(None, self.folder) as sftp:
            sftp.listdir(self.folder)

    def _count(self, size: int) -> None:
        self.downloaded_bytes += size

    def close(self) -> None:
        """Nothing is held between files."""


def _file_name(status: Mapping[str, Any], export_id: int, host: str) -> str:
    name = status.get("file_name")
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise DeliveryError(
            f"the export status names no usable file ({name!r})",
            host=host,
            path="",
            export_id=export_id,
            hint="The export is not `done` yet or Emarsys did not report its file_name.",
        )
    return name
