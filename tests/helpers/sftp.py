"""A real SFTP server on 127.0.0.1 (asyncssh, in a background thread), for file delivery tests.

The `sftp_server` fixture (tests/conftest.py) starts one per test; bench/delivery_throughput.py
starts one itself.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import asyncssh

SFTP_USER = "emarsys_drop"
SFTP_PASSWORD = "sftp-pass-(do-not-log)"


class _RecordingSftp(asyncssh.SFTPServer):
    """Chrooted SFTP that records opens for writing and renames (to prove atomic uploads)."""

    def __init__(self, chan: asyncssh.SSHServerChannel, root: str, events: list[Any]) -> None:
        super().__init__(chan, chroot=root)
        self._events = events

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & asyncssh.FXF_WRITE:
            self._events.append(("write", path.decode()))
        return super().open(path, pflags, attrs)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._events.append(("rename", oldpath.decode(), newpath.decode()))
        super().rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._events.append(("rename", oldpath.decode(), newpath.decode()))
        super().posix_rename(oldpath, newpath)


class _PasswordServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == SFTP_USER and password == SFTP_PASSWORD


class SftpServer:
    """An SSH/SFTP server chrooted to `root`, password login, a fresh ed25519 host key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.events: list[Any] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._acceptor: Any = None

    @property
    def host_key(self) -> str:
        """The public host key as `ssh-keyscan` prints it (without the host name)."""
        return bytes(self.key.export_public_key()).decode().strip()

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Tap settings for `delivery: sftp` against this server."""
        return {
            "delivery": "sftp",
            "sftp_host": "127.0.0.1",
            "sftp_port": self.port,
            "sftp_username": SFTP_USER,
            "sftp_password": SFTP_PASSWORD,
            "sftp_path": "/exports",
            "sftp_host_key": self.host_key,
            **extra,
        }

    def start(self) -> SftpServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    async def _listen(self) -> None:
        root = str(self.root)
        self._acceptor = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=_PasswordServer,
            server_host_keys=[self.key],
            sftp_factory=lambda chan: _RecordingSftp(chan, root, self.events),
            allow_scp=False,
        )
        self.port = self._acceptor.get_port()

    async def _close(self) -> None:
        self._acceptor.close()
        await self._acceptor.wait_closed()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
