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
_LABEL_NOISE = re.compile(r"[\s_-]+")


class CsvRowError(ValueError):
    """A data row that cannot become a record (wrong width, a key property without a value).

    Attributes:
        row_number: the 1-based data row number (the header is not counted).
        reason: what is wrong with the row.
        key: the key property without a value, when that is what is wrong.
    """

    def __init__(self, row_number: int, reason: str, key: str | None = None) -> None:
        self.row_number = row_number
        self.reason = reason
        self.key = key  # the key property without a value, if that is what is wrong
        super().__init__(f"data row {row_number}: {reason}")


def snake_case(label: str) -> str:
    """`Campaign title` -> `campaign_title`, `last update` -> `last_update`.

    Record properties are the snake_case of the English CSV labels, so a column's property
    can be read off its label.
    """
    name = _NON_WORD.sub("_", label.strip().lower()).strip("_")
    if not name:
        return "column"
    return f"_{name}" if name[0].isdigit() else name


def normalised_label(label: str) -> str:
    """A header label reduced to what every published spelling shares (docs/emarsys-api.md §12.3).

    `E-mail`/`E-Mail`, `Opt-in`/`Opt In`, `last update`/`Last_Update` all compare equal: case
    is folded and spaces, hyphens and underscores are ignored.
    """
    return _LABEL_NOISE.sub("", label.strip().casefold())


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


#: The kinds of value a CSV column or a JSON reply property holds, each with its JSON schema
#: (without null: `value_schema` adds it where a value may be missing) and its converter.
VALUE_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": ["string"]},
    "integer": {"type": ["integer"]},
    "number": {"type": ["number"]},
    "date": {"type": ["string"], "format": "date"},
    "timestamp": {"type": ["string"], "format": "date-time"},
}


def value_schema(kind: str, *, nullable: bool = True) -> dict[str, Any]:
    """The JSON schema of a `kind` value (`text`, `integer`, `number`, `date`, `timestamp`)."""
    schema = dict(VALUE_SCHEMAS[kind])
    if nullable:
        schema["type"] = [*schema["type"], "null"]
    return schema


def value_converter(kind: str, zone: ZoneInfo | None = None) -> Converter:
    """The converter typing CSV text as a `kind` value; timestamps need the account's zone."""
    if kind == "timestamp":
        if zone is None:
            raise ValueError("a timestamp converter needs the account's time zone")
        return timestamp_converter(zone)
    return _CONVERTERS[kind]


def reply_converter(convert: Converter) -> Callable[[Any], Any]:
    """`convert` for JSON reply values, which are text in some replies and numbers in others.

    docs/emarsys-api.md §6.4: ids come as `"7555"` or `7555`; both read as the CSV text would.
    """

    def from_reply(value: Any) -> Any:
        if value is None:
            return None
        return convert(value if isinstance(value, str) else str(value))

    return from_reply


def timestamp_converter(zone: ZoneInfo) -> Converter:
    """A converter for naive account-time timestamps to ISO 8601 UTC strings.

    Emarsys renders timestamps without an offset in the account's zone (docs/emarsys-api.md §9);
    zoneinfo resolves the offset per instant, so values on both sides of a DST change convert
    correctly. Values that already carry an offset keep their instant.

    The offset is looked up once per local hour and reused for the hour's other values, unless
    the zone changes its offset inside that hour (a DST change): those hours are converted value
    by value, exactly as zoneinfo resolves them.

    Args:
        zone: the account's time zone (`timezone` setting).

    Returns:
        The converter.
    """
    fromisoformat = dt.datetime.fromisoformat
    offsets: dict[str, dt.timedelta | None] = {}

    def hour_offset(hour: str, moment: dt.datetime) -> dt.timedelta | None:
        first = moment.replace(minute=0, second=0, microsecond=0, tzinfo=zone)
        last = first.replace(minute=59, second=59, microsecond=999999)
        offset = first.utcoffset()
        steady = offset == last.utcoffset() and first.dst() == last.dst()
        offsets[hour] = offset if steady else None
        return offsets[hour]

    def as_timestamp(value: str) -> str | None:
        if not value:
            return None
        moment = fromisoformat(value)
        if moment.tzinfo is not None:
            return moment.astimezone(_UTC).isoformat()
        hour = value[:13]
        offset = offsets[hour] if hour in offsets else hour_offset(hour, moment)
        if offset is None:
            return moment.replace(tzinfo=zone).astimezone(_UTC).isoformat()
        return f"{(moment - offset).isoformat()}+00:00"

    return as_timestamp


