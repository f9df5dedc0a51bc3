"""Each export endpoint gets the distribution body it documents (docs/emarsys-api.md §12.6).

With `delivery: sftp` getchanges and export/filter name the server `ftp_settings`, while
getregistrations and getcontacts name it `sftp_settings`; getresponses has no `sftp` at all. A
sandbox with `distribution_keys="documented"` accepts only those forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emarsys_api import ConfigurationError, ExportType, sftp
from emarsys_api.file_delivery import SftpDelivery
from emarsys_api.sftp import SftpLogin
from emarsys_sandbox import Sandbox
from tap_emarsys.delivery_settings import distribution_body, file_delivery
from tap_emarsys.tap import TapEmarsys
from tests.helpers.sftp import SftpServer
from tests.helpers.tap_runs import FAST, run_tap, run_tap_until_error
from tests.helpers.truth import expected_records, typed

# An ed25519 public key as ssh-keyscan prints it (the bytes 1..32, not any server's key).
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
SFTP_STREAMS = [
    "contact_changes",
    "contact_registrations",
    "contact_list_members",
    "segment_members",
]


def _sftp() -> SftpDelivery:
    return SftpDelivery(SftpLogin("sftp.example.org", 2222, "user", "pass-word"), "/exports")


@pytest.mark.parametrize(
    ("export_type", "key"),
    [
        (ExportType.CONTACT_CHANGES, "ftp_settings"),
        (ExportType.CONTACT_REGISTRATIONS, "sftp_settings"),
        (ExportType.CONTACT_LIST_MEMBERS, "sftp_settings"),
        (ExportType.SEGMENT_MEMBERS, "ftp_settings"),
    ],
)
def test_sftp_server_under_the_documented_key(export_type: ExportType, key: str) -> None:
    body = distribution_body(export_type, _sftp())
    assert body["distribution_method"] == "sftp"
    assert set(body) == {"distribution_method", key}
    server = body[key]
    assert (server["host"], server["port"], server["folder"]) == (
        "sftp.example.org",
        "2222",
        "/exports",
    )
    if export_type == ExportType.SEGMENT_MEMBERS:
        assert server["ftp_port"] == "2222"
    else:
        assert "ftp_port" not in server


def test_responses_cannot_go_by_sftp() -> None:
    with pytest.raises(ConfigurationError, match=r"email/getresponses.*delivery"):
        distribution_body(ExportType.EMAIL_RESPONSES, _sftp())


def test_the_sftp_delivery_keeps_the_login_the_settings_parser_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`TAP_SFTP.server` parses the host key; the delivery takes its login, not the parts."""
    parsed: list[str | None] = []
    real_parse = sftp.parse_host_key

    def counting(text: str | None, *args: Any, **kwargs: Any) -> Any:
        parsed.append(text)
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(sftp, "parse_host_key", counting)
    config = {
        "delivery": "sftp",
        "sftp_host": "sftp.example.org",
        "sftp_port": 2222,
        "sftp_username": "user",
        "sftp_password": "pass-word",
        "sftp_path": "/exports/",
        "sftp_host_key": HOST_KEY,
        "sftp_delete_after_read": True,
    }
    delivery = file_delivery(config)
    assert isinstance(delivery, SftpDelivery)
    assert parsed == [HOST_KEY]
    login = delivery.login
    assert (login.host, login.port, login.username, login.host_key, login.prefix) == (
        "sftp.example.org",
        2222,
        "user",
        HOST_KEY,
        "sftp",
    )
    assert (delivery.folder, delivery.delete_after_read) == ("/exports", True)


def test_local_is_the_same_for_every_export() -> None:
    for export_type in ExportType:
        assert distribution_body(export_type, None) == {"distribution_method": "local"}


@pytest.fixture(scope="module")
def documented() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=5, distribution_keys="documented") as sandbox:
        yield sandbox


def _config(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    return sb.wsse_config(
        start_date="2026-03-20", end_date="2026-04-03", export_window_days=7, **FAST, **extra
    )


def test_sftp_delivery_to_an_account_taking_only_documented_keys(
    documented: Sandbox, sftp_server: SftpServer
) -> None:
    config = _config(documented, **sftp_server.settings(sftp_delete_after_read=True))
    output = run_tap(config, SFTP_STREAMS)
    tap = TapEmarsys(config=config)
    for name in SFTP_STREAMS:
        expected = expected_records(documented, tap.streams[name])  # type: ignore[arg-type]
        assert expected, name
        assert typed(output.records[name]) == typed(expected), name


def test_responses_with_sftp_stop_before_any_export(
    documented: Sandbox, sftp_server: SftpServer
) -> None:
    config = _config(documented, **sftp_server.settings())
    before = len(documented.request_log())
    output, error = run_tap_until_error(config, ["contact_changes", "email_responses"])
    text = str(error)
    assert isinstance(error, ConfigurationError)
    assert "\n" not in text
    assert "stream 'email_responses'" in text and "`delivery`" in text
    assert "Deselect the stream" in text
    assert not output.records
    paths = [entry["path"] for entry in documented.request_log()[before:]]
    assert paths, "the run got as far as the API"
    assert not [path for path in paths if path.endswith(("/getchanges", "/getresponses"))]
