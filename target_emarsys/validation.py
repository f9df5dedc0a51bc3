"""Record checks against the stream's schema with a compiled validator."""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable
from typing import Any

import fastjsonschema
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

# fastjsonschema checks these formats by default; the SDK checks none unless a sink asks.
_FORMATS = (
    "date",
    "date-time",
    "time",
    "email",
    "hostname",
    "idn-email",
    "ipv4",
    "ipv6",
    "regex",
    "uri",
    "uri-reference",
    "uuid",
    "duration",
    "json-pointer",
)


def _any_string(_: str) -> bool:
    return True


def _parses_as(parse: Callable[[str], object]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return check


# The SDK turns these into Python dates and times after validation and stops the run on a value
# it cannot parse; checking them here with the same parsers makes that a record error instead.
_TEMPORAL_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _parses_as(datetime.datetime.fromisoformat),
    "date": _parses_as(datetime.date.fromisoformat),
    "time": _parses_as(datetime.time.fromisoformat),
}


class CompiledSchemaValidator(BaseJSONSchemaValidator):
    """Validates records with a schema compiled to Python once per sink.

    The SDK's default walks the schema with `jsonschema` for every record, which costs more
    than everything else the target does per row; fastjsonschema compiles the schema into a
    function once.
    """

    def __init__(self, schema: dict[str, Any], *, validate_formats: bool = False) -> None:
        """Compile `schema`.

        Args:
            schema: The stream's JSON schema.
            validate_formats: Check string formats such as `date-time` too.

        Raises:
            InvalidJSONSchema: The tap sent a schema that is not valid JSON schema.
        """
        super().__init__(schema)
        formats: dict[str, Callable[[str], bool]] = {}
        if not validate_formats:
            formats.update(dict.fromkeys(_FORMATS, _any_string))
        formats.update(_TEMPORAL_FORMATS)
        try:
            self.check: Callable[[dict[str, Any]], Any] = fastjsonschema.compile(
                schema, formats=formats, use_default=False
            )
            """The compiled check alone: raises on an invalid record, says nothing else
            (the record path calls it for every record, `validate` only for a failure)."""
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            msg = f"Schema Validation Error: {exc}"
            raise InvalidJSONSchema(msg) from exc

    @override
    def validate(self, record: dict[str, Any]) -> None:
        """Raise `InvalidRecord` naming the property and rule when `record` does not fit."""
        try:
            self.check(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidRecord(f"Record Message Validation Error: {exc.message}", record) from exc
