"""CSV files on SFTP appear whole under their final name; errors name the `rds_sftp_*` setting."""

from __future__ import annotations

import csv
import io

import asyncssh
import pytest

from emarsys_api.csv_upload import SftpCsvUploader, csv_cell
from emarsys_api.sftp import DeliveryAuthError, HostKeyError, SftpLogin
from tests.helpers.sftp import SFTP_PASSWORD, SFTP_USER, SftpServer


def _uploader(server: SftpServer, **login: object) -> SftpCsvUploader:
    (server.root / "rds").mkdir(exist_ok=True)
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": SFTP_USER,
        "password": SFTP_PASSWORD,
        "host_key": server.host_key,
        "prefix": "rds_sftp",
        **login,
    }
    return SftpCsvUploader(SftpLogin(**settings), "/rds")  # type: ignore[arg-type]


def test_upload_writes_a_temporary_name_then_renames(sftp_server: SftpServer) -> None:
    rows = [[1, 'Anne "Annie"', 2.5, None, True], [2, "Multi\r\nLine; x", 0, "日本", False]]
    uploader = _uploader(sftp_server)
    done = uploader.upload("t.csv", ["id", "name", "amount", "note", "flag"], rows)
    uploader.close()
    assert done.path == "/rds/t.csv" and done.rows == 2
    data = (sftp_server.root / "rds" / "t.csv").read_bytes()
    assert len(data) == done.size
    back = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert back == [["id", "name", "amount", "note", "flag"]] + [
        [csv_cell(v) for v in row] for row in rows
    ]
    assert sftp_server.events == [
        ("write", "/rds/.t.csv.partial"),
        ("rename", "/rds/.t.csv.partial", "/rds/t.csv"),
    ]


def test_wrong_password_names_the_rds_sftp_settings(sftp_server: SftpServer) -> None:
    with pytest.raises(DeliveryAuthError) as caught:
        _uploader(sftp_server, password="nope-123").check_connection()
    assert "rds_sftp_password" in str(caught.value) and "nope-123" not in str(caught.value)


def test_host_key_mismatch_refuses(sftp_server: SftpServer) -> None:
    other = bytes(asyncssh.generate_private_key("ssh-ed25519").export_public_key()).decode()
    with pytest.raises(HostKeyError, match="rds_sftp_host_key"):
        _uploader(sftp_server, host_key=other).check_connection()
