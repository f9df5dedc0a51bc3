"""Export notifications: a small HTTP listener Emarsys calls when an export finishes.

An export started with `notification_url` makes Emarsys send "the same payload as the Check
Export Status response" there, retried 5 times a minute apart (docs/emarsys-api.md §4). The
HTTP method is not documented, so POST, PUT and GET are all taken. A callback only wakes the
waiting poller, which then asks `GET /export/{id}` as usual: a forged or repeated callback can
cause one extra status request, never a wrong result, and a lost one only costs the (slower)
polling interval.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from typing_extensions import override

from emarsys_api.errors import ConfigurationError

logger = logging.getLogger("emarsys_api")

MAX_BODY = 1 << 16
WAIT_SLICE = 0.2


def parse_listen_address(text: str, *, setting: str = "notification_listen") -> tuple[str, int]:
    """`host:port` (port 0: any free port) as a pair.

    Raises:
        ConfigurationError: not `host:port` with a port in 0..65535.
    """
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(
            f"expected host:port (e.g. 0.0.0.0:8765), got {text!r}", setting=setting
        )
    return host.strip("[]"), int(port)


def export_id_of(payload: Any) -> int | None:
    """The export id in a callback payload (the status envelope, or its `data` alone)."""
    if isinstance(payload, dict):
        data = payload.get("data", payload)
        if isinstance(data, dict):
            value = data.get("id")
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().isdigit():
                return int(value)
    return None


class ExportNotifications:
    """Listens on host:port; `wait(export_id, ...)` returns early once that export was announced.

    Use as a context manager, or call `start()` and `close()`.
    """

    def __init__(self, host: str, port: int) -> None:
        """Bind later, in `start()`.

        Args:
            host: interface to listen on.
            port: TCP port (0: a free one, see `port`).
        """
        self.host = host
        self.requested_port = port
        self._announced: set[int] = set()
        self._condition = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.received = 0

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "the listener is not started"
        return int(self._server.server_address[1])

    def start(self) -> ExportNotifications:
        """Bind and serve in a daemon thread."""
        listener = self

        class Handler(BaseHTTPRequestHandler):
            @override
            def log_message(self, format: str, *args: Any) -> None:
                """Callbacks are logged once, by `announce`."""

            def _take(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                body = self.rfile.read(length) if length else b""
                payload: Any = None
                try:
                    payload = json.loads(body) if body else None
                except ValueError:
                    payload = None
                if payload is None:
                    query = parse_qs(urlsplit(self.path).query)
                    payload = {"id": (query.get("id") or query.get("export_id") or [""])[0]}
                export_id = export_id_of(payload)
                self.send_response(200 if export_id is not None else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if export_id is not None:
                    listener.announce(export_id)

            do_POST = do_PUT = do_GET = _take

        try:
            self._server = ThreadingHTTPServer((self.host, self.requested_port), Handler)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {self.host}:{self.requested_port} ({exc.strerror or exc})",
                setting="notification_listen",
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="export-notifications",
            daemon=True,
        )
        self._thread.start()
        logger.info("listening for export notifications on %s:%d", self.host, self.port)
        return self

    def announce(self, export_id: int) -> None:
        """Mark an export as finished by Emarsys's word and wake its waiter."""
        with self._condition:
            self.received += 1
            self._announced.add(export_id)
            self._condition.notify_all()
        logger.info("export %s: notification received", export_id)

    def wait(self, export_id: int, timeout: float, stopped: threading.Event | None = None) -> bool:
        """Wait up to `timeout` seconds for `export_id`'s notification (or `stopped`).

        Returns:
            True when the notification came (it is consumed), False on timeout or stop.
        """
        deadline = time.monotonic() + timeout
        with self._condition:
            while export_id not in self._announced:
                left = deadline - time.monotonic()
                if left <= 0 or (stopped is not None and stopped.is_set()):
                    return False
                self._condition.wait(min(left, WAIT_SLICE))
            self._announced.discard(export_id)
            return True

    def close(self) -> None:
        """Stop listening (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ExportNotifications:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
