"""Export jobs (reference sections 4 and 5): start, wait, and stream the CSV as rows.

The download is the tap's hot path (a million rows and more), so rows come straight from
`csv.reader` over a text wrapper around the raw response stream: nothing holds the body, and
Python does one step per row. A connection dropped mid-body is resumed with `offset`.
"""

from __future__ import annotations

import csv
import http.client
import io
import logging
import time
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, BinaryIO, cast

import requests
import urllib3.exceptions

from emarsys_api.errors import (
    ExportFailedError,
    ExportTimeoutError,
    NetworkError,
    ResponseFormatError,
)
from emarsys_api.transport import Transport, retry_wait

logger = logging.getLogger("emarsys_api")

TERMINAL_OK = "done"
TERMINAL_ERROR = "error"
KNOWN_STATUSES = {"scheduled", "in progress", "ready", TERMINAL_OK, TERMINAL_ERROR}
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


def wait_for_export(
    transport: Transport,
    prefix: str,
    export_id: int,
    *,
    poll_interval: float,
    timeout: float,
    label: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll an export until it is done, logging each status change with the elapsed time.

    Returns:
        The final status object (status ``done``).

    Raises:
        ExportFailedError: the export ended in status ``error``.
        ExportTimeoutError: it was not done within `timeout` seconds.
    """
    started = clock()
    endpoint = f"GET {prefix}/export/{int(export_id)}"
    prefix_text = f"{label}: " if label else ""
    last: str | None = None
    while True:
        status = export_status(transport, prefix, export_id)
        state = str(status.get("status"))
        elapsed = clock() - started
        if state != last:
            if state not in KNOWN_STATUSES:
                logger.warning("%sexport %s has unknown status %r", prefix_text, export_id, state)
            logger.info("%sexport %s %s, %.0f s", prefix_text, export_id, state, elapsed)
            last = state
        if state == TERMINAL_OK:
            return status
        if state == TERMINAL_ERROR:
            raise ExportFailedError(
                None, None, f"export {export_id} ended in status error", endpoint
            )
        if elapsed >= timeout:
            raise ExportTimeoutError(
                None,
                None,
                f"export {export_id} still {state!r} after {elapsed:.0f} s (timeout {timeout:g} s)",
                endpoint,
            )
        sleep(max(0.0, min(poll_interval, timeout - elapsed)))


def export_rows(
    transport: Transport,
    prefix: str,
    export_id: int,
    *,
    delimiter: str = ",",
    has_header: bool = True,
    max_resumes: int | None = None,
) -> Iterator[list[str]]:
    """Stream a finished export's CSV as rows: the header row first (if any), then data rows.

    A download cut mid-body is requested again with ``offset`` = data rows already yielded; the
    repeated header row of the new page is checked and skipped, so no row is lost or repeated.
    Resuming stops after `max_resumes` cuts in a row without a new row (default: the client's
    `max_retries`).

    Raises:
        ExportExpiredError: the file is gone (410/4003).
        NotFoundError: unknown export, not a `local` export, or not finished yet (404).
        NetworkError: the download kept failing.
    """
    path = f"{prefix}/export/{int(export_id)}/data"
    limit = transport.settings.max_retries if max_resumes is None else max_resumes
    header: list[str] | None = None
    yielded = 0
    failures = 0
    resuming = False
    while True:
        params = {"offset": yielded} if resuming else None
        response = transport.open_stream("GET", path, params=params)
        at_start = yielded
        try:
            raw = response.raw
            raw.decode_content = True
            # A body with Content-Length closes itself when exhausted, and the text wrapper's
            # last read would then fail ("I/O operation on closed file"); `finally` closes it.
            raw.auto_close = False
            reader = csv_rows(cast("BinaryIO", raw), delimiter)
            if has_header:
                first = next(reader, None)
                if first is None:
                    return
                if header is None:
                    header = first
                    yield first
                elif first != header:
                    raise ResponseFormatError(
                        response.status_code,
                        None,
                        "the resumed download has a different header row",
                        f"GET {path}",
                    )
            for row in reader:
                yield row
                yielded += 1
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise damaged_csv(exc, export_id, yielded, f"GET {path}") from None
        except DROPPED_CONNECTION as exc:
            failures = 0 if yielded > at_start else failures + 1
            if failures > limit:
                raise NetworkError(
                    None,
                    None,
                    f"download of export {export_id} kept failing after {yielded} rows",
                    f"GET {path}",
                ) from None
            wait = retry_wait(exc, failures, base=transport.retry_base, max_wait=5.0)
            logger.warning(
                "download of export %s cut after %d data rows (%s); resuming at offset %d in "
                "%.1f s",
                export_id,
                yielded,
                type(exc).__name__,
                yielded,
                wait,
            )
            time.sleep(wait)
            resuming = True
        finally:
            transport.count_download(response.raw.tell())
            response.close()


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
