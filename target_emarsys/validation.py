"""Record checks against the stream's schema with a compiled validator."""

from __future__ import annotations

import datetime
import functools
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import fastjsonschema
from jsonschema import Draft7Validator, SchemaError
from jsonschema.validators import validator_for
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


_ANNOTATIONS = frozenset(
    {"description", "title", "examples", "default", "$comment", "readOnly", "writeOnly"}
)
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _refuse_remote(uri: str) -> Any:
    msg = f"$ref {uri!r} is outside the schema (the target fetches no URL and reads no file)"
    raise fastjsonschema.JsonSchemaDefinitionException(msg)


class _NoRemoteSchemas(dict[str, Callable[[str], Any]]):
    """fastjsonschema's `handlers`, refusing every URI scheme: a scheme without a handler is
    opened with `urlopen` (a network request, or a local file for `file:`)."""

    def __contains__(self, scheme: object) -> bool:
        return True

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return _refuse_remote


def schema_error(schema: dict[str, Any]) -> str | None:
    """What is wrong with `schema` and where, by jsonschema's check against its metaschema
    (None: nothing found). fastjsonschema names no place (`Unknown type`), or fails with
    whatever Python error the bad part causes (`re.error`, `TypeError`, ...)."""
    try:
        validator_for(schema, default=Draft7Validator).check_schema(schema)
    except SchemaError as exc:
        return f"{exc.message} at {exc.json_path}"
    except Exception:  # a `$schema` that is no URI text: jsonschema fails on it unchecked
        return None
    return None


class _Missing:
    """The type of the stand-in a generated check gets for a property the record lacks."""


class NotSurelyValid(Exception):
    """Raised by a fast check for a record it cannot vouch for (the full check decides)."""


class FastChecks(NamedTuple):
    """The two compiled forms of one schema's fast check (`fast_type_checks`)."""

    check: Callable[[dict[str, Any]], None]
    """Raises `NotSurelyValid` for a record it cannot vouch for; returns None otherwise."""
    check_run: Callable[[list[dict[str, Any]]], bool]
    """True when `check` would pass every record of the list and each has exactly the
    properties of the schema; False at the first one that does not (raising nothing)."""


def fast_type_checks(
    schema: dict[str, Any],
    formats: dict[str, Callable[[str], bool]],
    present: Sequence[str] = (),
) -> FastChecks | None:
    """Checks that let through only records the full validator would accept, or None.

    Most Singer schemas say no more than a type (and a format) per property. For those, this
    compiles a function that compares each value's exact Python type with the types allowed
    and runs the same format checks, about five times faster than fastjsonschema's code,
    which also handles every rule the schema does not use. It is deliberately narrower than
    JSON schema: whatever it is not sure of (a float that is an integer, a `Decimal`, ...)
    raises `NotSurelyValid`, and the caller then runs the full validator, which accepts or
    rejects with its message. A schema using anything else (`anyOf`, `enum`, limits, nested
    objects, ...) gets None: the full validator checks every record.

    A record that lacks one of the `present` properties (the stream's key properties), or has
    one null, is not passed either, so a record that passes is known to have them all set.

    `check_run` is the same check over a list of records in one call, for a run of records
    read together (`reader.SingerLineReader`): it answers False instead of raising, and a
    record lacking a property of the schema or having another is an answer of False too, so
    that the caller takes the run one record at a time and `check` decides for each.
    """
    kinds = schema.get("type", "object")
    if kinds != "object" and not (isinstance(kinds, list) and "object" in kinds):
        return None
    if set(schema) - {"type", "properties", "required", "additionalProperties"} - _ANNOTATIONS:
        return None
    if schema.get("additionalProperties", True) is not True:
        return None
    required = schema.get("required", [])
    properties = schema.get("properties", {})
    if not isinstance(required, list) or not isinstance(properties, dict):
        return None
    # Three functions: `check` reads each typed property by subscript, the cheapest read, and
    # hands a record that lacks one to `tolerant`, which reads with a stand-in for a missing
    # property whose type is in the allowed set of each property that may be missing;
    # `check_run` reads like `check` and wants every property there and no other.
    namespace: dict[str, Any] = {"NotSurelyValid": NotSurelyValid, "MISSING": _Missing()}
    lines = ["def check(record):"]
    tolerant = ["def tolerant(record):", "    get = record.get"]
    run = [
        "def check_run(records):",
        "    try:",
        "        for record in records:",
        f"            if len(record) != {len(properties)}: return False",
    ]
    typed = {name for name, spec in properties.items() if isinstance(spec, dict) and "type" in spec}
    for name in dict.fromkeys([*required, *present]):
        if not isinstance(name, str):
            return None
        if name in typed:  # the property's own line below checks it (and a key's null)
            continue
        test = f"record.get({name!r}) is None" if name in present else f"{name!r} not in record"
        for code in (lines, tolerant):
            code.append(f"    if {test}: raise NotSurelyValid")
        run.append(f"            if {test}: return False")
    lines.append("    try:")
    for index, (name, spec) in enumerate(properties.items()):
        if not isinstance(spec, dict) or set(spec) - {"type", "format"} - _ANNOTATIONS:
            return None
        if "type" not in spec:
            if "format" in spec:
                return None
            continue  # any value
        names = [spec["type"]] if isinstance(spec["type"], str) else spec["type"]
        if not isinstance(names, list) or not names or any(n not in _PYTHON_TYPES for n in names):
            return None
        allowed = frozenset(t for n in names for t in _PYTHON_TYPES[n])
        if name in present:  # a key property: there, and not null, for the check to pass
            allowed -= {type(None)}
        elif name not in required:
            allowed |= {_Missing}
        namespace[f"T{index}"] = allowed
        fmt = spec.get("format")
        if fmt is not None:
            if fmt not in formats or "string" not in names:
                return None
            namespace[f"F{index}"] = functools.lru_cache(maxsize=4096)(formats[fmt])
        for code, indent, read, refuse in (
            (lines, "        ", f"record[{name!r}]", "raise NotSurelyValid"),
            (tolerant, "    ", f"get({name!r}, MISSING)", "raise NotSurelyValid"),
            (run, "            ", f"record[{name!r}]", "return False"),
        ):
            value = read if fmt is None else f"(v := {read})"
            code.append(f"{indent}if type({value}) not in T{index}: {refuse}")
            if fmt is not None:
                code.append(f"{indent}if type(v) is str and not F{index}(v): {refuse}")
    for name, spec in properties.items():  # untyped: any value, but the record must have it
        if not (isinstance(spec, dict) and "type" in spec):
            run.append(f"            if {name!r} not in record: return False")
    lines += ["        pass", "    except KeyError:", "        tolerant(record)"]
    run += ["            pass", "    except KeyError:", "        return False", "    return True"]
    # The code quotes names with repr() only.
    for code in (tolerant, lines, run):
        exec("\n".join(code), namespace)
    return FastChecks(namespace["check"], namespace["check_run"])


