"""Export jobs run side by side, handed back in order.

Emarsys builds an export asynchronously (docs/emarsys-api.md §4): start it, poll its status, then
download the CSV. Building takes the time, so several exports are started and polled at once on
worker threads, while the stream downloads and writes them strictly in order on its own thread.
A unit (a window, a contact list, a segment) can need several exports (more than 20 contact
fields); it is handed back only when all of them are done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from typing_extensions import override

from emarsys_api import (
    EmarsysError,
    ExportAlreadyRunningError,
    ExportError,
    ExportExpiredError,
    ExportFailedError,
    ExportTimeoutError,
)
from emarsys_api.exports import ExportWaitStopped, RowsHandedOut, poll_export

if TYPE_CHECKING:
    from emarsys_api import EmarsysClient, ExportType
    from emarsys_api.file_delivery import FileDelivery
    from emarsys_api.notifications import ExportNotifications

UnitT = TypeVar("UnitT")

# Retry layers: 4 of 4, an export requested again (the others: each request in
# `emarsys_api.transport`, download resume in `emarsys_api.exports.export_rows`, file re-fetch in
# `emarsys_api.file_delivery`).
RE_REQUESTS = 2  # an export ending in `error` or expired (410) is requested again this often
NOTIFIED_POLL_FACTOR = 3  # with notifications, polling is only the fallback: this much slower
READY_GRACE = 60.0  # seconds `ready` before a local export's file is tried (export_ready_grace)


@dataclass(frozen=True)
class ExportRequest:
    """One export to start.

    Attributes:
        export_type: the export endpoint.
        body: the export's JSON body.
    """

    export_type: ExportType
    body: dict[str, Any]


@dataclass(frozen=True)
class ExportUnit(Generic[UnitT]):
    """What one step of a stream covers, and the exports it needs (the first is primary).

    Attributes:
        key: the window or partition this unit stands for.
        label: how errors and logs name it (`window [..)`, `contact list 12`).
        requests: one export per group of at most 20 contact fields.
    """

    key: UnitT
    label: str
    requests: Sequence[ExportRequest]


class ExportJobError(ExportError):
    """An export of a stream could not be completed; names stream, unit and export id.

    An `ExportError` of the client (so `except EmarsysError` and the command's one-line
    printing cover it), told with what only the tap knows: the stream and its window or
    partition.

    Attributes:
        stream: the stream name.
        unit: the window or partition label.
        export_id: the last export id Emarsys gave, if any.
        reason: what went wrong (the client's error, or the tap's own reason).
    """

    def __init__(self, stream: str, unit: str, export_id: int | None, reason: str) -> None:
        self.stream = stream
        self.unit = unit
        self.export_id = export_id
        self.reason = reason
        endpoint = f"export {export_id}" if export_id is not None else "export"
        super().__init__(reply_text=reason, endpoint=endpoint)

    @override
    def _compose(self) -> str:
        return (
            f"Stream '{self.stream}', {self.unit}: {self.endpoint} failed: "
            f"{self.reason.rstrip('. ')}. The bookmark stays at the last fully written window; "
            "rerun to resume from there."
        )

    @override
    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.stream, self.unit, self.export_id, self.reason))


@dataclass
class ExportSettings:
    """The tap's export pacing settings.

    Attributes:
        max_concurrent: exports in flight at once (`max_concurrent_exports`).
        poll_interval: seconds between status polls (`export_poll_interval`).
        timeout: seconds an export may take to build (`export_timeout`).
        ready_grace: seconds a local export may stay `ready` before its file is tried
            (`export_ready_grace`, docs/emarsys-api.md §12.4).
        re_requests: how often an export in `error` or expired is requested again.
        delivery: how finished files are fetched (None: `GET /export/{id}/data`).
        notifications: the listener export notifications arrive at (None: poll only).
    """

    max_concurrent: int = 4
    poll_interval: float = 5.0
    timeout: float = 3600.0
    ready_grace: float = READY_GRACE
    re_requests: int = RE_REQUESTS
    delivery: FileDelivery | None = None
    notifications: ExportNotifications | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("tap_emarsys"))


class ExportRunner:
    """Starts and polls the exports of one stream; hands units back in order."""

    def __init__(self, client: EmarsysClient, stream: str, settings: ExportSettings) -> None:
        """Bind the runner to a client and a stream.

        Args:
            client: the Emarsys client (thread-safe for concurrent calls).
            stream: the stream name, for errors and logs.
            settings: pacing and retry settings.
        """
        self.client = client
        self.stream = stream
        self.settings = settings

    def ready(
        self, units: Iterable[ExportUnit[UnitT]]
    ) -> Iterator[tuple[ExportUnit[UnitT], list[int]]]:
        """Yield each unit with the ids of its finished exports, in the order given.

        Exports for later units are started and polled while earlier ones are consumed, at most
        `max_concurrent` at a time; a bounded look-ahead keeps finished files from waiting so long
        that they expire.

        Args:
            units: the units in emission order.

        Yields:
            `(unit, export ids)` with every export of the unit in status `done`.
        """
        workers = max(1, self.settings.max_concurrent)
        lookahead = 2 * workers
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"export-{self.stream}")
        pending: deque[tuple[ExportUnit[UnitT], list[Future[int]]]] = deque()
        upcoming = iter(units)
        exhausted = False
        stopped = threading.Event()  # tells workers (waiting on 4001 or polling) to give up
        try:
            while True:
                while not exhausted and sum(len(fs) for _, fs in pending) < lookahead:
                    unit = next(upcoming, None)
                    if unit is None:
                        exhausted = True
                        break
                    futures = [
                        pool.submit(self.prepare, unit.label, req, stopped) for req in unit.requests
                    ]
                    pending.append((unit, futures))
                if not pending:
                    return
                unit, futures = pending.popleft()
                yield unit, [future.result() for future in futures]
        finally:
            stopped.set()
            for _, futures in pending:
                for future in futures:
                    future.cancel()
            # Workers notice `stopped` within one poll; waiting for them keeps no thread (and no
            # request against Emarsys) alive after the stream ends.
            pool.shutdown(wait=True, cancel_futures=True)

    def prepare(
        self, label: str, request: ExportRequest, stopped: threading.Event | None = None
    ) -> int:
        """Start one export and wait until it is done, requesting it again after an `error`.

        Args:
            label: the unit's label, for errors and logs.
            request: the export to run.
            stopped: set when the sync gave up on this unit (another unit failed).

        Returns:
            The id of the finished export.

        Raises:
            ExportJobError: the export failed every attempt, timed out, or was refused.
        """
        export_id: int | None = None
        for attempt in range(self.settings.re_requests + 1):
            if stopped is not None and stopped.is_set():
                msg = "the sync stopped"
                raise ExportJobError(self.stream, label, export_id, msg)
            export_id = self._start(label, request, stopped)
            try:
                self._wait(label, export_id, stopped)
            except ExportFailedError as error:
                if attempt == self.settings.re_requests:
                    raise ExportJobError(
                        self.stream,
                        label,
                        export_id,
                        f"status `error` on every attempt; last reply: {error}",
                    ) from error
                self.settings.logger.warning(
                    "Stream '%s', %s: export %s ended in `error`; requesting it again.",
                    self.stream,
                    label,
                    export_id,
                )
                continue
            except ExportTimeoutError as error:
                reason = f"not done within export_timeout={self.settings.timeout:g}s; {error}"
                raise ExportJobError(self.stream, label, export_id, reason) from error
            except ExportJobError:
                raise  # already names stream and unit
            except EmarsysError as error:
                raise ExportJobError(self.stream, label, export_id, str(error)) from error
            return export_id
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, label: str, export_id: int, stopped: threading.Event | None) -> None:
        """Poll the export until `done`, through the client's one poll loop (stoppable).

        With notifications the poll is only the fallback (3x slower) and a notification ends
        the pause early. A local export (`api` or `webdav` delivery) that stays `ready` for
        `export_ready_grace` seconds has its file tried (docs/emarsys-api.md §12.4).

        Raises:
            ExportFailedError: status `error`.
            ExportTimeoutError: not done within `export_timeout`.
            ExportJobError: the sync stopped meanwhile.
        """
        settings = self.settings
        notifications = settings.notifications
        interval = settings.poll_interval
        pause: Callable[[float], object] | None = None
        if notifications is not None:
            interval *= NOTIFIED_POLL_FACTOR

            def pause(seconds: float) -> object:
                return notifications.wait(export_id, seconds, stopped)

        local = settings.delivery is None or settings.delivery.method == "local"
        try:
            poll_export(
                export_id,
                lambda: self.client.export_status(export_id),
                poll_interval=interval,
                timeout=settings.timeout,
                endpoint=f"GET /export/{export_id}",
                label=f"Stream '{self.stream}', {label}",
                ready_grace=settings.ready_grace if local else None,
                data_available=lambda: self.client.export_data_available(export_id),
                stopped=stopped,
                pause=pause,
                log=settings.logger,
            )
        except ExportWaitStopped:
            raise ExportJobError(self.stream, label, export_id, "the sync stopped") from None

    def _start(self, label: str, request: ExportRequest, stopped: threading.Event | None) -> int:
        # docs/emarsys-api.md §4.3: 4001 means an identical export is still running (e.g. left
        # over from an interrupted run); wait for it to finish, within export_timeout, then start
        # ours.
        deadline = time.monotonic() + self.settings.timeout
        while True:
            try:
                return self.client.start_export(request.export_type, request.body)
            except ExportAlreadyRunningError as error:
                if time.monotonic() >= deadline:
                    reason = (
                        "an identical export kept running past export_timeout "
                        f"={self.settings.timeout:g}s; {error}"
                    )
                    raise ExportJobError(self.stream, label, None, reason) from error
                self.settings.logger.info(
                    "Stream '%s', %s: an identical export is running; waiting.", self.stream, label
                )
                if stopped is None:
                    time.sleep(self.settings.poll_interval)
                elif stopped.wait(self.settings.poll_interval):
                    raise ExportJobError(self.stream, label, None, "the sync stopped") from error
            except EmarsysError as error:
                raise ExportJobError(self.stream, label, None, str(error)) from error

    def rows(self, label: str, request: ExportRequest, export_id: int) -> Iterator[list[str]]:
        """Stream an export's CSV rows (header first), requesting it again if the file expired.

        When the file is gone (410) part way, the export is requested again and the rows
        already handed out are skipped, so none is repeated or lost.

        Args:
            label: the unit's label.
            request: the request that produced `export_id` (to request it again).
            export_id: the finished export.

        Yields:
            The header row, then the data rows.

        Raises:
            ExportJobError: the file expired on every attempt, or the download failed.
        """
        handed: RowsHandedOut[list[str]] = RowsHandedOut()  # rows, header included
        started, bytes_before = time.monotonic(), downloaded_bytes(self.client, self.settings)
        for attempt in range(self.settings.re_requests + 1):
            try:
                yield from handed.fresh(self._download(export_id))
                # One line per file, so a nightly log shows where download time went.
                self.settings.logger.info(
                    "Stream '%s', %s: export %s downloaded: %d rows, %s bytes in %.1f s",
                    self.stream,
                    label,
                    export_id,
                    max(0, handed.count - 1),
                    f"{downloaded_bytes(self.client, self.settings) - bytes_before:,}",
                    time.monotonic() - started,
                )
                return
            except ExportExpiredError as error:
                if attempt == self.settings.re_requests:
                    raise ExportJobError(
                        self.stream,
                        label,
                        export_id,
                        f"the file expired on every attempt; last reply: {error}",
                    ) from error
                self.settings.logger.warning(
                    "Stream '%s', %s: export %s file expired (410); requesting it again.",
                    self.stream,
                    label,
                    export_id,
                )
                export_id = self.prepare(label, request)
            except ExportJobError:
                raise  # already names stream and unit
            except EmarsysError as error:
                raise ExportJobError(self.stream, label, export_id, str(error)) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(self, export_id: int) -> Iterator[list[str]]:
        """The finished file's rows: from the API, or the way `delivery` says."""
        delivery = self.settings.delivery
        if delivery is None:
            return self.client.export_rows(export_id)
        status = self.client.export_status(export_id)
        if delivery.method == "local" and not status.get("file_name"):
            # An export that stays `ready` names no file yet (docs/emarsys-api.md §5.1, §12.4);
            # the data are in Emarsys Storage all the same, and the API serves them.
            self.settings.logger.info(
                "Stream '%s': export %s is `%s` without a file name; downloading it through "
                "the API instead of WebDAV",
                self.stream,
                export_id,
                status.get("status"),
            )
            return self.client.export_rows(export_id)
        return delivery.rows(export_id, status)


def downloaded_bytes(client: EmarsysClient, settings: ExportSettings) -> int:
    """Export file bytes read so far, through the API or the configured delivery."""
    delivery = settings.delivery
    return client.downloaded_bytes + (delivery.downloaded_bytes if delivery is not None else 0)
