"""`Sandbox`: a running sandbox on 127.0.0.1 in a background thread, for tests and scripts."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from types import TracebackType
from typing import Any

from typing_extensions import override
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from emarsys_sandbox.backend import SandboxBackend
from emarsys_sandbox.distribution import EXPORT_FOLDER, STORAGE_MOUNT, StorageApp
from emarsys_sandbox.faults import Faults
from emarsys_sandbox.options import SandboxOptions, keyword_signature
from emarsys_sandbox.wsgi import SandboxApp


class _Handler(WSGIRequestHandler):
    """HTTP/1.1, so streamed downloads use chunked transfer encoding (a cut is detectable)."""

    protocol_version = "HTTP/1.1"

    @override
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged in `request_log()`, not on stderr."""


class Sandbox:
    """A local Emarsys: use as a context manager (or call `start()` / `close()`).

    Args:
        contacts: Synthetic account size.
        seed: Seed of every generated value (and of the fault sequence).
        **keywords: Any other option of `SandboxOptions` (`port`, `export_delay`,
            `rate_limit`, `rds_tables`, `denied_permissions`, the `ExportVariants` forms such
            as `ready_is_final`, ...); each field's `Flag.help` says what it does, and
            `inspect.signature(Sandbox)` lists them all with their defaults.
    """

    def __init__(self, contacts: int = 200, seed: int = 7, **keywords: Any) -> None:
        self.options = SandboxOptions.of(contacts=contacts, seed=seed, **keywords)
        self.backend = SandboxBackend(self.options)
        self._port = self.options.port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # the options, by name, for `inspect.signature` and `help()` (one declaration: `options`)
    __init__.__signature__ = keyword_signature(("contacts", "seed"))  # type: ignore[attr-defined]

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind and serve in a daemon thread."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = make_server(
            "127.0.0.1",
            self._port,
            DispatcherMiddleware(
                SandboxApp(self.backend),
                {
                    STORAGE_MOUNT: StorageApp(
                        self.backend.storage,
                        self.backend.exports.stored_file,
                        self.backend.exports.stored_files,
                    )
                },
            ),
            threaded=True,
            request_handler=_Handler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and drop the sandbox's files (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
            self._server = None
        self.backend.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- connection details ---------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "the sandbox is not started"
        return int(self._server.server_port)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`; the API paths `/api/v2`, `/api/v3`, ... hang below it."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> dict[str, str]:
        """Both credential pairs and the URLs, as connector settings (plus Storage WebDAV)."""
        c = self.backend.credentials
        return {
            "base_url": self.base_url,
            "username": c.username,
            "secret": c.secret,
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "token_url": f"{self.base_url}/oauth2/token",
            "webdav_url": self.webdav_url,
            "webdav_username": c.webdav_username,
            "webdav_password": c.webdav_password,
        }

    @property
    def webdav_url(self) -> str:
        """The Emarsys Storage folder finished `local` exports appear in (WebDAV, basic auth)."""
        return f"{self.base_url}{STORAGE_MOUNT}/{EXPORT_FOLDER}"

    def wsse_config(self, **extra: Any) -> dict[str, Any]:
        """A connector config using WSSE only (API v2)."""
        c = self.credentials
        return {
            "base_url": c["base_url"],
            "username": c["username"],
            "secret": c["secret"],
            **extra,
        }

    def oauth_config(self, **extra: Any) -> dict[str, Any]:
        """A connector config using OAuth2 only (API v3)."""
        c = self.credentials
        keys = ("base_url", "client_id", "client_secret", "token_url")
        return {**{k: c[k] for k in keys}, **extra}

    # --- control and inspection -----------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The fault settings (`update(...)`, `reset()`)."""
        return self.backend.faults

    def expected_export(self, export_type: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows an export with `body` must contain (typed, keyed by English labels)."""
        return self.backend.expected_export(export_type, body)

    def add_activity(self, at: datetime, contacts: int) -> None:
        """Add `contacts` new contacts registering, changing and responding at `at`."""
        self.backend.account.add_activity(at, contacts)

    def rds_rows(self, connection: str, table: str) -> list[dict[str, Any]]:
        """Rows of an RDS table."""
        return self.backend.rds.rows(connection, table)

    def behavior_events(self) -> list[dict[str, Any]]:
        """Behavior events received, each with its path parts and `event_time_utc`."""
        return list(self.backend.events)

    def contacts_written(self) -> list[dict[str, Any]]:
        """Contact writes received (`id`, `key_id`, `key_value`, `fields`, `created`)."""
        return self.backend.contacts_written()

    def contact_state(self) -> dict[int, dict[str, Any]]:
        """Every contact written to, by contact id: its fields as written, a later write winning."""
        return self.backend.contact_state()

    def remove_member(self, audience_id: int, contact_id: int) -> None:
        """Take a synthetic contact out of a contact list or segment (later exports follow)."""
        self.backend.set_membership(audience_id, contact_id, False)

    def add_member(self, audience_id: int, contact_id: int) -> None:
        """Put a synthetic contact into a contact list or segment (later exports follow)."""
        self.backend.set_membership(audience_id, contact_id, True)

    def request_log(self) -> list[dict[str, Any]]:
        """Every request answered: method, path, query, status, user, time."""
        return list(self.backend.requests)
