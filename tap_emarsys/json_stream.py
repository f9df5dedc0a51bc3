"""Base stream for the JSON read endpoints: a declared property table, values coerced to it.

Emarsys returns ids as strings in some replies and integers in others (docs/emarsys-api.md
§6.4), so every record is shaped to its declared types once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tap_emarsys import records
from tap_emarsys.snapshots import ActivatedAfterSnapshot

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Record

    from tap_emarsys.account import Account


class AccountStream(ActivatedAfterSnapshot):
    """A stream over one JSON endpoint of the Emarsys client.

    Subclasses declare `properties` (name -> a `records.VALUE_SCHEMAS` kind: `integer`, `text`,
    `date`, `timestamp`, ...) and optionally `renames` (Emarsys key -> property); keys not
    declared are dropped, so records always match the schema. Timestamps are naive account time
    in Emarsys replies (docs/emarsys-api.md §9) and leave as ISO 8601 UTC, like the exports'
    timestamps.
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
        properties = {
            name: records.value_schema(kind, nullable=name not in keys)
            for name, kind in self.properties.items()
        }
        self._shapers = [
            (name, records.reply_converter(records.value_converter(kind, account.zone)))
            for name, kind in self.properties.items()
        ]
        super().__init__(tap, schema={"type": "object", "properties": properties})

    def shape(self, raw: Mapping[str, Any]) -> Record:
        """Rename and coerce one reply object to the declared properties."""
        renamed = {self.renames.get(key, key): value for key, value in raw.items()}
        return {name: shape(renamed.get(name)) for name, shape in self._shapers}
