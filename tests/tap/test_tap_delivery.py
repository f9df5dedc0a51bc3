"""tap-emarsys with `delivery: webdav` and `sftp` equals the ground truth of the API path.

Both ways run against real servers on 127.0.0.1: the sandbox's Emarsys Storage (wsgidav) and an
asyncssh SFTP server the sandbox uploads to with paramiko, as Emarsys does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncssh
import pytest

from emarsys_api.file_delivery import DeliveryAuthError, HostKeyError
from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from tests.helpers.sftp import SFTP_PASSWORD, SftpServer
from tests.helpers.tap_runs import FAST, run_tap
from tests.helpers.truth import expected_records, typed

STREAMS = ["contact_list_members", "email_responses", "contact_changes"]
# getresponses offers no sftp distribution (docs/emarsys-api.md §12.6).
SFTP_STREAMS = ["contact_list_members", "contact_changes"]
FIELDS = [1, 2, 3, 5, 31, 1000, 1001, "notes"]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=60, seed=7) as sandbox:
        yield sandbox


def _config(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    return sb.wsse_config(
        start_date="2026-03-15",
        end_date="2026-04-13",
        contact_fields=FIELDS,
        export_window_days=14,
        **FAST,
        **extra,
    )


def _assert_ground_truth(sb: Sandbox, config: dict[str, Any], streams: list[str] = STREAMS) -> None:
    output = run_tap(config, streams)
    tap = TapEmarsys(config=config)
    for name in streams:
        expected = expected_records(sb, tap.streams[name])  # type: ignore[arg-type]
        assert expected, name
        assert typed(output.records[name]) == typed(expected), name
    names = {r["first_name"] for r in output.records["contact_list_members"]}
    assert {"Multi\nLine", "Carriage\r\nReturn", 'Anne "Annie"', "Smith, Jr."} <= names


def test_webdav_delivery_equals_ground_truth(sb: Sandbox) -> None:
    c = sb.credentials
    webdav = {k: c[k] for k in ("webdav_url", "webdav_username", "webdav_password")}
    before = len(sb.request_log())
    _assert_ground_truth(sb, _config(sb, delivery="webdav", **webdav))
    paths = [entry["path"] for entry in sb.request_log()[before:]]
    assert not any(path.endswith("/data") for path in paths), "no API download on webdav"


def test_sftp_delivery_equals_ground_truth_and_deletes_files(
    sb: Sandbox, sftp_server: SftpServer
) -> None:
    config = _config(sb, **sftp_server.settings(sftp_delete_after_read=True))
    _assert_ground_truth(sb, config, SFTP_STREAMS)
    written = [event[1] for event in sftp_server.events if event[0] == "write"]
    assert written and all(path.startswith("/exports/") for path in written)
    assert list((sftp_server.root / "exports").iterdir()) == []


def test_sftp_files_stay_without_delete_after_read(sb: Sandbox, sftp_server: SftpServer) -> None:
    output = run_tap(_config(sb, **sftp_server.settings()), ["contact_list_members"])
    assert output.records["contact_list_members"]
    assert list((sftp_server.root / "exports").iterdir())


def test_sftp_host_key_mismatch_refuses(sb: Sandbox, sftp_server: SftpServer) -> None:
    other = bytes(asyncssh.generate_private_key("ssh-ed25519").export_public_key()).decode()
    config = _config(sb, **sftp_server.settings(sftp_host_key=other))
    with pytest.raises(HostKeyError) as caught:
        run_tap(config, ["contact_list_members"])
    message = str(caught.value)
    assert "does not match" in message and "sftp_host_key" in message
    assert f"127.0.0.1:{sftp_server.port}" in message
    assert not [e for e in sftp_server.events if e[0] == "write"], "no export was started"


def test_sftp_unknown_host_key_refuses_without_known_hosts_entry(
    sb: Sandbox, sftp_server: SftpServer, tmp_path: Any
) -> None:
    settings = sftp_server.settings()
    del settings["sftp_host_key"]
    config = _config(sb, **settings)
    with pytest.raises(HostKeyError, match="unknown; refusing"):
        run_tap(config, ["contact_list_members"])


def test_wrong_sftp_password_names_the_setting_not_the_secret(
    sb: Sandbox, sftp_server: SftpServer
) -> None:
    config = _config(sb, **sftp_server.settings(sftp_password="wrong-pass-xyz"))
    with pytest.raises(DeliveryAuthError) as caught:
        run_tap(config, ["contact_list_members"])
    message = str(caught.value)
    assert "sftp_password" in message and "sftp_username" in message
    assert "wrong-pass-xyz" not in message and SFTP_PASSWORD not in message


def test_wrong_webdav_password_names_the_setting_not_the_secret(sb: Sandbox) -> None:
    c = sb.credentials
    config = _config(
        sb,
        delivery="webdav",
        webdav_url=c["webdav_url"],
        webdav_username=c["webdav_username"],
        webdav_password="wrong-dav-secret",
    )
    with pytest.raises(DeliveryAuthError) as caught:
        run_tap(config, ["contact_list_members"])
    message = str(caught.value)
    assert "webdav_password" in message and "wrong-dav-secret" not in message
