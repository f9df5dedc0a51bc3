"""Record values as Emarsys accepts them.

Emarsys takes only strings, numbers, booleans and null (reference section 8). Records arrive
as JSON scalars, objects and arrays (the reader decodes fractions as floats and timestamps stay
text); objects and arrays become JSON text. `Decimal`, dates and times are still handled, for
values a stream map computes.
"""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any

from emarsys_api.csv_upload import csv_cell

_SCALARS = (str, int, float, bool, type(None))
PLAIN_TYPES = frozenset(_SCALARS)
"""Types sent as they are (checked by exact type on the hot path)."""


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


def csv_value(value: Any) -> str:
    """One value as a CSV cell for the behavior endpoint: the RDS files' `csv_cell` rules."""
    return csv_cell(json_value(value))


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

    Emarsys reads a behavior `event_time` without an offset as Vienna time (reference section 7);
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


def is_scalar_schema(spec: Any) -> bool:
    """Whether a property's JSON schema only admits JSON scalars (no objects or arrays)."""
    if not isinstance(spec, dict) or "type" not in spec:
        return False
    kinds = spec["type"]
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return bool(kinds) and set(kinds) <= _SCALAR_TYPES
