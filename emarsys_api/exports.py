"""Export jobs (docs/emarsys-api.md §4 and §5): start, wait, and stream the CSV as rows.

The download is the tap's hot path (a million rows and more), so rows come straight from
`csv.reader` over a text wrapper around the raw response stream: nothing holds the body, and
Python does one step per row. A connection dropped mid-body is resumed with `offset`.
"""

from __future__ import annotations

import csv
import http.client
import io
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, BinaryIO, Generic, TypeVar, cast

import requests
import urllib3.exceptions

from emarsys_api.errors import (
    ExportFailedError,
    ExportTimeoutError,
    NetworkError,
    NotFoundError,
    ResponseFormatError,
)
from emarsys_api.transport import Transport, retry_wait

RowT = TypeVar("RowT")

logger = logging.getLogger("emarsys_api")

TERMINAL_OK = "done"
TERMINAL_ERROR = "error"
KNOWN_STATUSES = {"scheduled", "in progress", "ready", TERMINAL_OK, TERMINAL_ERROR}
#: replyCode of a download asked for before the file is there (docs/emarsys-api.md §5.2)
STILL_BUILDING = 4005
READ_CHUNK = 1 << 16
#: longest cell accepted (Python's csv default is 128 KiB; long text fields can exceed it)
MAX_CELL_CHARS = 1 << 24

# What a connection dropped in the middle of a streamed body looks like from inside a read.
DROPPED_CONNECTION: tuple[type[BaseException], ...] = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    http.client.IncompleteRead,
    ConnectionError,
    TimeoutError,
)


class ExportType(str, Enum):
    """The five asynchronous exports; each value is the endpoint path below the API version."""

    CONTACT_CHANGES = "contact/getchanges"
    CONTACT_REGISTRATIONS = "contact/getregistrations"
    EMAIL_RESPONSES = "email/getresponses"
    CONTACT_LIST_MEMBERS = "email/getcontacts"
    SEGMENT_MEMBERS = "export/filter"


def start_export(
    transport: Transport, prefix: str, export_type: ExportType | str, body: dict[str, Any]
) -> int:
    """Start an export and return its id.

    Raises:
        ValidationError: the body was refused (the reply text names the parameter).
        ExportAlreadyRunningError: an identical export is still running (400/4001).
    """
    path = f"{prefix}/{ExportType(export_type).value}"
    reply = transport.request("POST", path, json=body)
    try:
        return int(reply.data["id"])
    except (TypeError, KeyError, ValueError):
        raise ResponseFormatError(
            reply.status, 0, "export reply has no data.id", f"POST {path}"
        ) from None


def export_status(transport: Transport, prefix: str, export_id: int) -> dict[str, Any]:
    """Return the export's status object (`status`, `created`, `file_name`, ...)."""
    path = f"{prefix}/export/{int(export_id)}"
    reply = transport.request("GET", path)
    if not isinstance(reply.data, dict) or "status" not in reply.data:
        raise ResponseFormatError(reply.status, 0, "export status has no status", f"GET {path}")
    return reply.data


class ExportWaitStopped(Exception):
    """The caller's `stopped` event was set while an export was waited for."""


def export_data_available(transport: Transport, prefix: str, export_id: int) -> bool:
    """Whether the export's file can be downloaded yet (one row asked for, nothing read).

    docs/emarsys-api.md §12.4: a local export may stay `ready` although its file is there.

    Returns:
        True when the download starts; False when Emarsys answers 404 (4005: still in
        progress, or no replyCode), i.e. the file is not there yet.

    Raises:
        NotFoundError: another 404 (4004 not a local export, 4006 file lost).
        EmarsysError: any other failure.
    """
    path = f"{prefix}/export/{int(export_id)}/data"
    try:
        response = transport.open_stream("GET", path, params={"offset": 0, "limit": 1})
    except NotFoundError as error:
        if error.reply_code in (None, STILL_BUILDING):
            return False
        raise
    response.close()
    return True


