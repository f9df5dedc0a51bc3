"""SFTP server settings: declared and parsed once for the tap (`sftp_*`) and target (`rds_sftp_*`).

The declaration (`emarsys_singer.sftp_settings`) is what both connectors list in their
`config_jsonschema`, so a shared setting reads the same in both; the parser's errors are one
line naming the setting, whichever prefix, and both connectors stop with them before any
export or input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emarsys_api import ConfigurationError
from emarsys_singer.sftp_settings import SHARED_FIELDS, SftpServer, SftpSettings
from tap_emarsys.delivery_settings import TAP_SFTP, file_delivery
from tap_emarsys.tap import TapEmarsys
from target_emarsys.destinations import TARGET_SFTP
from target_emarsys.errors import DestinationConfigError
from target_emarsys.target import TargetEmarsys

BIN = Path(sys.executable).parent
PASSWORD = "pw-Secret-4711"
# An ed25519 public key as ssh-keyscan prints it (the bytes 1..32, not any server's key).
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
SIDES: dict[str, tuple[SftpSettings, type[TapEmarsys] | type[TargetEmarsys]]] = {
    "tap": (TAP_SFTP, TapEmarsys),
    "target": (TARGET_SFTP, TargetEmarsys),
}
# The names users' configs have always used: they must keep working.
NAMES = {
    "tap": [
        "sftp_host",
        "sftp_port",
        "sftp_username",
        "sftp_password",
        "sftp_path",
        "sftp_host_key",
    ],
    "target": [
        "rds_sftp_host",
        "rds_sftp_port",
        "rds_sftp_username",
        "rds_sftp_password",
        "rds_sftp_folder",
        "rds_sftp_host_key",
    ],
}


def schema(connector: type[TapEmarsys] | type[TargetEmarsys]) -> dict[str, dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = connector.config_jsonschema["properties"]
    return properties


def valid(settings: SftpSettings, **changes: Any) -> dict[str, Any]:
    """A complete server config under the settings' prefix; `None` removes a setting."""
    config: dict[str, Any] = {
        settings.name("host"): "sftp.example.com",
        settings.name("username"): "loader",
        settings.name("password"): PASSWORD,
        settings.folder: "/upload",
        settings.name("host_key"): HOST_KEY,
    }
    config.update(changes)
    return {name: value for name, value in config.items() if value is not None}


def assert_one_line(error: BaseException, setting: str) -> str:
    text = str(error)
    assert "\n" not in text and setting in text and PASSWORD not in text, text
    return text


@pytest.mark.parametrize("side", SIDES)
def test_connector_declares_exactly_the_one_declaration(side: str) -> None:
    settings, connector = SIDES[side]
    declared = schema(connector)
    properties = settings.properties()
    assert [prop.name for prop in properties] == NAMES[side]
    for prop in properties:
        assert declared[prop.name] == prop.to_dict()[prop.name], prop.name
    names = list(declared)
    start = names.index(NAMES[side][0])
    assert names[start : start + len(NAMES[side])] == NAMES[side], "listed together, in order"


@pytest.mark.parametrize("field", SHARED_FIELDS)
def test_shared_settings_read_the_same_in_both_connectors(field: str) -> None:
    """Type, default, secrecy and wording; only the host says what its server is for."""
    tap = dict(schema(TapEmarsys)[f"sftp_{field}"])
    target = dict(schema(TargetEmarsys)[f"rds_sftp_{field}"])
    if field == "host":
        tap_says, target_says = tap.pop("description"), target.pop("description")
        assert tap_says == f"SFTP server {TAP_SFTP.role}."
        assert target_says == f"SFTP server {TARGET_SFTP.role}."
    assert tap == target
    assert ("default" in tap) == (field == "port")
    assert bool(tap.get("secret")) == (field == "password")


