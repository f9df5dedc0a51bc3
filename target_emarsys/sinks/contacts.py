"""Contacts: upserts keyed by one contact field, with per-item errors reported by key."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Hashable
from typing import Any

from target_emarsys.destinations import ContactsDestination
from target_emarsys.errors import DestinationConfigError, InvalidRowError
from target_emarsys.sinks.base import EmarsysSink, Pair
from target_emarsys.values import json_value

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class ContactsSink(EmarsysSink):
    """`PUT /api/v2/contact?create_if_not_exists=1` with up to 1000 contacts per request.

    Properties are named by the account's field `string_id` (`email`, `first_name`, ...) or
    by numeric field id, and sent by field id. Emarsys answers HTTP 200 even when some
    contacts fail; those come back per key (reference section 3.1) and are reported as
    rejected rows. Upserts by key are idempotent, so a rerun after a kill duplicates nothing.
    """

    destination: ContactsDestination

    @override
    def setup(self) -> None:
        """Map the stream's properties to field ids, from the account's field list."""
        super().setup()
        by_string_id: dict[str, str] = {}
        for field in self.client.fields():
            string_id = field.get("string_id")
            if string_id:
                by_string_id[str(string_id)] = str(field["id"])

        def field_id(name: str) -> str | None:
            return name if name.isdigit() else by_string_id.get(name)

        properties = list(self.schema.get("properties", {}))
        unknown = [name for name in properties if field_id(name) is None]
        if unknown:
            raise DestinationConfigError(
                self.stream_name,
                f"propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                "match no contact field of this account (string_id or numeric id); "
                "rename or drop them with a stream map",
            )
        key_field = self.destination.key_field
        key_id = field_id(key_field)
        key_property = next((p for p in properties if field_id(p) == key_id), None)
        if key_id is None or key_property is None:
            raise DestinationConfigError(
                self.stream_name,
                f"key_field {key_field!r} is not a contact field of this account "
                "or not a property of the stream",
            )
        self.key_id = key_id
        self.key_property = key_property
        self.field_ids = {name: str(field_id(name)) for name in properties}
        self.logger.info(
            "stream '%s' -> contacts keyed by %s (field %s)", self.stream_name, key_field, key_id
        )

    @override
    def describe_key(self, record: dict[str, Any]) -> str:
        """Contacts are named by their key field."""
        return f"{self.destination.key_field}={record.get(self.key_property)!r}"

    @override
    def prepare_row(self, record: dict[str, Any]) -> dict[str, Any]:
        """The contact keyed by field id; a contact without a key value never leaves."""
        key = record.get(self.key_property)
        if key is None or (isinstance(key, str) and not key.strip()):
            raise InvalidRowError(
                self.stream_name,
                self.describe_key(record),
                f"key field {self.destination.key_field} is empty",
            )
        return {
            self.field_ids[name]: json_value(value)
            for name, value in record.items()
            if name in self.field_ids
        }

    @override
    def plan_requests(self, pairs: list[Pair]) -> list[list[Pair]]:
        """One request never holds a key twice: the last record per key wins."""
        return super().plan_requests(self.last_per_key(pairs, self.row_key))

    def row_key(self, row: dict[str, Any]) -> str:
        """The contact's key value, as Emarsys reports per-key errors."""
        return str(row[self.key_id])

    @override
    def request_keys(self, request: list[Pair]) -> list[Hashable]:
        """Contacts with the same key are written in input order."""
        return [self.row_key(row) for row, _ in request]

    @override
    def write(self, request: list[Pair]) -> None:
        """One upsert call; contacts Emarsys refused are rejected by key."""
        result = self.client.upsert_contacts(
            self.key_id, [row for row, _ in request], create_if_not_exists=True
        )
        if not result.errors:
            return
        by_key: dict[str, list[Pair]] = defaultdict(list)
        for pair in request:
            by_key[self.row_key(pair[0])].append(pair)
        for key, problems in result.errors.items():
            reason = "; ".join(f"{text} (errorCode {code})" for code, text in problems)
            self.reject(by_key.get(str(key), []), reason)
