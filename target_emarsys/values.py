"""Record values as Emarsys accepts them.

Emarsys takes only strings, numbers, booleans and null (docs/emarsys-api.md §8). Records
arrive as JSON scalars, objects and arrays (the reader decodes fractions as floats and
timestamps stay text); objects and arrays become JSON text. `Decimal`, dates and times are
still handled, for values a stream map computes.

RDS tables are typed MySQL tables (docs/emarsys-api.md §12.10), so RDS values get the forms
such columns take (`rds_value`, `rds_datetime`, `rds_date`).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
from typing import Any
from zoneinfo import ZoneInfo

_SCALARS = (str, int, float, bool, type(None))


def json_value(value: Any) -> Any:
    """One value as a JSON scalar: numbers stay numbers, times keep their offset.

    Objects and arrays become JSON text, since an RDS column or contact field holds one scalar.
    """
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


RDS_ZONE = ZoneInfo("Europe/Vienna")
"""The zone Emarsys reads RDS timestamps without an offset in (CET/CEST, docs/emarsys-api.md
§9)."""


def rds_datetime(value: Any) -> str:
    """A timestamp as a MySQL `DATETIME` takes it: `YYYY-MM-DD HH:MM:SS` in Vienna time.

    A typed column refuses ISO text with `T` or an offset (docs/emarsys-api.md §12.10), and
    Emarsys reads the naive text as Vienna time, so the instant is converted (the offset that
    applies on that day: CET or CEST). A Singer timestamp without an offset means UTC.
    Fractions of a second are kept (`.ffffff`) only when there are any.

    Raises:
        ValueError: `value` is no timestamp.
        OutOfRangeError: its Vienna time is outside the years 1 to 9999.
    """
    if isinstance(value, str):
        return _vienna_text(value)
    if isinstance(value, datetime.datetime):
        return _vienna_time(value)
    raise ValueError(value)


class OutOfRangeError(ValueError):
    """A timestamp whose Vienna time falls before year 1 or after year 9999, which Python's
    datetime (and a MySQL DATETIME column) cannot hold, such as 0001-01-01T00:00:00+14:00."""


def _vienna_time(moment: datetime.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    try:
        local = moment.astimezone(RDS_ZONE).replace(tzinfo=None)
    except OverflowError:
        raise OutOfRangeError(moment.isoformat()) from None
    return local.isoformat(" ")  # `.ffffff` only when there is a fraction


@functools.lru_cache(maxsize=4096)
def _vienna_text(text: str) -> str:
    """`_vienna_time` of ISO text; rows loaded together often share timestamps, and a repeat
    then costs one lookup instead of a parse, a zone conversion and formatting."""
    return _vienna_time(datetime.datetime.fromisoformat(text))


rds_datetime_cached = functools.lru_cache(maxsize=4096)(rds_datetime)
"""`rds_datetime` remembering recent values (rows loaded together often share timestamps), for
the per-row path; a value that cannot be a cache key (a list, a dict) raises TypeError."""


def rds_date(value: Any) -> str:
    """A date as a MySQL `DATE` takes it: `YYYY-MM-DD` (also for `20260329` and the like).

    Raises:
        ValueError: `value` is no date.
    """
    if isinstance(value, str):
        return datetime.date.fromisoformat(value).isoformat()
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise ValueError(value)


def rds_flag(value: Any) -> Any:
    """A boolean as 1 or 0 (a `TINYINT` refuses JSON booleans); other values as they are."""
    return int(value) if type(value) is bool else value


def rds_value(value: Any) -> Any:
    """Any value for a column whose schema says nothing more: booleans 1/0, times as
    `rds_datetime`, dates as `YYYY-MM-DD`, the rest as `json_value`."""
    if type(value) is bool:
        return int(value)
    if isinstance(value, datetime.datetime):
        return rds_datetime(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return json_value(value)


OPTED_IN, OPTED_OUT = 1, 2
"""The opt-in field's (31) choice ids: only these and null are accepted (docs/emarsys-api.md §9,
§12.9)."""
_OPT_IN_FORMS: dict[tuple[type, Any], int | None] = {
    **{(bool, True): OPTED_IN, (int, 1): OPTED_IN, (str, "1"): OPTED_IN},
    **{(str, "true"): OPTED_IN, (str, "True"): OPTED_IN},
    **{(bool, False): OPTED_OUT, (int, 0): OPTED_OUT, (int, 2): OPTED_OUT},
    **{(str, "0"): OPTED_OUT, (str, "2"): OPTED_OUT, (str, "false"): OPTED_OUT},
    **{(str, "False"): OPTED_OUT, (type(None), None): None, (str, ""): None},
}
OPT_IN_FORMS = (
    'true, "true", "True", 1, "1" (opted in: 1); false, "false", "False", 0, "0", 2, "2" '
    '(opted out: 2); null or "" (not set)'
)
"""The accepted forms, as a rejected row's reason lists them."""


def opt_in_choice(value: Any) -> int | None:
    """A warehouse's opt-in value as the field's choice id, or ValueError if it is none.

    Warehouses hold opt-in as booleans, 0/1 or text; Emarsys takes only 1 (opted in), 2 (opted
    out) or null, and refuses anything else per contact. Matching on the exact type keeps
    `1.0`, `"yes"` and `" 1"` out: a value that is not clearly one of the forms is rejected
    rather than guessed.
    """
    try:
        return _OPT_IN_FORMS[type(value), value]
    except (KeyError, TypeError):
        raise ValueError(value) from None


def aware_timestamp(value: Any) -> datetime.datetime | None:
    """A timestamp with its offset, or None when `value` is not one.

    Emarsys reads a behavior `event_time` without an offset as Vienna time (docs/emarsys-api.md §7);
    a Singer timestamp without an offset means UTC, so the offset is made explicit.
    """
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean", "null"})


def property_types(spec: Any) -> list[str]:
    """The JSON types a property's schema names in `type` (none for `anyOf` and the like)."""
    kinds = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(kinds, str):
        return [kinds]
    return [kind for kind in kinds if isinstance(kind, str)] if isinstance(kinds, list) else []


def property_format(spec: Any) -> str | None:
    """The string `format` of a property (`date-time`, `date`, ...), also inside `anyOf`."""
    if not isinstance(spec, dict):
        return None
    if isinstance(spec.get("format"), str):
        return str(spec["format"])
    for option in spec.get("anyOf") or ():
        if isinstance(option, dict) and isinstance(option.get("format"), str):
            return str(option["format"])
    return None


def is_scalar_schema(spec: Any) -> bool:
    """Whether a property's JSON schema only admits JSON scalars (no objects or arrays)."""
    kinds = property_types(spec)
    return bool(kinds) and set(kinds) <= _SCALAR_TYPES


def is_digits(text: str) -> bool:
    """Whether `text` is an Emarsys id written out: ASCII digits only. `str.isdigit` alone
    also passes other scripts' digits (`"١٢"`), which Emarsys does not read as a number."""
    return text.isascii() and text.isdigit()
