"""Contact fields: names from string ids, clashes, types, resolving the setting."""

from __future__ import annotations

import pytest

from emarsys_api import ConfigurationError
from tap_emarsys.contact_fields import FieldCatalog, field_groups

FIELDS = [
    {"id": 1, "name": "First Name", "application_type": "shorttext", "string_id": "first_name"},
    {"id": 2, "name": "Last Name", "application_type": "shorttext", "string_id": "last_name"},
    {"id": "3", "name": "E-Mail", "application_type": "longtext", "string_id": "email"},
    {"id": 4, "name": "Date of Birth", "application_type": "birthdate", "string_id": "birth_date"},
    {"id": 27, "name": "Avg. length", "application_type": "numeric", "string_id": "avg_visit"},
    {"id": 1000, "name": "Loyalty", "application_type": "numeric", "string_id": "loyalty_points"},
    {
        "id": 1004,
        "name": "First (legacy)",
        "application_type": "shorttext",
        "string_id": "First-Name",
    },
    {"id": 1005, "name": "Source", "application_type": "shorttext", "string_id": "source"},
]


def catalog() -> FieldCatalog:
    return FieldCatalog(FIELDS, reserved={"contact_id", "source"})


def test_property_names_and_clashes() -> None:
    names = {field.id: field.property_name for field in catalog().by_id.values()}
    assert names[1] == "first_name"
    assert names[1004] == "first_name_1004"
    assert names[1005] == "source_1005"
    assert names[3] == "email"


def test_types_follow_application_type() -> None:
    by_id = catalog().by_id
    assert by_id[1000].json_schema == {"type": ["number", "null"]}
    assert by_id[4].json_schema["format"] == "date"
    assert by_id[1].json_schema == {"type": ["string", "null"]}
    assert by_id[1000].converter("2.5") == 2.5


def test_resolve_accepts_ids_and_string_ids_in_order() -> None:
    resolved = catalog().resolve(["email", 1, "1000", "first_name_1004", 3])
    assert [field.id for field in resolved] == [3, 1, 1000, 1004]


def test_resolve_defaults() -> None:
    assert [field.id for field in catalog().resolve(None)] == [1, 2, 3]


def test_unknown_and_non_exportable_fields_list_the_choices() -> None:
    with pytest.raises(ConfigurationError) as caught:
        catalog().resolve(["nope", 27])
    message = str(caught.value)
    assert "nope, 27" in message
    assert "contact_fields" in message
    assert "1000 (loyalty_points)" in message
    assert "27 (" not in message


def test_field_groups() -> None:
    fields = catalog().resolve([1, 3, 4, 1000, 1004])
    assert [[f.id for f in group] for group in field_groups(fields, 2)] == [
        [1, 3],
        [4, 1000],
        [1004],
    ]
