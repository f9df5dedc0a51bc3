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
        responses: Email response events (default 2 x contacts).
        export_delay: Seconds from export start to `done` (number or {export type: seconds}).
        timezone: Zone the account renders naive timestamps in.
        rate_limit: Requests per `rate_window` per API user; 1000 a minute is the real limit
            (docs/emarsys-api.md §3.3, §12.11), None switches enforcement off.
        rate_window: Rate window in seconds.
        token_ttl: OAuth token lifetime in seconds.
        rds_tables: {connection: {table: {"columns": [...], "primary_key": [...]}}}.
        rds_autocreate: Create unknown RDS tables from the first write.
        db_path: SQLite file for RDS data (a temporary file by default).
        port: TCP port on 127.0.0.1 (0: a free one).
        sftp_retry_interval: Seconds between upload attempts of an `sftp` export that failed.
        notification_retry_delay: Seconds between the 5 attempts of an export notification.
        email_keys_fold_case: Contact writes and reads keyed by e-mail (key_id 3) match
            addresses without regard to case (docs/emarsys-api.md §12.9; default: exact).
        denied_permissions: Permissions the OAuth2 API user lacks (`auth.PERMISSIONS`, e.g.
            `"exports"`): its requests to those endpoints answer 403 without a replyCode
            (docs/emarsys-api.md §12.8). WSSE requests are not affected.
        changes_last_update: getchanges CSV ends with `last update` (False: without, as the
            current published example, docs/emarsys-api.md §12.2).
        member_user_id: getcontacts and export/filter CSV start with `user_id` (False:
            without, as every current published example, §12.1).
        header_labels: "exact" (CSV labels are the `GET /field` names) or "variant" (labels
            spelled differently in the four ways sources show, §12.3).
        ready_is_final: `local` exports stop at `ready` and never report `done`; the file is
            served from `ready` on (§12.4).
        page_header: "every" download page repeats the header row, or only the "first"
            (offset 0) has it (§12.5).
        offset_counts: download `offset`/`limit` count data "rows", or file "lines" with the
            header as line 0 (§12.5).
        distribution_keys: "any" export takes `sftp_settings` or `ftp_settings`, or each only
            its "documented" key (§12.6).
    """

    def __init__(
        self,
        contacts: int = 200,
        seed: int = 7,
        *,
        responses: int | None = None,
        export_delay: float | dict[str, float] = 0.0,
        timezone: str = "Europe/Vienna",
        rate_limit: int | None = 1000,
        rate_window: float = 60.0,
        token_ttl: float = 3600.0,
        rds_tables: dict[str, dict[str, dict[str, Any]]] | None = None,
        rds_autocreate: bool = False,
        db_path: str | None = None,
        port: int = 0,
        sftp_retry_interval: float = 3600.0,
        notification_retry_delay: float = 60.0,
        email_keys_fold_case: bool = False,
        denied_permissions: frozenset[str] | tuple[str, ...] = (),
        changes_last_update: bool = True,
        member_user_id: bool = True,
        header_labels: str = "exact",
        ready_is_final: bool = False,
        page_header: str = "every",
        offset_counts: str = "rows",
        distribution_keys: str = "any",
    ) -> None:
        self.backend = SandboxBackend(
            contacts=contacts,
            seed=seed,
            responses=responses,
            export_delay=export_delay,
            timezone=timezone,
            rate_limit=rate_limit,
            rate_window=rate_window,
            token_ttl=token_ttl,
            rds_tables=rds_tables,
            rds_autocreate=rds_autocreate,
            db_path=db_path,
            sftp_retry_interval=sftp_retry_interval,
            notification_retry_delay=notification_retry_delay,
            email_keys_fold_case=email_keys_fold_case,
            denied_permissions=denied_permissions,
            changes_last_update=changes_last_update,
            member_user_id=member_user_id,
            header_labels=header_labels,
            ready_is_final=ready_is_final,
            page_header=page_header,
            offset_counts=offset_counts,
            distribution_keys=distribution_keys,
        )
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

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
