"""Contact field values as `PUT /contact` takes them and `contact/getdata` returns them.

A written value is checked and turned into the typed form the exports render (the form the
synthetic account generates: text, `int`/`float`, `datetime.date`, opt-in as `"True"` /
`"False"`), so a write to a synthetic contact shows up in later exports and segments.
`contact/getdata` answers values as strings, opt-in as its choice id (docs/emarsys-api.md §6.4,
§9: 1 = True, 2 = False).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from emarsys_sandbox import synthetic

OPT_IN = 31
#: opt-in choice ids (docs/emarsys-api.md §9) and the labels exports render
OPT_IN_LABELS = {1: "True", 2: "False"}
OPT_IN_IDS = {label: str(choice) for choice, label in OPT_IN_LABELS.items()}
#: the sandbox's per-item code for a value its field refuses (the API docs name none)
INVALID_VALUE = "2012"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ContactValueError(ValueError):
    """A written value its field refuses; the text names the field and the value."""


def typed_value(field_id: int, raw: Any) -> Any:
    """The typed value of a written `raw` for a field the synthetic account knows.

    Raises:
        ContactValueError: opt-in other than 1, 2 or empty (docs/emarsys-api.md §12.9), a
            numeric field given no number, a date field given no `YYYY-MM-DD`, or an object.
    """
    field = synthetic.FIELDS_BY_ID[field_id]
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict | list):
        raise _refused(field, raw, "a single value expected")
    if field_id == OPT_IN:
        choice = _integer(raw)
        if choice not in OPT_IN_LABELS:
            raise _refused(field, raw, "1 (true), 2 (false) or empty expected")
        return OPT_IN_LABELS[choice]
    kind = field.application_type
    if kind == "numeric":
        return _number(field, raw)
    if kind in ("date", "birthdate"):
        text = raw if isinstance(raw, str) else ""
        try:
            if not _DATE.match(text):
                raise ValueError(text)
            return date.fromisoformat(text)
        except ValueError:
            raise _refused(field, raw, "a date YYYY-MM-DD expected") from None
    if isinstance(raw, bool):
        raise _refused(field, raw, "text expected")
    return str(raw)


def api_value(field_id: int, typed: Any) -> str | None:
    """A typed value as `contact/getdata` renders it: a string, or None when empty."""
    if typed is None:
        return None
    if field_id == OPT_IN:
        return OPT_IN_IDS.get(str(typed), str(typed))
    if isinstance(typed, date):
        return typed.isoformat()
    if isinstance(typed, float) and typed.is_integer():
        return str(int(typed))
    return str(typed)


def _integer(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    return None


def _number(field: synthetic.Field, raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise _refused(field, raw, "a number expected")
    if isinstance(raw, int | float):
        return raw
    try:
        number = float(str(raw))
    except ValueError:
        raise _refused(field, raw, "a number expected") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _refused(field, raw, "a number expected")
    return int(number) if number.is_integer() and str(raw).strip().lstrip("-").isdigit() else number


def _refused(field: synthetic.Field, raw: Any, expected: str) -> ContactValueError:
    return ContactValueError(
        f"Invalid value for field {field.id} ({field.name}): {raw!r}; {expected}"
    )
