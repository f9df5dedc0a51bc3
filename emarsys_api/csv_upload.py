"""CSV files on an SFTP server, each appearing whole under its final name (bulk RDS loads).

Emarsys loads relational data from CSV files that either overwrite or append (its import picks
up whatever file it finds), so a half-written file must never carry a final name: every file is
written to a hidden temporary name in the same folder and renamed when complete. The rename is
`posix-rename@openssh.com` where the server has it (atomic, replaces), plain SFTP rename
otherwise.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import paramiko

from emarsys_api.sftp import DeliveryError, SftpLogin

logger = logging.getLogger("emarsys_api")

WRITE_ROWS = 4096
UPLOAD_ATTEMPTS = 2  # a dropped connection reconnects once and writes the file again


@dataclass(frozen=True)
class UploadedFile:
    """A file that now exists under its final name.

    Attributes:
        path: the final path on the server.
        rows: data rows written (the header excluded).
        size: bytes written.
    """

    path: str
    rows: int
    size: int


def csv_cell(value: Any) -> str:
    """One value as CSV text: null empty, booleans `true`/`false`, objects and arrays as JSON."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


class SftpCsvUploader:
    """Writes CSV files (UTF-8, CRLF, header row first) into one SFTP folder, atomically.

    One SFTP session is kept for all files of a run; `close()` ends it.
    """

    def __init__(self, login: SftpLogin, folder: str) -> None:
        """Bind to a folder.

        Args:
            login: server, credentials and host key (errors name the `login.prefix` settings).
            folder: the folder the files go to.
        """
        self.login = login
        self.folder = folder.rstrip("/") or "."
        self._stack: ExitStack | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def _session(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            stack = ExitStack()
            self._sftp = stack.enter_context(self.login.session(None, self.folder))
            self._stack = stack
        return self._sftp

    def check_connection(self) -> None:
        """Log in and look at the folder, so wrong settings fail before any record is read.

        Raises:
            DeliveryError: (or its subclasses) login, host key or folder problems.
        """
        sftp = self._session()
        try:
            sftp.listdir(self.folder)
        except OSError as exc:
            raise DeliveryError(
                f"the folder is not usable ({type(exc).__name__}: {exc})",
                host=self.login.address,
                path=self.folder,
                export_id=None,
                setting=f"{self.login.prefix}_folder",
                hint=f"Create the folder or fix the `{self.login.prefix}_folder` setting.",
            ) from None

    def upload(
        self, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> UploadedFile:
        """Write `rows` under `name`: to a temporary name first, renamed once complete.

        Args:
            name: the final file name (no folder).
            header: the column names, the first row.
            rows: data rows, values in `header` order (see `csv_cell`).

        Returns:
            What was written; the file exists under its final name.

        Raises:
            DeliveryError: the file could not be written or renamed (names host and path).
        """
        final = f"{self.folder}/{name}"
        partial = f"{self.folder}/.{name}.partial"
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            sftp = self._session()
            try:
                size = self._write(sftp, partial, header, rows)
                self._rename(sftp, partial, final)
                return UploadedFile(final, len(rows), size)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                self.close()
                if attempt == UPLOAD_ATTEMPTS:
                    raise DeliveryError(
                        f"uploading failed ({type(exc).__name__}: {exc})",
                        host=self.login.address,
                        path=final,
                        export_id=None,
                        setting=f"{self.login.prefix}_folder",
                        hint="Check the server's free space and write permission on the "
                        "folder; the state was not advanced, so a rerun sends these rows again.",
                    ) from None
                logger.warning("upload of %s failed (%s); reconnecting", final, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _write(
        sftp: paramiko.SFTPClient, path: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> int:
        sink = _Lines()
        writer = csv.writer(sink, lineterminator="\r\n")
        size = 0
        with sftp.open(path, "wb") as target:
            target.set_pipelined(True)
            writer.writerow(header)
            batch: list[Sequence[Any]] = []
            for row in rows:
                batch.append([csv_cell(v) for v in row])
                if len(batch) >= WRITE_ROWS:
                    writer.writerows(batch)
                    batch.clear()
                    size += _flush(sink, target)
            writer.writerows(batch)
            size += _flush(sink, target)
        return size

    @staticmethod
    def _rename(sftp: paramiko.SFTPClient, partial: str, final: str) -> None:
        try:
            sftp.posix_rename(partial, final)
        except OSError:
            sftp.rename(partial, final)  # servers without posix-rename: fails if `final` exists

    def close(self) -> None:
        """End the session (idempotent)."""
        if self._stack is not None:
            stack, self._stack, self._sftp = self._stack, None, None
            stack.close()


def _flush(sink: _Lines, target: paramiko.SFTPFile) -> int:
    data = "".join(sink.lines).encode("utf-8")
    sink.lines.clear()
    target.write(data)
    return len(data)