@pytest.mark.parametrize("side", SIDES)
def test_a_complete_config_is_the_login_and_the_folder(side: str) -> None:
    settings, _ = SIDES[side]
    server = settings.server(valid(settings, **{settings.name("port"): "2222"}))
    assert isinstance(server, SftpServer)
    login = server.login
    assert (login.host, login.port, login.username, str(login.password)) == (
        "sftp.example.com",
        2222,
        "loader",
        PASSWORD,
    )
    assert login.host_key == HOST_KEY and login.prefix == settings.prefix
    assert server.folder == "/upload"
    assert PASSWORD not in repr(server)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("port", [None, ""])
def test_an_unset_port_is_22_and_an_unset_host_key_reads_known_hosts(
    side: str, port: str | None
) -> None:
    settings, _ = SIDES[side]
    config = valid(settings, **{settings.name("port"): port, settings.name("host_key"): " "})
    login = settings.server(config).login
    assert login.port == 22 and login.host_key is None


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("port", [0, -1, 65536, 70000, "abc", "22x", True, 22.5])
def test_a_port_that_is_no_tcp_port_is_one_line_naming_it(side: str, port: object) -> None:
    text = refused(side, "port", port)
    assert repr(port) in text and "1 to 65535" in text


def refused(side: str, name: str, value: object) -> str:
    """The one line `server` refuses `<prefix>_<name>: value` with, naming the setting."""
    settings, _ = SIDES[side]
    setting = settings.name(name)
    with pytest.raises(ConfigurationError) as caught:
        settings.server(valid(settings, **{setting: value}))
    assert caught.value.setting == setting
    return assert_one_line(caught.value, setting)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("field", ["host", "username", "password", "folder"])
@pytest.mark.parametrize("unset", [None, "", "  "])
def test_a_missing_required_setting_is_one_line_naming_it(
    side: str, field: str, unset: str | None
) -> None:
    settings, _ = SIDES[side]
    setting = settings.folder if field == "folder" else settings.name(field)
    with pytest.raises(ConfigurationError) as caught:
        settings.server(valid(settings, **{setting: unset}))
    assert caught.value.setting == setting
    text = assert_one_line(caught.value, setting)
    assert settings.required_when in text


@pytest.mark.parametrize("side", SIDES)
def test_every_missing_setting_is_listed_at_once(side: str) -> None:
    settings, _ = SIDES[side]
    with pytest.raises(ConfigurationError) as caught:
        settings.server({settings.name("host"): "sftp.example.com"})
    missing = [settings.name("username"), settings.name("password"), settings.folder]
    assert ", ".join(missing) in assert_one_line(caught.value, missing[0])
    assert settings.name("host") not in caught.value.reply_text


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(
    "key", ["not a key", "ssh-ed25519", "ssh-ed25519 !!not-base64!!", "ssh-ed25519 AAAA"]
)
def test_a_host_key_that_is_no_public_key_is_one_line_naming_it(side: str, key: str) -> None:
    settings, _ = SIDES[side]
    setting = settings.name("host_key")
    with pytest.raises(ConfigurationError) as caught:
        settings.server(valid(settings, **{setting: key}))
    assert caught.value.setting == setting
    assert "ssh-keyscan" in assert_one_line(caught.value, setting)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(
    "host",
    [
        f"sftp://u:{PASSWORD}@sftp.example.com",
        f"u:{PASSWORD}@sftp.example.com",
        "sftp.example.com/upload",
        "sftp example.com",
    ],
)
def test_a_host_that_is_no_host_name_is_one_line_not_showing_it(side: str, host: str) -> None:
    """A URL with credentials would be printed whole in the later connection error."""
    text = refused(side, "host", host)
    assert host not in text and "host name or IP address" in text


@pytest.mark.parametrize("host", ["sftp.example.com", " 10.0.0.7 ", "::1", "xn--bcher-kva.ch"])
def test_host_names_and_addresses_are_hosts(host: str) -> None:
    assert TAP_SFTP.server(valid(TAP_SFTP, sftp_host=host)).login.host == host.strip()


def test_a_known_hosts_line_is_a_host_key_too() -> None:
    config = valid(TAP_SFTP, sftp_host_key=f"[sftp.example.com]:2222 {HOST_KEY}")
    assert TAP_SFTP.server(config).login.host_key is not None


