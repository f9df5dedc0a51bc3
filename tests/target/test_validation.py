"""The fast record check lets through only what the full validator accepts."""

from __future__ import annotations

import decimal
import itertools
from typing import Any

import pytest
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord

from target_emarsys.validation import CompiledSchemaValidator, NotSurelyValid, fast_type_checks

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "n": {"type": ["integer", "null"]},
        "x": {"type": ["number", "null"], "description": "an amount"},
        "s": {"type": ["string", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "d": {"type": "string", "format": "date"},
        "b": {"type": ["boolean", "null"]},
        "any": {},
    },
    "required": ["id"],
}
VALUES = [
    0,
    7,
    -1,
    1.0,
    2.5,
    True,
    False,
    None,
    "",
    "7",
    "2026-03-29T01:30:00+00:00",
    "2026-03-29",
    "not a time",
    decimal.Decimal("1.5"),
    [1],
    {"a": 1},
]


def full_accepts(validator: CompiledSchemaValidator, record: dict[str, Any]) -> bool:
    try:
        validator.validate(record)
    except InvalidRecord:
        return False
    return True


def test_schema_of_types_and_formats_gets_a_fast_check() -> None:
    validator = CompiledSchemaValidator(SCHEMA)
    assert validator.check is not validator._full_check


@pytest.mark.parametrize("name", [n for n in SCHEMA["properties"] if n != "id"])
def test_fast_check_never_passes_a_value_the_full_check_refuses(name: str) -> None:
    validator = CompiledSchemaValidator(SCHEMA)
    passed = refused = 0
    for value in VALUES:
        record = {"id": 1, name: value}
        try:
            validator.check(record)
        except NotSurelyValid:
            refused += 1
            continue
        passed += 1
        assert full_accepts(validator, record), (name, value)
    assert passed and (refused or name == "any")  # both sides exercised where there are two


def test_fast_check_refuses_what_it_cannot_vouch_for_and_the_full_check_decides() -> None:
    validator = CompiledSchemaValidator(SCHEMA)
    for record, valid in [
        ({"id": True}, False),  # a boolean is no integer
        ({"n": 3}, False),  # `id` is required
        ({"id": 1, "at": "not a time"}, False),
        ({"id": 1, "x": decimal.Decimal("1.5")}, True),  # not a JSON float, yet a number
    ]:
        with pytest.raises(NotSurelyValid):
            validator.check(record)
        assert full_accepts(validator, record) is valid, record


def test_missing_properties_and_nulls_pass_fast() -> None:
    validator = CompiledSchemaValidator(SCHEMA)
    for record in [{"id": 1}, {"id": 1, "n": None, "x": 3, "at": None, "extra": [1, 2]}]:
        validator.check(record)
        assert full_accepts(validator, record)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}},
        {"type": "object", "properties": {"a": {"enum": ["x", "y"]}}},
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
        {"type": "object", "properties": {"a": {"type": "object"}}},
        {"type": "object", "properties": {"a": {"type": "string", "format": "email"}}},
        {"type": "object", "properties": {}, "additionalProperties": False},
        {"type": "object", "properties": {}, "patternProperties": {"^x": {"type": "string"}}},
    ],
)
def test_schemas_with_other_rules_get_no_fast_check(schema: dict[str, Any]) -> None:
    assert fast_type_checks(schema, {}) is None
    validator = CompiledSchemaValidator(schema, validate_formats=True)
    assert validator.check is validator._full_check


def test_every_combination_of_two_properties_agrees() -> None:
    validator = CompiledSchemaValidator(SCHEMA)
    for a, b in itertools.product(VALUES, repeat=2):
        record = {"id": a, "at": b}
        try:
            validator.check(record)
        except NotSurelyValid:
            continue
        assert full_accepts(validator, record), record


def passes(validator: CompiledSchemaValidator, record: dict[str, Any]) -> bool:
    try:
        validator.check(record)
    except NotSurelyValid:
        return False
    return True


def test_the_run_check_passes_a_run_only_when_check_passes_each_full_record() -> None:
    """`check_run` is `check` over a list, for records with exactly the schema's properties:
    a record lacking one, or with another, fails the run, and so does any one record."""
    validator = CompiledSchemaValidator(SCHEMA, present=["id"])
    assert validator.check_run is not None
    full = {
        "id": 1,
        "n": 2,
        "x": 2.5,
        "s": "",
        "at": None,
        "d": "2026-03-29",
        "b": True,
        "any": [1],
    }
    assert validator.check_run([full, dict(full, id=2)])
    assert validator.check_run([])
    for name, value in itertools.product(SCHEMA["properties"], VALUES):
        record = dict(full, **{name: value})
        assert validator.check_run([record]) is passes(validator, record), (name, value)
        assert validator.check_run([full, record, full]) is passes(validator, record)
    for name in SCHEMA["properties"]:
        sparse = {key: value for key, value in full.items() if key != name}
        assert passes(validator, sparse) or name in ("id", "d")
        assert not validator.check_run([full, sparse])
    assert not validator.check_run([dict(full, extra=1)])


def test_no_run_check_without_a_fast_check() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}}
    assert CompiledSchemaValidator(schema).check_run is None


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_a_ref_outside_the_schema_is_neither_read_nor_fetched(tmp_path: Any, scheme: str) -> None:
    """The reader refuses such a SCHEMA line first; the validator refuses it too."""
    (tmp_path / "x.json").write_text('{"type": "integer"}')
    uri = (tmp_path / "x.json").as_uri() if scheme == "file" else "http://127.0.0.1:9/x.json"
    with pytest.raises(InvalidJSONSchema, match="outside the schema"):
        CompiledSchemaValidator({"properties": {"id": {"$ref": uri}}})