def wait_for_export(
    transport: Transport,
    prefix: str,
    export_id: int,
    *,
    poll_interval: float,
    timeout: float,
    label: str = "",
    ready_grace: float | None = None,
    stopped: threading.Event | None = None,
    pause: Callable[[float], object] | None = None,
    log: logging.Logger | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll an export until it is done (see `poll_export` for the arguments).

    Returns:
        The final status object (status ``done``, or ``ready`` when `ready_grace` applied).
    """
    return poll_export(
        export_id,
        lambda: export_status(transport, prefix, export_id),
        poll_interval=poll_interval,
        timeout=timeout,
        endpoint=f"GET {prefix}/export/{int(export_id)}",
        label=label,
        ready_grace=ready_grace,
        data_available=lambda: export_data_available(transport, prefix, export_id),
        stopped=stopped,
        pause=pause,
        log=log,
        clock=clock,
        sleep=sleep,
    )


def poll_export(
    export_id: int,
    status: Callable[[], dict[str, Any]],
    *,
    poll_interval: float,
    timeout: float,
    endpoint: str,
    label: str = "",
    ready_grace: float | None = None,
    data_available: Callable[[], bool] | None = None,
    stopped: threading.Event | None = None,
    pause: Callable[[float], object] | None = None,
    log: logging.Logger | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The one export poll loop: status changes logged with the elapsed time, stoppable.

    Args:
        export_id: the export, for logs and errors.
        status: reads the export's status object.
        poll_interval: seconds between status reads.
        timeout: seconds the export may take.
        endpoint: the status endpoint, for errors.
        label: prefix of log lines (e.g. the stream and window).
        ready_grace: seconds an export may stay `ready` before `data_available` is asked
            (docs/emarsys-api.md §12.4: local exports sometimes never become `done`); None
            waits for `done` only. Only meaningful for `local` exports.
        data_available: whether the file can be downloaded (a 404/4005 means not yet).
        stopped: set by the caller to give up; checked after every pause.
        pause: waits up to the given seconds (returning early, e.g. on a notification);
            default: `stopped.wait`, or `sleep` without `stopped`.
        log: the logger of the status lines (default: ``emarsys_api``).
        clock: monotonic seconds.
        sleep: pauses without `stopped`.

    Returns:
        The final status object: ``done``, or ``ready`` with a downloadable file.

    Raises:
        ExportFailedError: the export ended in status ``error``.
        ExportTimeoutError: it was not done within `timeout` seconds.
        ExportWaitStopped: `stopped` was set.
    """
    log = logger if log is None else log
    started = clock()
    prefix_text = f"{label}: " if label else ""
    last: str | None = None
    ready_since: float | None = None
    probing = False
    while True:
        current = status()
        state = str(current.get("status"))
        now = clock()
        elapsed = now - started
        if state != last:
            if state not in KNOWN_STATUSES:
                log.warning("%sexport %s has unknown status %r", prefix_text, export_id, state)
            log.info("%sexport %s %s after %.1f s", prefix_text, export_id, state, elapsed)
            last = state
            ready_since = now if state == "ready" else None
        if state == TERMINAL_OK:
            return current
        if state == TERMINAL_ERROR:
            raise ExportFailedError(
                None, None, f"export {export_id} ended in status error", endpoint
            )
        if (
            ready_since is not None
            and ready_grace is not None
            and data_available is not None
            and now - ready_since >= ready_grace
        ):
            if not probing:
                probing = True
                log.info(
                    "%sexport %s has been `ready` for %.1f s (export_ready_grace=%g s); trying "
                    "the download",
                    prefix_text,
                    export_id,
                    now - ready_since,
                    ready_grace,
                )
            if data_available():
                log.warning(
                    "%sexport %s stays `ready` but its file can be downloaded; reading it "
                    "(docs/emarsys-api.md §12.4)",
                    prefix_text,
                    export_id,
                )
                return current
        if elapsed >= timeout:
            raise ExportTimeoutError(
                None,
                None,
                f"export {export_id} still {state!r} after {elapsed:.0f} s (timeout {timeout:g} s)",
                endpoint,
            )
        wait = max(0.0, min(poll_interval, timeout - elapsed))
        if pause is not None:
            pause(wait)
        elif stopped is not None:
            stopped.wait(wait)
        else:
            sleep(wait)
        if stopped is not None and stopped.is_set():
            raise ExportWaitStopped(f"waiting for export {export_id} was stopped")


@dataclass
class DownloadPaging:
    """How the server pages `GET /export/{id}/data`, as far as resumed downloads showed it.

    Whether the header row repeats on every page, and whether `offset` counts data rows or
    file lines (header included), is undocumented (docs/emarsys-api.md §12.5).
    One client keeps what its resumes showed, so later resumes in the same run start at the
    right offset at once, and the finding is logged once.

    Attributes:
        header_every_page: True when a resumed page began with the header again; None: unseen.
        offset_counts_lines: True when `offset` counts file lines (header included), False when
            it counts data rows; None while no resume told the two apart.
    """

    header_every_page: bool | None = None
    offset_counts_lines: bool | None = None
    _logged: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def offset(self, data_rows: int) -> int:
        """The `offset` at which data row number `data_rows` (0-based) starts."""
        return data_rows + 1 if self.offset_counts_lines else data_rows

    def learn(
        self, *, header_every_page: bool | None = None, offset_counts_lines: bool | None = None
    ) -> None:
        """Record what a resumed page showed (None: this page said nothing about it)."""
        with self._lock:
            if header_every_page is not None:
                self.header_every_page = header_every_page
            if offset_counts_lines is not None:
                self.offset_counts_lines = offset_counts_lines

    def log_once(self, export_id: int) -> None:
        """Say once per client which paging the server showed (called after a resumed download)."""
        with self._lock:
            if self._logged or (
                self.header_every_page is None and self.offset_counts_lines is None
            ):
                return
            self._logged = True
            header, offset = self.header_every_page, self.offset_counts_lines
        header_text = {
            True: "the header row on every page",
            False: "the header row only on the first page",
            None: "no sign yet whether the header row repeats",
        }[header]
        offset_text = {
            True: "offset counting lines (header included)",
            False: "offset counting data rows",
            None: "no sign yet whether offset counts lines or data rows",
        }[offset]
        logger.info(
            "export %s: resumed downloads showed %s and %s",
            export_id,
            header_text,
            offset_text,
        )


class _FullDownload(Exception):
    """A resumed page cannot be trusted: download the whole file again from offset 0."""


class RowsHandedOut(Generic[RowT]):
    """How many rows of one file were handed out so far, over every read of it.

    Three retry layers read a file again from its start: the client's download read again from
    offset 0, the WebDAV/SFTP re-fetch (`file_delivery`) and the tap's re-request of an expired
    export (`tap_emarsys.export_runner`). Each passes every read through `fresh` (or
    `passed_over`, then `counted`), so only rows past the count are handed out: none is lost or
    repeated.

    Attributes:
        count: rows handed out so far.
    """

    def __init__(self) -> None:
        """Nothing handed out yet."""
        self.count = 0

    def passed_over(self, rows: Iterator[RowT]) -> RowT | None:
        """Consume, from a new read of the file, the rows already handed out.

        Returns:
            The last of them; None when none was handed out or the file ended before.
        """
        last: RowT | None = None
        passed = 0
        for passed, last in enumerate(itertools.islice(rows, self.count), 1):  # noqa: B007
            pass
        return last if passed == self.count else None

    def counted(self, rows: Iterable[RowT]) -> Iterator[RowT]:
        """Hand out `rows`, counting each (the count is current even when `rows` fails)."""
        start = count = self.count
        try:
            for count, row in enumerate(rows, start + 1):  # noqa: B007 - kept for `finally`
                yield row
        finally:
            self.count = count

    def fresh(self, rows: Iterable[RowT]) -> Iterator[RowT]:
        """The rows of one read from the file's start that no earlier read handed out."""
        iterator = iter(rows)
        self.passed_over(iterator)
        return self.counted(iterator)


def export_rows(
    transport: Transport,
    prefix: str,
    export_id: int,
    *,
    delimiter: str = ",",
    has_header: bool = True,
    max_resumes: int | None = None,
    paging: DownloadPaging | None = None,
) -> Iterator[list[str]]:
    """Stream a finished export's CSV as rows: the header row first (if any), then data rows.

    A download cut mid-body is requested again from the first data row not yet yielded, under
    every paging a server may use (`DownloadPaging`): a leading copy of the header on the new
    page is skipped; a page whose first row equals the last row already yielded means the
    server counts `offset` in lines (or the file repeats that row; the two cannot be told
    apart there), so the file is then read again from offset 0 and the rows already handed out
    are skipped. No row is lost or repeated either way. Resuming stops after `max_resumes` cuts
    in a row without a new row (default: the client's `max_retries`).

    Retry layers: 2 of 4, a cut download resumed (the others: each request in
    `transport.Transport._retrying`, file re-fetch in `file_delivery`, export re-request in
    `tap_emarsys.export_runner`).

    Args:
        transport: the client's transport.
        prefix: the API version prefix.
        export_id: the finished export.
        delimiter: the CSV delimiter the export was requested with.
        has_header: whether the file starts with a header row.
        max_resumes: cuts without progress tolerated in a row.
        paging: what earlier downloads of this client showed about paging (learned and
            updated here); None starts from nothing.

    Raises:
        ExportExpiredError: the file is gone (410/4003).
        NotFoundError: unknown export, not a `local` export, or not finished yet (404).
        NetworkError: the download kept failing.
        ResponseFormatError: a resumed page has another layout, or the file changed.
    """
    path = f"{prefix}/export/{int(export_id)}/data"
    endpoint = f"GET {path}"
    limit = transport.settings.max_retries if max_resumes is None else max_resumes
    paging = DownloadPaging() if paging is None else paging
    header: list[str] | None = None
    last: list[str] | None = None  # the last data row yielded
    handed: RowsHandedOut[list[str]] = RowsHandedOut()  # data rows yielded
    failures = 0
    resumed = False  # whether any cut happened (the paging is logged then)
    full = False  # read the whole file and skip the rows already handed out
    offset: int | None = None  # None: a fresh or full download (no offset parameter)
    while True:
        response = transport.open_stream(
            "GET", path, params=None if offset is None else {"offset": offset}
        )
        at_start = handed.count
        try:
            raw = response.raw
            raw.decode_content = True
            # A body with Content-Length closes itself when exhausted, and the text wrapper's
            # last read would then fail ("I/O operation on closed file"); `finally` closes it.
            raw.auto_close = False
            reader = csv_rows(cast("BinaryIO", raw), delimiter)
            rows: Iterator[list[str]] = reader
            if has_header:
                first = next(reader, None)
                if first is None:
                    break
                if header is None:
                    header = first
                    yield first
                elif offset is None or offset == 0:
                    if first != header:
                        raise ResponseFormatError(
                            response.status_code,
                            None,
                            f"export {export_id}: the download read again has a different "
                            "header row",
                            endpoint,
                        )
                elif first == header:
                    paging.learn(header_every_page=True)
                elif len(first) != len(header):
                    raise ResponseFormatError(
                        response.status_code,
                        None,
                        f"export {export_id}: the resumed download has a different header "
                        f"row ({len(first)} columns instead of {len(header)})",
                        endpoint,
                    )
                else:
                    paging.learn(header_every_page=False)
                    rows = itertools.chain((first,), reader)
            if full:
                rows = _skip_handed_out(rows, handed, last, paging, export_id, endpoint)
                full = False
            elif offset and has_header and paging.offset_counts_lines is None:
                peeked = next(rows, None)
                if peeked is None:
                    break
                if peeked == last:
                    raise _FullDownload
                paging.learn(offset_counts_lines=False)
                rows = itertools.chain((peeked,), rows)
            row: list[str] = []
            for row in handed.counted(rows):
                yield row
            break
        except _FullDownload:
            logger.warning(
                "export %s: the page resumed at offset %d starts with the last row already "
                "read; reading the file again from offset 0 and skipping the %d rows handed "
                "out",
                export_id,
                offset,
                handed.count,
            )
            full, offset = True, None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise damaged_csv(exc, export_id, handed.count, endpoint) from None
        except DROPPED_CONNECTION as exc:
            if handed.count > at_start:
                last = row
            failures = 0 if handed.count > at_start else failures + 1
            if failures > limit:
                raise NetworkError(
                    None,
                    None,
                    f"download of export {export_id} kept failing after {handed.count} rows",
                    endpoint,
                ) from None
            wait = retry_wait(exc, failures, base=transport.retry_base, max_wait=5.0)
            resumed = True
            # Still passing over the rows handed out: read from offset 0 again.
            resume_at = paging.offset(handed.count) if has_header else handed.count
            offset = None if full else resume_at
            logger.warning(
                "download of export %s cut after %d data rows (%s); resuming at offset %d in "
                "%.1f s",
                export_id,
                handed.count,
                type(exc).__name__,
                offset or 0,
                wait,
            )
            time.sleep(wait)
        finally:
            transport.count_download(response.raw.tell())
            response.close()
    if resumed:
        paging.log_once(export_id)


def _skip_handed_out(
    rows: Iterator[list[str]],
    handed: RowsHandedOut[list[str]],
    last: list[str] | None,
    paging: DownloadPaging,
    export_id: int,
    endpoint: str,
) -> Iterator[list[str]]:
    """Pass over the data rows already handed out of a file read again from offset 0.

    The row after them tells the paging apart: the resumed page began with `last`, so if the
    file continues with another row (or ends), that page began one row early, i.e. `offset`
    counts lines.

    Raises:
        ResponseFormatError: the file read again is shorter, or its row `handed.count` is not
            `last`.
    """
    count = handed.count
    seen = handed.passed_over(rows)
    if count and seen != last:
        raise ResponseFormatError(
            None,
            None,
            f"export {export_id}: the file read again from offset 0 differs from the first "
            f"download at data row {count}",
            endpoint,
            hint="The export file changed while it was read; rerun the sync.",
        )
    following = next(rows, None)
    if following is None:
        paging.learn(offset_counts_lines=True)
        return iter(())
    if following != last:
        paging.learn(offset_counts_lines=True)
    return itertools.chain((following,), rows)


def csv_rows(raw: BinaryIO, delimiter: str = ",") -> Iterator[list[str]]:
    """Rows of an export file read incrementally: the one CSV path of every delivery way.

    The bytes are decoded as UTF-8 (a BOM dropped) keeping CR/LF for `csv`, so a file fetched
    over WebDAV or SFTP gives exactly the rows of the API download.
    """
    if csv.field_size_limit() < MAX_CELL_CHARS:
        csv.field_size_limit(MAX_CELL_CHARS)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    text._CHUNK_SIZE = READ_CHUNK  # type: ignore[attr-defined]
    # strict: a quoted cell cut short by a cleanly closed body is an error, not a shorter row
    return csv.reader(text, delimiter=delimiter, strict=True)


def damaged_csv(
    error: csv.Error | UnicodeDecodeError, export_id: int, rows: int, endpoint: str
) -> ResponseFormatError:
    """The error for an export file `csv_rows` cannot read: names the export and the row."""
    if isinstance(error, UnicodeDecodeError):
        reason = "is not valid UTF-8"
    else:
        reason = f"is not valid CSV ({error})"
    return ResponseFormatError(
        None,
        None,
        f"export {export_id}: the file after data row {rows} {reason}",
        endpoint,
        hint="The export file is damaged; start the export again, and if that keeps happening "
        "report the export id to Emarsys support.",
    )