def test_the_tap_delivery_uses_the_parsed_server() -> None:
    config = {"delivery": "sftp", **valid(TAP_SFTP, sftp_port=2222), "sftp_path": "/exports/"}
    delivery = file_delivery(config)
    assert delivery is not None and delivery.method == "sftp"
    assert delivery.export_body()["sftp_settings"] == {
        "host": "sftp.example.com",
        "port": "2222",
        "username": "loader",
        "password": PASSWORD,
        "folder": "/exports",
    }
    with pytest.raises(ConfigurationError, match="sftp_path") as caught:
        file_delivery({**config, "sftp_path": ""})
    assert caught.value.setting == "sftp_path"


def test_the_tap_settings_matter_only_for_delivery_sftp() -> None:
    assert file_delivery({"delivery": "api", "sftp_port": 0}) is None


def target_config(**changes: Any) -> dict[str, Any]:
    return {
        "username": "u",
        "secret": "s3cr3t",
        "rds_connection": "main",
        "stream_destinations": {"orders": {"type": "relational", "via": "sftp"}},
        **valid(TARGET_SFTP, **changes),
    }


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"rds_sftp_port": 0}, "rds_sftp_port"),
        ({"rds_sftp_host_key": "ssh-rsa nope"}, "rds_sftp_host_key"),
        ({"rds_sftp_folder": " "}, "rds_sftp_folder"),
        ({"rds_sftp_host": f"sftp://u:{PASSWORD}@h"}, "rds_sftp_host"),
    ],
)
def test_the_target_refuses_unusable_settings_at_start_naming_stream_and_setting(
    changes: dict[str, Any], setting: str
) -> None:
    with pytest.raises(DestinationConfigError) as caught:
        TargetEmarsys(config=target_config(**changes), validate_config=True, setup_mapper=False)
    text = assert_one_line(caught.value, setting)
    assert text.startswith("stream_destinations['orders']: ")


def test_the_target_settings_matter_only_for_via_sftp() -> None:
    config = {**target_config(rds_sftp_port=0), "stream_destinations": {}}
    TargetEmarsys(config=config, validate_config=True, setup_mapper=False)


def cli_errors(command: str, config: dict[str, Any], tmp_path: Path, *args: str) -> list[str]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [str(BIN / command), "--config", str(tmp_path / "config.json"), *args],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and PASSWORD not in proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]


def tap_config(**sftp: Any) -> dict[str, Any]:
    """A tap config delivering by SFTP, with `sftp` settings over the valid ones."""
    return {
        "username": "u",
        "secret": "s3cr3t",
        "base_url": "http://127.0.0.1:9",
        "start_date": "2026-01-01",
        "delivery": "sftp",
        **valid(TAP_SFTP, **sftp),
    }


def test_both_commands_print_a_bad_port_as_one_line(tmp_path: Path) -> None:
    assert cli_errors("tap-emarsys", tap_config(sftp_port=70000), tmp_path) == [
        "Error: Invalid configuration: `sftp_port` must be a TCP port from 1 to 65535, got "
        "70000. Fix the `sftp_port` setting."
    ]
    assert cli_errors("target-emarsys", target_config(rds_sftp_port=70000), tmp_path) == [
        "Error: Invalid configuration: stream_destinations['orders']: `rds_sftp_port` must be a "
        "TCP port from 1 to 65535, got 70000. Fix the `rds_sftp_port` setting."
    ]


def test_both_commands_refuse_a_host_url_without_showing_it(tmp_path: Path) -> None:
    url = f"sftp://u:{PASSWORD}@sftp.example.com"  # cli_errors asserts PASSWORD is not printed
    (tap_line,) = cli_errors("tap-emarsys", tap_config(sftp_host=url), tmp_path)
    (target_line,) = cli_errors("target-emarsys", target_config(rds_sftp_host=url), tmp_path)
    assert "`sftp_host` must be a host name" in tap_line
    assert "`rds_sftp_host` must be a host name" in target_line
