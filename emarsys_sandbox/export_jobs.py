"""Export jobs: the status walk, one worker rendering files, delivery after the build.

`ExportStore` numbers the account's exports, walks each through `scheduled` -> `in progress` ->
`ready` -> `done` (docs/emarsys-api.md §5.1), renders its file (`export_files`) in the background
and hands finished `sftp`/notification exports to `distribution`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from emarsys_sandbox.distribution import (
    Storage,
    describe_failure,
    notify,
    upload_sftp,
    wait_until,
)
from emarsys_sandbox.exceptions import (
    ExportAlreadyRunning,
    ExportDataExpired,
    ExportFileNotFound,
    ExportInProgress,
    ExportNotLocal,
    InvalidParameter,
)
from emarsys_sandbox.export_files import ExportFile, file_name, render_file
from emarsys_sandbox.export_specs import TYPE_NAMES, ExportSpec
from emarsys_sandbox.models import SyntheticAccount

log = logging.getLogger("emarsys_sandbox")

FIRST_EXPORT_ID = 2140
RENDER_WAIT = 5.0


@dataclass
class ExportJob:
    """One export: its request, timing and (once rendered) its file."""

    id: int
    spec: ExportSpec
    fingerprint: str
    created: float
    delay: float
    fails: bool
    file: ExportFile | None = None
    render_error: BaseException | None = None
    rendering: threading.Event = field(default_factory=threading.Event)
    rendered: threading.Event = field(default_factory=threading.Event)
    sftp_settings: dict[str, Any] | None = None
    notification_url: str | None = None
    delivered: threading.Event = field(default_factory=threading.Event)
    delivery_error: str | None = None

    def status(self, now: float) -> str:
        """`scheduled` -> `in progress` -> `ready` -> `done` (or `error`) over `delay` seconds."""
        elapsed = now - self.created
        if elapsed >= self.delay:
            # Small files are done on the first poll; a huge one answers `in progress` until
            # written (`scheduled` while queued behind others), so a poll never hangs for long.
            if not self.rendered.wait(timeout=RENDER_WAIT):
                return "in progress" if self.rendering.is_set() else "scheduled"
            if self.fails or self.render_error:
                return "error"
            # docs/emarsys-api.md §5.1: an upload that failed (host unreachable, login refused)
            # leaves the export `ready` until a later attempt succeeds.
            if self.spec.distribution_method == "sftp" and not self.delivered.is_set():
                return "ready"
            # docs/emarsys-api.md §12.4: some accounts' local exports never come to `done`
            if self.spec.variants.ready_is_final and self.spec.distribution_method == "local":
                return "ready"
            return "done"
        if elapsed < self.delay / 3:
            return "scheduled"
        if elapsed < 2 * self.delay / 3:
            return "in progress"
        return "ready"

    def served_at(self, status: str) -> bool:
        """Whether a download is answered with the file at this status.

        `done` always; `ready` too when the account's exports end there (`ready_is_final`),
        once the file is written and the export is not heading for `error`.
        """
        if status == "done":
            return True
        return (
            status == "ready"
            and self.spec.variants.ready_is_final
            and self.rendered.is_set()
            and self.file is not None
            and not (self.fails or self.render_error)
        )

    def running(self, now: float) -> bool:
        """Whether an identical export would be refused with 4001."""
        return now - self.created < self.delay or not self.rendered.is_set()


class ExportStore:
    """All exports of the account, numbered from 2140 as in the published examples."""

    def __init__(
        self,
        account: SyntheticAccount,
        directory: Path,
        storage: Storage | None = None,
        *,
        sftp_retry_interval: float = 3600.0,
        notification_retry_delay: float = 60.0,
        drop_notifications: Callable[[], bool] = lambda: False,
    ) -> None:
        self.account = account
        self.directory = directory
        self.storage = storage
        self.sftp_retry_interval = sftp_retry_interval
        self.notification_retry_delay = notification_retry_delay
        self.drop_notifications = drop_notifications
        self.jobs: dict[int, ExportJob] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        # Emarsys builds an account's exports one after another (`scheduled` until its turn), so
        # one worker renders them in the order they were requested. Rendering them all at once
        # would only make every export finish late together.
        self._queue: queue.SimpleQueue[ExportJob] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def start(self, spec: ExportSpec, body: dict[str, object], delay: float, fails: bool) -> int:
        """Register an export and render its file in the background; returns its id."""
        fingerprint = spec.export_type + json.dumps(body, sort_keys=True, default=str)
        now = time.time()
        with self._lock:
            if any(j.fingerprint == fingerprint and j.running(now) for j in self.jobs.values()):
                raise ExportAlreadyRunning()
            job_id = FIRST_EXPORT_ID + len(self.jobs)
            job = ExportJob(job_id, spec, fingerprint, now, delay, fails)
            if spec.distribution_method == "sftp":
                raw = body.get(spec.server_settings_key or "sftp_settings")
                settings = dict(raw) if isinstance(raw, dict) else {}
                # the old reference spells the port `ftp_port` (docs/emarsys-api.md §4.2)
                if "port" not in settings and "ftp_port" in settings:
                    settings["port"] = settings["ftp_port"]
                job.sftp_settings = settings
            url = body.get("notification_url")
            job.notification_url = url if isinstance(url, str) and url else None
            self.jobs[job_id] = job
            if self._worker is None:
                self._worker = threading.Thread(target=self._render_queue, daemon=True)
                self._worker.start()
        self._queue.put(job)
        if job.sftp_settings is not None or job.notification_url:
            threading.Thread(target=self._finish, args=(job,), daemon=True).start()
        return job_id

    def get(self, export_id: str) -> ExportJob:
        """The job, or 400/10001 `Invalid export ID` (docs/emarsys-api.md §5.1)."""
        job = self.jobs.get(int(export_id)) if export_id.isdigit() else None
        if job is None:
            raise InvalidParameter("Invalid export ID")
        return job

    def describe(self, job: ExportJob) -> dict[str, object]:
        """`GET /export/{id}` data (docs/emarsys-api.md §5.1: string id, Vienna `created`)."""
        status = job.status(time.time())
        created = datetime.fromtimestamp(job.created, self.account.zone)
        name = file_name(job.id, job.spec) if status == "done" else None
        described: dict[str, object] = {
            "id": str(job.id),
            "created": created.strftime("%Y-%m-%d %H:%M:%S"),
            "status": status,
            "type": TYPE_NAMES[job.spec.export_type],
            "file_name": name,
            "ftp_host": None,
            "ftp_dir": None,
        }
        if job.sftp_settings is not None:
            if job.delivered.is_set():
                described["ftp_host"] = job.sftp_settings.get("host")
                described["ftp_dir"] = job.sftp_settings.get("folder") or ""
            # not in the API docs: the sandbox says why an upload keeps the export `ready`
            described["distribution_error"] = job.delivery_error
        return described

    def stored_file(self, export_id: int) -> tuple[str, ExportFile, bool] | None:
        """A finished `local` export as (file name, file, with header), for Emarsys Storage."""
        job = self.jobs.get(export_id)
        if job is None or job.spec.distribution_method != "local":
            return None
        if job.status(time.time()) != "done" or job.file is None:
            return None
        return file_name(job.id, job.spec), job.file, job.spec.header

    def stored_files(self) -> list[tuple[str, ExportFile, bool]]:
        """Every finished `local` export, for a Storage folder listing."""
        found = [self.stored_file(export_id) for export_id in list(self.jobs)]
        return [item for item in found if item is not None]

    def _finish(self, job: ExportJob) -> None:
        """After the build: upload an `sftp` export (retrying), then send the notification."""
        if not wait_until(job.created + job.delay, self._closing):
            return
        while not job.rendered.wait(0.1):
            if self._closing.is_set():
                return
        settings = job.sftp_settings
        if settings is not None and not (job.fails or job.render_error) and job.file is not None:
            name = file_name(job.id, job.spec)
            while True:
                try:
                    upload_sftp(settings, name, job.file, job.spec.header)
                except Exception as exc:  # stays `ready`, as Emarsys does; retried later
                    job.delivery_error = describe_failure(exc, settings)
                    log.info("export %s: %s", job.id, job.delivery_error)
                    if self._closing.wait(self.sftp_retry_interval):
                        return
                    continue
                job.delivery_error = None
                job.delivered.set()
                break
        if job.notification_url and not self.drop_notifications():
            payload = {"replyCode": 0, "replyText": "OK", "data": self.describe(job)}
            notify(job.notification_url, payload, self.notification_retry_delay, self._closing)

    def file_for_download(self, job: ExportJob, expired: bool) -> ExportFile:
        """The file to serve, or the 404/410 errors of docs/emarsys-api.md §5.2."""
        if job.spec.distribution_method != "local":
            raise ExportNotLocal()
        status = job.status(time.time())
        if status == "error":
            raise ExportFileNotFound()
        if not job.served_at(status):
            raise ExportInProgress()
        if expired:
            raise ExportDataExpired()
        assert job.file is not None
        return job.file

    def _render_queue(self) -> None:
        while True:
            self._render(self._queue.get())

    def _render(self, job: ExportJob) -> None:
        job.rendering.set()
        try:
            stem = self.directory / f"export_{job.id}"
            job.file = render_file(job.spec, self.account, stem, self._closing.is_set)
        except BaseException as exc:  # kept for the status, never crashes the server
            job.render_error = exc
        finally:
            job.rendered.set()

    def close(self) -> None:
        """Stop rendering and remove the rendered files."""
        self._closing.set()
        for job in self.jobs.values():
            job.rendered.wait(timeout=10)
            if job.file is not None:
                for p in (job.file.path, job.file.index_path):
                    p.unlink(missing_ok=True)
