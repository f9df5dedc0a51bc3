"""Missing or incomplete delivered files are fetched again, a bounded number of times."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from emarsys_api.errors import ResponseFormatError
from emarsys_api.file_delivery import FileMissingError, SftpDelivery, WebDavDelivery, _Fetcher
from emarsys_api.sftp import SftpLogin
from emarsys_sandbox import Sandbox
from tests.helpers.sftp import SFTP_PASSWORD, SFTP_USER, SftpServer

CSV = b'user_id,First Name\r\n1,"Multi\r\nLine"\r\n2,"Anne ""Annie"""\r\n3,Smith\r\n'
ROWS = [["user_id", "First Name"], ["1", "Multi\r\nLine"], ["2", 'Anne "Annie"'], ["3", "Smith"]]
STATUS = {"status": "done", "file_name": "contactlist_2140_en.csv"}


def _delivery(server: SftpServer, attempts: int = 10) -> SftpDelivery:
    login = SftpLogin("127.0.0.1", server.port, SFTP_USER, SFTP_PASSWORD, server.host_key)
    return SftpDelivery(login, "/exports", attempts=attempts, wait=0.1)


def _later(path: Path, data: bytes, delay: float = 0.3) -> threading.Timer:
    timer = threading.Timer(delay, path.write_bytes, args=(data,))
    timer.start()
    return timer


def test_a_file_that_appears_late_is_read_in_full(sftp_server: SftpServer) -> None:
    target = sftp_server.root / "exports" / STATUS["file_name"]
    timer = _later(target, CSV)
    assert list(_delivery(sftp_server).rows(2140, STATUS)) == ROWS
    timer.join()


def test_a_short_file_is_fetched_again_without_repeating_rows(sftp_server: SftpServer) -> None:
    target = sftp_server.root / "exports" / STATUS["file_name"]
    target.write_bytes(CSV[: CSV.index(b"Smith") + 2])  # the last row cut, no line break
    timer = _later(target, CSV)
    assert list(_delivery(sftp_server).rows(2140, STATUS)) == ROWS
    timer.join()


def test_a_file_that_never_comes_names_host_path_and_export(sftp_server: SftpServer) -> None:
    with pytest.raises(FileMissingError) as caught:
        list(_delivery(sftp_server, attempts=3).rows(2140, STATUS))
    message = str(caught.value)
    assert f"127.0.0.1:{sftp_server.port}" in message
    assert "/exports/contactlist_2140_en.csv" in message and "export 2140" in message
    assert "3 attempts" in message and SFTP_PASSWORD not in message


def test_webdav_missing_file_is_a_clear_error() -> None:
    with Sandbox(contacts=10) as sb:
        c = sb.credentials
        delivery = WebDavDelivery(
            c["webdav_url"], c["webdav_username"], c["webdav_password"], attempts=2, wait=0.05
        )
        delivery.check_connection()
        with pytest.raises(
            FileMissingError, match=r"export 9999, host 127\.0\.0\.1:\d+, path /storage"
        ):
            list(delivery.rows(9999, {"file_name": "segment_9999_en.csv"}))
        delivery.close()


def test_a_file_cut_inside_a_quoted_cell_is_fetched_again(sftp_server: SftpServer) -> None:
    target = sftp_server.root / "exports" / STATUS["file_name"]
    target.write_bytes(CSV[: CSV.index(b"Multi") + 3])  # ends inside "Multi..."
    timer = _later(target, CSV)
    assert list(_delivery(sftp_server).rows(2140, STATUS)) == ROWS
    timer.join()


def test_a_damaged_file_is_an_error_naming_export_and_row(sftp_server: SftpServer) -> None:
    target = sftp_server.root / "exports" / STATUS["file_name"]
    target.write_bytes(CSV.replace(b"Smith", b"Sm\xffth"))  # complete, but not UTF-8
    with pytest.raises(ResponseFormatError) as caught:
        list(_delivery(sftp_server, attempts=2).rows(2140, STATUS))
    message = str(caught.value)
    assert "export 2140" in message and "not valid UTF-8" in message
    assert SFTP_PASSWORD not in message


class _GrowingFile:
    """A file that is still being written: empty reads, then more bytes."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def read(self, size: int = -1) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def __enter__(self) -> _GrowingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_file_growing_after_its_end_was_read_is_fetched_again() -> None:
    cut = CSV.index(b"Smith") + 2
    attempts = iter(
        [_GrowingFile(CSV[:cut], b"", CSV[cut:]), _GrowingFile(CSV)]  # 1st: grows after EOF
    )
    counted: list[int] = []
    fetcher = _Fetcher(2140, "127.0.0.1:22", "/exports/x.csv", 2, 0.0, counted.append)
    assert list(fetcher.rows(lambda: next(attempts), ",")) == ROWS
    # bytes read for the summary: the cut file up to its first end, then the whole file
    assert sum(counted) == cut + len(CSV)
