"""A throwaway PostgreSQL server on 127.0.0.1 for the warehouse tests.

The server binaries come from the `pgserver` wheel (a dev dependency: PostgreSQL 16 inside a
PyPI wheel), so a fresh machine with only python3 gets them with the rest of `.venv`; Debian's
`postgresql` package is used instead when the wheel is missing. Only the wheel's binaries are
used, not its Python API: that one listens on a Unix socket only and, run as root, adds a system
user and widens the permissions of every folder above the virtualenv.

PostgreSQL refuses to run as root (`initdb` and `postgres` exit at once), and CI runs as root:
then the server runs as `nobody`, from a copy of the wheel's binaries in the server's own folder
under the system temporary directory (a checkout under /root cannot be read by `nobody`), with a
data folder that `nobody` owns. It listens on 127.0.0.1 only (no Unix socket) and asks for a
password (scram-sha-256), like a warehouse a loader connects to over TCP.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from tests.helpers.ports import free_port

SUPERUSER = "postgres"
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT = 60.0  # seconds for the server to accept connections (2 busy cores in CI)


class ServerUnavailable(RuntimeError):
    """No PostgreSQL binaries, or the server did not start (the message says what to do)."""


def wheel_install() -> Path | None:
    """The `pginstall` folder of the pgserver wheel, if it is installed (without importing it).

    Importing `pgserver` would run its module-level set-up (a lock file in the user's runtime
    folder); only the location of its binaries is needed.
    """
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    return install if (install / "bin" / "postgres").exists() else None


def system_bin_dir() -> Path | None:
    """The newest Debian `postgresql-N` server binaries, or `postgres` on PATH."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("postgres")
    return Path(on_path).resolve().parent if on_path else None


class PostgresServer:
    """A PostgreSQL server started for the tests: `with PostgresServer() as server: ...`.

    Attributes:
        host: always 127.0.0.1.
        port: the TCP port it listens on.
        user: the superuser the tests and the loaders connect as.
        password: that user's password (random per server).
        version: the server's `SHOW server_version`.
    """

    host = "127.0.0.1"
    user = SUPERUSER

    def __init__(self) -> None:
        self.password = secrets.token_urlsafe(16)
        self.port = 0
        self.version = ""
        self.folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: str | None = UNPRIVILEGED_USER if os.geteuid() == 0 else None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        """initdb into a fresh folder, start `postgres` on a free port, wait until it answers.

        Raises:
            ServerUnavailable: no binaries, initdb failed, or the server did not come up.
        """
        self.folder = Path(tempfile.mkdtemp(prefix="emarsys-warehouse-pg-"))
        self.folder.chmod(0o755)  # the unprivileged user reaches the binaries and its data
        bin_dir = self._runnable_bin_dir(self.folder)
        data = self.folder / "data"
        data.mkdir(mode=0o700)
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        self._give_to_run_as(data, password_file)
        initdb = [
            str(bin_dir / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            self.user,
            "--pwfile",
            str(password_file),
            "--auth-host=scram-sha-256",
            "--auth-local=reject",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        done = subprocess.run(initdb, capture_output=True, text=True, timeout=120, **self._as())
        password_file.unlink()
        if done.returncode:
            raise ServerUnavailable(
                f"initdb failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}"
            )
        self.port = free_port()
        log = (self.folder / "server.log").open("wb")
        self._process = subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                # target-postgres writes date-time values as wall time in the session's zone
                "-c",
                "timezone=UTC",
                # a throwaway server: durability only costs time here
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **self._as(),
        )
        log.close()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT), a kill if it hangs, then the folder goes (idempotent)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        folder, self.folder = self.folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- use ------------------------------------------------------------------------------

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        """A psycopg connection (autocommit) as the superuser."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def create_database(self, name: str) -> str:
        """A new empty database (one per test keeps the tests apart)."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"database name {name!r}: lower-case letters, digits and _ only")
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    # --- internals ------------------------------------------------------------------------

    def _runnable_bin_dir(self, folder: Path) -> Path:
        """Binaries the server's user can run: the wheel's (copied when that user differs)."""
        install = wheel_install()
        if install is None:
            system = system_bin_dir()
            if system is None:
                raise ServerUnavailable(
                    "No PostgreSQL server binaries: install the dev dependencies "
                    "(`make test` does; they bring the pgserver wheel) or Debian's postgresql"
                )
            return system
        if self._run_as is None:
            return install / "bin"
        # The wheel's binaries find libpq through RPATH $ORIGIN/../../../pgserver.libs, and
        # their share/ and lib/ folders relative to bin/: copy that layout as it is.
        copy = folder / "install" / "pgserver" / "pginstall"
        for part in ("bin", "lib", "share"):
            shutil.copytree(install / part, copy / part, symlinks=True)
        libs = install.parent.parent / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, folder / "install" / "pgserver.libs", symlinks=True)
        for path in (folder / "install", *(folder / "install").rglob("*")):
            if path.is_dir():
                path.chmod(0o755)
        return copy / "bin"

    def _give_to_run_as(self, *paths: Path) -> None:
        if self._run_as is None:
            return
        entry = pwd.getpwnam(self._run_as)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _as(self) -> dict[str, Any]:
        """subprocess arguments that drop root to the unprivileged user (nothing otherwise)."""
        if self._run_as is None:
            return {}
        entry = pwd.getpwnam(self._run_as)
        return {
            "user": entry.pw_uid,
            "group": entry.pw_gid,
            "extra_groups": [],
            "env": {"PATH": os.defpath, "LC_ALL": "C", "HOME": "/"},
            "cwd": "/",
        }

    def _wait_until_ready(self) -> None:
        assert self._process is not None and self.folder is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise ServerUnavailable(
                    f"postgres exited with {self._process.returncode}: {self._log_tail()}"
                )
            with contextlib.suppress(psycopg.OperationalError), self.connect() as connection:
                row = connection.execute("SHOW server_version").fetchone()
                self.version = str(row[0]) if row else ""
                return
            if time.monotonic() > deadline:
                raise ServerUnavailable(
                    f"postgres did not accept connections on {self.host}:{self.port} within "
                    f"{START_TIMEOUT:.0f} s: {self._log_tail()}"
                )
            time.sleep(0.1)

    def _log_tail(self) -> str:
        assert self.folder is not None
        log = self.folder / "server.log"
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        return " | ".join(text.strip().splitlines()[-5:]) or "(no server log)"
