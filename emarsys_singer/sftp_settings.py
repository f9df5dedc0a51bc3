"""The SFTP server settings, declared once for the tap (`sftp_*`) and the target (`rds_sftp_*`).

Both connectors reach an SFTP server through the same `emarsys_api.sftp.SftpLogin` (the tap
reads the export files Emarsys uploads there, the target writes the CSV files of `"via": "sftp"`
destinations), so host, port, user, password and host key mean the same in both and are
declared here once: name (after the connector's prefix), type, default, secrecy and wording.
Each connector describes its server with one `SftpSettings` and lists its `properties()` in
`config_jsonschema`; `SftpSettings.server` turns a config into the login and the folder, with a
one-line `ConfigurationError` naming the setting to fix.

What stays per connector is a parameter of `SftpSettings`, because it genuinely differs:

- the prefix: the setting names users already have in their configs (`sftp_host` in the tap,
  `rds_sftp_host` in the target) must keep working;
- the folder setting: the tap's `sftp_path` is where Emarsys uploads exports, the target's
  `rds_sftp_folder` where the CSV files go; different names and meanings, so each connector
  names and describes its own;
- what the server is for (the host's description) and when the settings are required (the
  tap's `delivery: sftp`, the target's `"via": "sftp"` destinations).

Settings only one connector has (the tap's `sftp_delete_after_read`) stay in that connector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from singer_sdk import typing as th

from emarsys_api import ConfigurationError
from emarsys_api.sftp import HostKeyError, SftpLogin

DEFAULT_PORT = 22
#: The fields every connector's SFTP server has, named `<prefix>_<field>`; the folder setting is
#: each connector's own and is declared between the password and the host key.
SHARED_FIELDS = ("host", "port", "username", "password", "host_key")
HOST_KEY_DESCRIPTION = (
    "The SFTP server's public host key (`ssh-ed25519 AAAA...`, as ssh-keyscan prints it); "
    "without it the host must be in known_hosts."
)


class SftpServer(NamedTuple):
    """A parsed SFTP server: the login (host verified by its key) and the folder on it.

    Attributes:
        login: host, port, user, password and host key; its errors name the prefix's settings.
        folder: the connector's folder setting, as configured.
    """

    login: SftpLogin
    folder: str


@dataclass(frozen=True)
class SftpSettings:
    """One connector's SFTP server settings: the shared ones under `prefix`, plus its folder.

    Attributes:
        prefix: the setting name prefix without the underscore (`sftp`, `rds_sftp`).
        role: what the server is for, completing "SFTP server ..." in `<prefix>_host`'s
            description (the tap's server must also be reachable from Emarsys).
        folder: the name of the folder setting (`sftp_path`, `rds_sftp_folder`).
        folder_description: its description (what goes into the folder differs).
        required_when: when the settings are required, as errors say it ("`delivery: sftp`").
    """

    prefix: str
    role: str
    folder: str
    folder_description: str
    required_when: str

    def name(self, field: str) -> str:
        """The setting name of a shared field: `host` -> `sftp_host` / `rds_sftp_host`."""
        return f"{self.prefix}_{field}"

    @property
    def required(self) -> tuple[str, ...]:
        """The settings without which there is no server to log in to (port and key default)."""
        return (self.name("host"), self.name("username"), self.name("password"), self.folder)

    def properties(self) -> tuple[th.Property[Any], ...]:
        """The settings as singer-sdk properties, in one wording for both connectors.

        The port carries no JSON-schema bounds: the SDK's schema error would not name the
        setting, `server` does.
        """
        return (
            th.Property(self.name("host"), th.StringType, description=f"SFTP server {self.role}."),
            th.Property(
                self.name("port"), th.IntegerType, default=DEFAULT_PORT, description="SFTP port."
            ),
            th.Property(self.name("username"), th.StringType, description="SFTP user."),
            th.Property(
                self.name("password"), th.StringType, secret=True, description="SFTP password."
            ),
            th.Property(self.folder, th.StringType, description=self.folder_description),
            th.Property(self.name("host_key"), th.StringType, description=HOST_KEY_DESCRIPTION),
        )

    def missing(self, config: Mapping[str, Any]) -> list[str]:
        """The required settings that are unset or blank, in declaration order."""
        return [name for name in self.required if _blank(config.get(name))]

    def port(self, config: Mapping[str, Any]) -> int:
        """`<prefix>_port` as a TCP port; unset (or empty text) is 22.

        Raises:
            ConfigurationError: not a whole number from 1 to 65535 (0 is not taken as unset).
        """
        setting = self.name("port")
        value = config.get(setting)
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_PORT
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 65536:
            raise ConfigurationError(
                f"`{setting}` must be a TCP port from 1 to 65535, got {value!r}.", setting=setting
            )
        return int(text)

    def host(self, config: Mapping[str, Any]) -> str:
        """`<prefix>_host` as a host name or IP address.

        A URL (`sftp://user:password@host/path`) would be shown whole in connection errors,
        password included, so it is refused, and the message does not repeat the value.

        Raises:
            ConfigurationError: the value has a scheme, user, `@`, `/` or white space.
        """
        setting = self.name("host")
        host = str(config[setting]).strip()
        if any(char in "@/\\" or char.isspace() for char in host):
            raise ConfigurationError(
                f"`{setting}` must be a host name or IP address only (its value is not shown): "
                f"no scheme, user, password or path; set those in `{self.name('username')}`, "
                f"`{self.name('password')}` and `{self.folder}`.",
                setting=setting,
            )
        return host

    def server(self, config: Mapping[str, Any]) -> SftpServer:
        """The configured server, checked before any connection is tried.

        Raises:
            ConfigurationError: one line naming the setting: a required one is missing (all
                missing ones are listed), the host is not a bare host name, the port is not a
                TCP port, or the host key is not an OpenSSH public key. Never shows the
                password.
        """
        missing = self.missing(config)
        if missing:
            raise ConfigurationError(
                f"{self.required_when} needs the setting(s) {', '.join(missing)}.",
                setting=missing[0],
            )
        port = self.port(config)
        host = self.host(config)
        host_key = config.get(self.name("host_key"))
        try:
            login = SftpLogin(
                host,
                port,
                str(config[self.name("username")]),
                str(config[self.name("password")]),
                str(host_key).strip() if not _blank(host_key) else None,
                prefix=self.prefix,
            )
        except HostKeyError:
            setting = self.name("host_key")
            raise ConfigurationError(
                f"`{setting}` is not an OpenSSH public key; use the key as `ssh-keyscan -p "
                f"{port} {host}` prints it (`ssh-ed25519 AAAA...`) or a known_hosts line.",
                setting=setting,
            ) from None
        return SftpServer(login, str(config[self.folder]).strip())


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
