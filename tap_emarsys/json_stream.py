"""Base stream for the JSON read endpoints: a declared property table, values coerced to it.

Emarsys returns ids as strings in some replies and integers in others (docs/emarsys-api.md
§6.4), so every record is shaped to its declared types once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tap_emarsys import records
from tap_emarsys.snapshots import ActivatedAfterSnapshot

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Record

    from tap_emarsys.account import Account


def as_int(value: Any) -> int | None:
    """`"7555"` and `7555` both become 7555; empty is null."""
    if value is None or value == "":
        return None
    return int(value)


def as_str(value: Any) -> str | None:
    """Any scalar as text; empty is null."""
    if value is None or value == "":
        return None
    return str(value)


def as_date(value: Any) -> str | None:
    """`2026-03-16` stays a date string; empty is null."""
    text = as_str(value)
    return None if text is None else records.as_date(text)


_SCHEMAS: dict[str, dict[str, Any]] = {
    "integer": {"type": ["integer"]},
    "string": {"type": ["string"]},
    "date": {"type": ["string"], "format": "date"},
    "timestamp": {"type": ["string"], "format": "date-time"},
}


class AccountStream(ActivatedAfterSnapshot):
    """A stream over one JSON endpoint of the Emarsys client.

    Subclasses declare `properties` (name -> `integer`, `string`, `date` or `timestamp`) and
    optionally `renames` (Emarsys key -> property); keys not declared are dropped, so records
    always match the schema. Timestamps are naive account time in Emarsys replies
    (docs/emarsys-api.md §9) and leave as ISO 8601 UTC, like the exports' timestamps.
    """

    properties: ClassVar[dict[str, str]] = {}
    renames: ClassVar[dict[str, str]] = {}

    def __init__(self, tap: Tap, account: Account) -> None:
        """Declare the schema from `properties` (primary keys are never null).

        Args:
            tap: the tap the stream belongs to (the SDK's `Stream` needs it).
            account: the account of this run (settings, client, contact fields), passed in
                so no stream module imports the tap.
        """
        self.account = account
        keys = set(self.primary_keys or [])
        properties: dict[str, Any] = {}
        for name, kind in self.properties.items():
            schema = dict(_SCHEMAS[kind])
            if name not in keys:
                schema["type"] = [*schema["type"], "null"]
            properties[name] = schema
        as_timestamp = records.timestamp_converter(self.account.zone)
        shapers: dict[str, Callable[[Any], Any]] = {
            "integer": as_int,
            "string": as_str,
            "date": as_date,
            "timestamp": lambda value: as_timestamp(as_str(value) or ""),
        }
        self._shapers = [(name, shapers[kind]) for name, kind in self.properties.items()]
        super().__init__(tap, schema={"type": "object", "properties": properties})

    def shape(self, raw: Mapping[str, Any]) -> Record:
        """Rename and coerce one reply object to the declared properties."""
        renamed = {self.renames.get(key, key): value for key, value in raw.items()}
        return {name: shape(renamed.get(name)) for name, shape in self._shapers}