_CONVERTERS: dict[str, Converter] = {
    "text": as_text,
    "integer": as_integer,
    "number": as_number,
    "date": as_date,
}


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

    The plan is compiled once into a single Python function building the record dict in one
    expression: text and integer columns are inlined, other columns call their converter, and
    dropped (deselected) columns cost nothing. Per row that is one call instead of one per
    column, which matters at millions of rows. Key columns get one emptiness test each inside
    the same function: an empty cell is the only way a converter returns null, so a record
    whose key would be null is caught before it is built.
    """

    def __init__(
        self,
        columns: Sequence[Column | None],
        extra: dict[str, Any] | None = None,
        *,
        keys: Sequence[str] = (),
        header: Sequence[str] | None = None,
    ) -> None:
        """Compile the column plan.

        Args:
            columns: one entry per CSV column in order; `None` drops the column.
            extra: constant properties added to every record (e.g. the contact list id).
            keys: key properties; a row with an empty cell for one of them is a `CsvRowError`.
            header: the file's header row, so that the same row again inside the file is named
                as such when its cells do not fit their columns.
        """
        self.header = list(header) if header is not None else None
        self.columns = list(columns)
        kept = [(i, column) for i, column in enumerate(columns) if column is not None]
        self.names = [column.name for _, column in kept]
        self.width = len(columns)
        converters: list[Converter] = []
        items: list[str] = []
        for position, column in kept:
            cell = f"row[{position}]"
            if column.convert is as_text:
                value = f"{cell} or None"
            elif column.convert is as_integer:
                value = f"int({cell}) if {cell} else None"
            else:
                converters.append(column.convert)
                value = f"_convert[{len(converters) - 1}]({cell})"
            items.append(f"{column.name!r}: {value}")
        constants = dict(extra or {})
        items.extend(f"{name!r}: _extra[{name!r}]" for name in constants)
        key_cells = {column.name: position for position, column in kept if column.name in keys}
        self.key_cells = key_cells
        empty_key = " or ".join(f"not row[{position}]" for position in key_cells.values())
        guard = f"    if {empty_key}:\n        return None\n" if empty_key else ""
        source = f"def type_row(row):\n{guard}    return {{{', '.join(items)}}}\n"
        namespace: dict[str, Any] = {"_convert": converters, "_extra": constants}
        exec(compile(source, "<tap_emarsys.records.RecordTyper>", "exec"), namespace)
        self.type_row: Callable[[list[str]], dict[str, Any] | None] = namespace["type_row"]

    def records(self, rows: Iterable[list[str]]) -> Iterator[dict[str, Any]]:
        """Type each row into a new dict.

        Args:
            rows: the CSV data rows (header already consumed).

        Yields:
            One record per row.

        Raises:
            CsvRowError: a row has another number of fields than the header, no value for a
                key property, a value its column's type cannot read, or is the header row again
                (naming the row number and what is wrong).
        """
        type_row, width = self.type_row, self.width
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                msg = f"the CSV row has {len(row)} fields, the header has {width}"
                raise CsvRowError(number, msg)
            try:
                record = type_row(row)
            except ValueError:  # no cost unless raised: the hot path stays one call a row
                raise CsvRowError(number, self._unreadable(row)) from None
            if record is None:
                empty = [name for name, position in self.key_cells.items() if not row[position]]
                raise CsvRowError(number, f"no value for key property {empty[0]!r}", empty[0])
            yield record

    def _unreadable(self, row: list[str]) -> str:
        """What is wrong with a row a converter refused: the header again, or which cell."""
        if self.header is not None and row == self.header:
            return "the header row appears again inside the file"
        for position, column in enumerate(self.columns):
            if column is None or not row[position]:
                continue
            try:
                column.convert(row[position])
            except ValueError:
                value = row[position] if len(row[position]) <= 40 else row[position][:40] + "..."
                return f"column {position + 1} ({column.name!r}) cannot read {value!r}"
        return "a value does not fit its column"
