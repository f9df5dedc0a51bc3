"""Typed RDS columns: the values a MySQL column in strict mode takes (docs/emarsys-api.md §12.10).

Emarsys-hosted RDS tables are MySQL tables made in phpMyAdmin; the API docs name no types, so a
sandbox table may declare some (`{"types": {"at": "datetime", ...}}`) to show a writer what a
typed table refuses. Untyped columns take anything, as before. Values are stored as sent.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

#: the declarable types; `varchar(n)` needs its length, `decimal` may give `(precision,scale)`
TYPE_NAMES = (
    "int",
    "bigint",
    "tinyint",
    "decimal",
    "double",
    "varchar(n)",
    "text",
    "datetime",
    "date",
)
_TYPE = re.compile(
    r"^(?P<name>int|bigint|tinyint|double|text|datetime|date"
    r"|varchar\((?P<length>\d+)\)|decimal(?:\((?P<precision>\d+)\s*,\s*(?P<scale>\d+)\))?)$",
    re.IGNORECASE,
)
_INTEGER_RANGES = {
    "tinyint": (-(2**7), 2**7 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_INTEGER_TEXT = re.compile(r"^-?\d+$")
_NUMBER_TEXT = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TEXT_BYTES = 65_535  # MySQL TEXT


@dataclass(frozen=True)
class ColumnType:
    """One declared column type, e.g. `varchar(40)`.

    Attributes:
        declared: The type as declared (lower case).
        kind: `int`, `bigint`, `tinyint`, `decimal`, `double`, `varchar`, `text`, `datetime`
            or `date`.
        length: Characters a `varchar` holds.
        integer_digits: Digits before the point a `decimal(p,s)` holds (p - s).
    """

    declared: str
    kind: str
    length: int | None = None
    integer_digits: int | None = None

    @classmethod
    def parse(cls, text: str) -> ColumnType:
        """A declared type; ValueError naming the known types if `text` is none of them."""
        m = _TYPE.match(text.strip())
        if m is None:
            raise ValueError(f"unknown RDS column type {text!r}; known: {', '.join(TYPE_NAMES)}")
        declared = text.strip().lower().replace(" ", "")
        kind = declared.split("(", 1)[0]
        length = int(m["length"]) if m["length"] else None
        digits = None
        if m["precision"]:
            precision, scale = int(m["precision"]), int(m["scale"])
            if scale > precision:
                raise ValueError(f"RDS column type {text!r}: scale larger than precision")
            digits = precision - scale
        return cls(declared, kind, length, digits)

    def refuses(self, value: Any) -> bool:
        """Whether MySQL in strict mode refuses `value` for this column (None never is)."""
        if value is None:
            return False
        if isinstance(value, bool | dict | list):  # JSON true/false are not 1/0 here
            return True
        if self.kind in _INTEGER_RANGES:
            return not self._integer_fits(value)
        if self.kind in ("decimal", "double"):
            return not self._number_fits(value)
        if self.kind == "varchar":
            assert self.length is not None
            return len(str(value)) > self.length
        if self.kind == "text":
            return len(str(value).encode()) > TEXT_BYTES
        if self.kind == "datetime":
            return not _valid(value, _DATETIME, datetime.fromisoformat)
        return not _valid(value, _DATE, date.fromisoformat)

    def _integer_fits(self, value: Any) -> bool:
        if isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
            value = int(value)
        if not isinstance(value, int):
            return False
        low, high = _INTEGER_RANGES[self.kind]
        return low <= value <= high

    def _number_fits(self, value: Any) -> bool:
        if isinstance(value, str):
            if not _NUMBER_TEXT.match(value.strip()):
                return False
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return False
        return self.integer_digits is None or abs(value) < 10**self.integer_digits

    def refusal(self, column: str, value: Any, row: int) -> str:
        """The reply text for a refused value: the column, its type, the row and the value."""
        return (
            f"Incorrect value for column '{column}' ({self.declared}) at row {row}: "
            f"{json.dumps(value, ensure_ascii=False)}"
        )


def _valid(value: Any, shape: re.Pattern[str], parse: Callable[[str], object]) -> bool:
    if not isinstance(value, str) or not shape.match(value):
        return False
    try:
        parse(value)
    except ValueError:
        return False
    return True
