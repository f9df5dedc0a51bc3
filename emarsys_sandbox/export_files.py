"""An export's stored CSV file: its name, how it is written, and the bytes a download page gets.

Like Emarsys, the file is produced while the export is `in progress` and stored; downloads
serve byte ranges of it. The file holds data rows only (CRLF, `csv.writer`), written in blocks
with a side index of row offsets, so `offset`/`limit` are two seeks and memory stays flat for
any size. The header row is rendered separately and sent on every page (docs/emarsys-api.md
§5.2 is silent; the suggested choice).

The bottom of the export modules: `export_jobs` (the status walk) and `distribution` (Storage,
SFTP, notifications) both use it; it uses neither.
"""

from __future__ import annotations

import csv
import re
import shutil
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate, islice
from pathlib import Path
from typing import Any

from emarsys_sandbox.export_specs import TYPE_NAMES, ExportSpec
from emarsys_sandbox.models import SyntheticAccount

BLOCK_ROWS = 4096
_FILE_NAME = re.compile(r"^[a-z]+_(\d+)_[a-z]{2}\.csv$")


def file_name(export_id: int, spec: ExportSpec) -> str:
    """The export's file name as `GET /export/{id}` reports it (`contactlist_2140_en.csv`)."""
    return f"{TYPE_NAMES[spec.export_type].lower()}_{export_id}_{spec.language}.csv"


def export_id_in(name: str) -> int | None:
    """The export id a file name of `file_name` carries; None for any other name."""
    match = _FILE_NAME.match(name)
    return int(match.group(1)) if match else None


class _LineSink:
    """A write target that keeps each `csv.writer` row as its own string."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


@dataclass
class ExportFile:
    """A rendered export: data rows in `path`, the start offset of each row in `index_path`."""

    path: Path
    index_path: Path
    rows: int
    header: bytes

    def offset(self, row: int) -> int:
        """Byte offset of data row `row` (row == rows gives the file size)."""
        with open(self.index_path, "rb") as f:
            f.seek(8 * row)
            a = array("Q")
            a.frombytes(f.read(8))
            return a[0]


class RenderCancelled(Exception):
    """The sandbox closed while an export file was being written."""


def render_file(
    spec: ExportSpec,
    account: SyntheticAccount,
    stem: Path,
    cancelled: Callable[[], bool] = lambda: False,
) -> ExportFile:
    """Write the data rows to `<stem>.csv` and their offsets to `<stem>.idx`, block by block."""
    sink = _LineSink()
    writer = csv.writer(sink, delimiter=spec.delimiter, lineterminator="\r\n")
    writer.writerow(spec.header_labels(account))
    header = sink.lines.pop().encode()
    path, index_path = stem.with_suffix(".csv"), stem.with_suffix(".idx")
    rows = 0
    position = 0
    source = spec.csv_rows(account)
    with open(path, "wb") as data, open(index_path, "wb") as index:
        while True:
            if cancelled():
                raise RenderCancelled(str(stem))
            writer.writerows(islice(source, BLOCK_ROWS))
            if not sink.lines:
                break
            encoded = [line.encode() for line in sink.lines]
            sink.lines.clear()
            offsets = array("Q", accumulate((len(b) for b in encoded), initial=position))
            position = offsets.pop()
            offsets.tofile(index)
            data.write(b"".join(encoded))
            rows += len(encoded)
        array("Q", [position]).tofile(index)
    return ExportFile(path, index_path, rows, header)


def write_full_file(export: ExportFile, with_header: bool, target: Any) -> None:
    """Header (if requested) and data rows to a writable binary file object."""
    if with_header:
        target.write(export.header)
    with open(export.path, "rb") as data:
        shutil.copyfileobj(data, target, 1 << 18)


@dataclass(frozen=True)
class DownloadPage:
    """The part of an export file one `GET /export/{id}/data?offset=&limit=` request gets.

    Attributes:
        first_row: First data row (0-based).
        row_limit: At most this many data rows (None: to the end).
        with_header: Whether the page starts with the header row.
    """

    first_row: int
    row_limit: int | None
    with_header: bool

    @classmethod
    def of(cls, spec: ExportSpec, offset: int, limit: int | None) -> DownloadPage:
        """The page for `offset`/`limit` as this account reads them (docs/emarsys-api.md §12.5).

        `offset_counts="rows"`: both count data rows. `"lines"`: both count lines of the file,
        the header being line 0, so `offset=k` starts at data row k - 1 and a page from offset
        0 holds the header and `limit - 1` rows. `page_header="first"`: only a page from offset
        0 carries the header; `"every"` repeats it on later pages too (not counted in `limit`).
        """
        variants = spec.variants
        repeat = variants.page_header == "every"
        if variants.offset_counts == "lines" and spec.header:
            if offset == 0:
                return cls(0, None if limit is None else limit - 1, True)
            return cls(offset - 1, limit, repeat)
        return cls(offset, limit, spec.header and (offset == 0 or repeat))


def stream_file(
    export: ExportFile, offset: int, limit: int | None, with_header: bool, chunk: int = 1 << 18
) -> tuple[int, Iterator[bytes]]:
    """Bytes of a page: the header (if any) then data rows [offset, offset + limit).

    Returns the page's byte length and an iterator over it, so a cut can be placed mid-row.
    """
    first = min(offset, export.rows)
    last = export.rows if limit is None else min(export.rows, first + limit)
    start, end = export.offset(first), export.offset(last)
    header = export.header if with_header else b""

    def body() -> Iterator[bytes]:
        if header:
            yield header
        with open(export.path, "rb") as f:
            f.seek(start)
            remaining = end - start
            while remaining > 0:
                block = f.read(min(chunk, remaining))
                if not block:
                    break
                remaining -= len(block)
                yield block

    return len(header) + end - start, body()


def middle_of_a_row(export: ExportFile, offset: int, limit: int | None, with_header: bool) -> int:
    """A byte position of the page that falls strictly inside a row (for cut downloads)."""
    first = min(offset, export.rows)
    last = export.rows if limit is None else min(export.rows, first + limit)
    header_len = len(export.header) if with_header else 0
    if last == first:
        return header_len // 2
    middle = (first + last) // 2
    row_start, row_end = export.offset(middle), export.offset(middle + 1)
    page_start = export.offset(first)
    return header_len + (row_start - page_start) + max(1, (row_end - row_start) // 2)
