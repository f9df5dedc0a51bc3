"""CSV rows to typed records: one converter per column, chosen once from the header.

The CSV of an export is all text. The header decides, once, which property each column becomes
and which function types it; each row is then a single pass of those functions. Empty strings
become null for every type (Emarsys renders a missing value as an empty field).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

Converter = Callable[[str], Any]

_UTC = dt.timezone.utc
_NON_WORD = re.compile(r"[^a-z0-9]+")


def snake_case(label: str) -> str:
    """`Campaign title` -> `campaign_title`, `last update` -> `last_update` (DESIGN.md)."""
    name = _NON_WORD.sub("_", label.strip().lower()).strip("_")
    if not name:
        return "column"
    return f"_{name}" if name[0].isdigit() else name


def as_text(value: str) -> str | None:
    """Text as is; empty is null."""
    return value or None


def as_integer(value: str) -> int | None:
    """Ids and counters."""
    return int(value) if value else None


def as_number(value: str) -> int | float | None:
    """Emarsys `numeric` fields: integral values stay integers, others become floats."""
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return float(value)


def as_date(value: str) -> str | None:
    """Dates stay `YYYY-MM-DD` strings (JSON has no date type); the format is checked."""
    if not value:
        return None
    return dt.date.fromisoformat(value[:10]).isoformat()


def timestamp_converter(zone: ZoneInfo) -> Converter:
    """A converter for naive account-time timestamps to ISO 8601 UTC strings.

    Emarsys renders timestamps without an offset in the account's zone (reference section 9);
    zoneinfo resolves the offset per instant, so values on both sides of a DST change convert
    correctly. Values that already carry an offset keep it.

    Args:
        zone: the account's time zone (`timezone` setting).

    Returns:
        The converter.
    """
    fromisoformat = dt.datetime.fromisoformat

    def as_timestamp(value: str) -> str | None:
        if not value:
            return None
        parsed = fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(_UTC).isoformat()

    return as_timestamp


@dataclass(frozen=True)
class Column:
    """What one CSV column becomes.

    Attributes:
        name: the record property.
        convert: the function that types the column's values.
    """

    name: str
    convert: Converter


class RecordTyper:
    """Turns rows of one export into records, with the converters fixed by its header.

    Columns whose property is not wanted (deselected) are skipped entirely, so they cost
    nothing per row.
    """

    def __init__(self, columns: Sequence[Column | None]) -> None:
        """Fix the column plan.

        Args:
            columns: one entry per CSV column in order; `None` drops the column.
        """
        self._positions = [i for i, column in enumerate(columns) if column is not None]
        kept = [column for column in columns if column is not None]
        self.names = [column.name for column in kept]
        self._converters = [column.convert for column in kept]
        self._width = len(columns)
        self._all = len(kept) == len(columns)

    def records(
        self, rows: Iterable[list[str]], extra: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Type each row into a new dict.

        Args:
            rows: the CSV data rows (header already consumed).
            extra: properties added to every record (e.g. the contact list id).

        Yields:
            One record per row.

        Raises:
            ValueError: a row has another number of fields than the header.
        """
        names, converters, positions, width = (
            self.names,
            self._converters,
            self._positions,
            self._width,
        )
        extra_items = list((extra or {}).items())
        for row in rows:
            if len(row) != width:
                msg = f"CSV row has {len(row)} fields, the header has {width}"
                raise ValueError(msg)
            if self._all:
                record = {
                    name: convert(value)
                    for name, convert, value in zip(names, converters, row, strict=False)
                }
            else:
                record = {
                    name: convert(row[position])
                    for name, convert, position in zip(names, converters, positions, strict=False)
                }
            for key, value in extra_items:
                record[key] = value
            yield record