class CompiledSchemaValidator(BaseJSONSchemaValidator):
    """Validates records with a schema compiled to Python once per sink.

    The SDK's default walks the schema with `jsonschema` for every record, which costs more
    than everything else the target does per row; fastjsonschema compiles the schema into a
    function once.
    """

    def __init__(
        self,
        schema: dict[str, Any],
        *,
        validate_formats: bool = False,
        present: Sequence[str] = (),
    ) -> None:
        """Compile `schema`.

        Args:
            schema: The stream's JSON schema.
            validate_formats: Check string formats such as `date-time` too.
            present: Properties a record must have to pass `check` (the stream's key
                properties): the full check does not require them, the sink checks them.

        Raises:
            InvalidJSONSchema: The tap sent a schema that is not valid JSON schema.
        """
        super().__init__(schema)
        formats: dict[str, Callable[[str], bool]] = {}
        if not validate_formats:
            formats.update(dict.fromkeys(_FORMATS, _any_string))
        formats.update(_TEMPORAL_FORMATS)
        try:
            self._full_check = fastjsonschema.compile(
                schema, formats=formats, use_default=False, handlers=_NoRemoteSchemas()
            )
        except (
            fastjsonschema.JsonSchemaDefinitionException,
            re.error,
            TypeError,
            AttributeError,
            ValueError,
        ) as exc:  # all from the schema alone
            raise InvalidJSONSchema(schema_error(schema) or str(exc) or repr(exc)) from exc
        fast = fast_type_checks(schema, formats, present)
        self.check: Callable[[dict[str, Any]], Any] = fast.check if fast else self._full_check
        """Raises for a record that may be invalid and says nothing else: the record path
        calls it for every record and `validate` (the full check, with its message) only
        when it raises."""
        self.check_run: Callable[[list[dict[str, Any]]], bool] | None = (
            fast.check_run if fast else None
        )
        """`FastChecks.check_run`, for a schema with a fast check; else None."""
        self.checks_present: frozenset[str] = frozenset(present if fast else ())
        """The properties a record that passes `check` is known to have."""

    @override
    def validate(self, record: dict[str, Any]) -> None:
        """Raise `InvalidRecord` naming the property and rule when `record` does not fit."""
        try:
            self._full_check(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidRecord(f"Record Message Validation Error: {exc.message}", record) from exc
