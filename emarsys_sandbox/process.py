"""`SandboxProcess`: `emarsys-sandbox serve` as a child process, for scripts and benchmarks.

The one way a script starts a sandbox in its own process (its CPU time then is not the
script's): start `serve --port 0 ...`, read the credentials line it prints first, call the
`/_sandbox/` control endpoints, stop it with SIGTERM. In-process use is `Sandbox(...)`.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import IO, Any

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def serve_command() -> list[str]:
    """The `emarsys-sandbox` script beside this Python, else `python -m emarsys_sandbox`."""
    script = Path(sys.executable).parent / "emarsys-sandbox"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "emarsys_sandbox"]


class SandboxStartError(RuntimeError):
    """`serve` exited or stayed silent instead of printing its credentials line."""


class SandboxProcess:
    """`emarsys-sandbox serve <flags>` as a child, stopped on `stop()` or leaving `with`.

    Args:
        *flags: `serve` flags (`"--contacts", "10", "--rate-limit", "off"`); `--port 0` is
            added unless a `--port` is given.
        stdout: Where the human-readable lines after the credentials line go (default:
            discarded; `sys.stdout` to show them).
        start_timeout: Seconds to wait for the credentials line.

    Attributes:
        returncode: The exit code once stopped (0: it stopped cleanly on SIGTERM).
        credentials: The credentials line (`base_url`, `username`, `secret`, `client_id`,
            `client_secret`, `token_url`, `webdav_*`), once started.
    """

    def __init__(
        self,
        *flags: str,
        stdout: IO[str] | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.flags = list(flags) if "--port" in flags else ["--port", "0", *flags]
        self.echo = stdout
        self.start_timeout = start_timeout
        self.credentials: dict[str, Any] = {}
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self.returncode: int | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` of the running sandbox."""
        return str(self.credentials["base_url"])

    def start(self) -> SandboxProcess:
        """Start `serve` and wait for its credentials line; SandboxStartError if none comes."""
        # held for the child's life (a pipe nobody reads could fill up), closed in `stop()`
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            [*serve_command(), "serve", *self.flags],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self._process.stdout is not None
        line = _read_line(self._process.stdout, self.start_timeout)
        if not line:
            if self._process.poll() is None:  # silent for `start_timeout`: not waiting longer
                self._process.kill()
            self._process.wait()
            reason = self._errors()
            self.stop()
            raise SandboxStartError(
                f"emarsys-sandbox serve {' '.join(self.flags)} did not start: {reason}"
            )
        self.credentials = json.loads(line)
        if self.echo is not None:
            self.echo.write(line)
        return self

    def control(self, path: str, payload: Any = None) -> Any:
        """Call `/_sandbox/<path>` (GET, or POST with a JSON `payload`); the decoded reply."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.base_url}/_sandbox/{path.lstrip('/')}",
            data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.loads(reply.read())

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time (idempotent); its exit code."""
        process = self._process
        if process is None:
            return self.returncode
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            rest = process.stdout.read()
            if self.echo is not None and rest:
                self.echo.write(rest)
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._process = None
        self.returncode = process.returncode
        return self.returncode

    def _errors(self) -> str:
        """What `serve` wrote to stderr (its usage error, say), or its exit code."""
        code = self._process.poll() if self._process is not None else None
        text = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace").strip()
        return text.splitlines()[-1] if text else f"exit code {code}"

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()  # whatever ended the block: the child never outlives it


def _read_line(stream: IO[str], timeout: float) -> str:
    """One line from a child's stdout, or "" after `timeout` seconds or at its end."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return stream.readline()
