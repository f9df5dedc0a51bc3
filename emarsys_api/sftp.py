"""SFTP with a verified host key, and the errors of file delivery (emarsys_api knows no Singer).

Shared by the tap's `sftp` delivery (reading export files) and the target's bulk RDS path
(writing CSV files). The server is trusted only by its host key: a configured OpenSSH public key
or, without one, known_hosts; an unknown or changed key refuses the connection. Errors name the
host, the path, the export (if any) and the setting to fix, never a password.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emarsys_api.errors import EmarsysError

if TYPE_CHECKING:
    import paramiko

CONNECT_TIMEOUT = 30.0


class SecretText(str):
    """A string that is sent as itself but never shown by `repr` (export bodies get logged)."""

    def __repr__(self) -> str:
        return "'***'"


class DeliveryError(EmarsysError):
    """A delivered export file could not be read; names host, path and export id, never a secret.

    Attributes:
        host: the WebDAV or SFTP host.
        path: the file's path on that host.
        export_id: the export the file belongs to.
        setting: the setting to fix, when one is to blame.
    """

    hint = "Check that the file delivery settings point at the server Emarsys delivers to."

    def __init__(
        self,
        message: str,
        *,
        host: str,
        path: str,
        export_id: int | None,
        setting: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.host = host
        self.path = path
        self.export_id = export_id
        self.setting = setting
        self.message = message
        super().__init__(reply_text=message, endpoint=host, hint=hint)

    def _compose(self) -> str:
        export = f"export {self.export_id}, " if self.export_id is not None else ""
        path = f", path {self.path}" if self.path else ""
        return f"{export}host {self.host}{path}: {self.message}. {self.hint}"

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_delivery,
            (type(self), self.message, self.host, self.path, self.export_id, self.setting,
             self.hint),
        )  # fmt: skip


def _rebuild_delivery(
    cls: type[DeliveryError],
    message: str,
    host: str,
    path: str,
    export_id: int | None,
    setting: str | None,
    hint: str,
) -> DeliveryError:
    return cls(message, host=host, path=path, export_id=export_id, setting=setting, hint=hint)


class DeliveryAuthError(DeliveryError):
    """The WebDAV or SFTP server refused the credentials (the message names the settings)."""

    permanent = True


class HostKeyError(DeliveryError):
    """The SFTP server's host key is unknown or differs from the one configured."""

    permanent = True


class FileMissingError(DeliveryError):
    """The file was missing or incomplete on every attempt."""


@dataclass
class SftpLogin:
    """Where and as whom to log in; `prefix` names the settings in errors (`sftp`, `rds_sftp`).

    Attributes:
        host: server name or address.
        port: TCP port.
        username: login user.
        password: login password (never shown).
        host_key: the server's public key text; None reads known_hosts.
        known_hosts: a known_hosts file instead of the user's default ones.
        timeout: connect, banner and auth timeout in seconds.
        prefix: setting name prefix for messages.
    """

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    host_key: str | None = None
    known_hosts: str | None = None
    timeout: float = CONNECT_TIMEOUT
    prefix: str = "sftp"

    def __post_init__(self) -> None:
        self.password = SecretText(self.password)
        self._key = parse_host_key(self.host_key, self.host, self.port, self.prefix)

    @property
    def address(self) -> str:
        """`host:port`, as messages name the server."""
        return f"{self.host}:{self.port}"

    @contextmanager
    def session(
        self, export_id: int | None = None, path: str = ""
    ) -> Iterator[paramiko.SFTPClient]:
        """An SFTP session, the host verified by its key; errors name host, path and setting.

        Raises:
            HostKeyError: the host key is unknown or differs.
            DeliveryAuthError: the login was refused.
            DeliveryError: unreachable, or SSH failed otherwise.
        """
        import paramiko

        client = paramiko.SSHClient()
        if self._key is not None:
            for name in _host_names(self.host, self.port):
                client.get_host_keys().add(name, self._key.get_name(), self._key)
        else:
            client.load_system_host_keys(self.known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        where = _Where(self.address, path, export_id)
        try:
            client.connect(
                self.host,
                self.port,
                username=self.username,
                password=str(self.password),
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                look_for_keys=False,
                allow_agent=False,
            )
        except paramiko.BadHostKeyException:
            client.close()
            raise HostKeyError(
                "the server's host key does not match the configured one; refusing to connect",
                **where.kwargs(),
                setting=f"{self.prefix}_host_key",
                hint="If the server's key really changed, put its new public key in "
                f"`{self.prefix}_host_key` (or known_hosts) after checking it with the server's "
                "owner.",
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            raise DeliveryAuthError(
                "the SFTP server refused the login",
                **where.kwargs(),
                setting=f"{self.prefix}_password",
                hint=f"Fix the `{self.prefix}_username` / `{self.prefix}_password` settings.",
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "known_hosts" in str(exc):
                raise HostKeyError(
                    "the server's host key is unknown; refusing to connect",
                    **where.kwargs(),
                    setting=f"{self.prefix}_host_key",
                    hint=f"Set `{self.prefix}_host_key` to the server's public key (`ssh-keyscan` "
                    "output, checked with the server's owner) or add it to known_hosts.",
                ) from None
            raise DeliveryError(
                f"SSH failed ({exc})", **where.kwargs(), setting=f"{self.prefix}_host"
            ) from None
        except OSError as exc:
            client.close()
            raise DeliveryError(
                f"cannot connect ({type(exc).__name__}: {exc})",
                **where.kwargs(),
                setting=f"{self.prefix}_host",
                hint=f"Check `{self.prefix}_host` and `{self.prefix}_port`, and that this "
                "machine may reach it.",
            ) from None
        try:
            sftp = client.open_sftp()
            try:
                yield sftp
            finally:
                sftp.close()
        finally:
            client.close()


@dataclass(frozen=True)
class _Where:
    host: str
    path: str
    export_id: int | None

    def kwargs(self) -> dict[str, Any]:
        return {"host": self.host, "path": self.path, "export_id": self.export_id}


def _host_names(host: str, port: int) -> list[str]:
    return [host] if port == 22 else [f"[{host}]:{port}", host]


def parse_host_key(
    text: str | None, host: str, port: int, prefix: str = "sftp"
) -> paramiko.PKey | None:
    """A key from `ssh-ed25519 AAAA...` (optionally with a comment) or a known_hosts line."""
    if not text:
        return None
    import paramiko

    parts = text.split()
    if parts and not (parts[0].startswith(("ssh-", "ecdsa-", "sk-"))):
        parts = parts[1:]  # a known_hosts line starts with the host name(s)
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except (IndexError, ValueError, binascii.Error, paramiko.SSHException) as exc:
        raise HostKeyError(
            f"`{prefix}_host_key` is not an OpenSSH public key ({type(exc).__name__})",
            host=f"{host}:{port}",
            path="",
            export_id=None,
            setting=f"{prefix}_host_key",
            hint="Use the key as `ssh-keyscan -p PORT HOST` prints it (`ssh-ed25519 AAAA...`).",
        ) from None
