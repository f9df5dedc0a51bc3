"""The account's contact fields (`GET /field`): names, JSON schema types and converters.

Custom fields differ per account, so the schema of every export stream is built from the
account's own field list at discovery: a field becomes the snake_case of its `string_id`, typed
by its `application_type`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emarsys_api import ConfigurationError
from tap_emarsys.records import Converter, snake_case, value_converter, value_schema

# docs/emarsys-api.md §4.2: these fields cannot be exported.
NOT_EXPORTABLE = frozenset({27, 28, 29, 32, 33})
DEFAULT_CONTACT_FIELDS: tuple[int, ...] = (1, 2, 3)
EXPORT_FIELD_LIMIT = 20  # docs/emarsys-api.md §4.2: at most 20 contact fields per export

_NUMERIC = {"numeric"}
_DATES = {"date", "birthdate"}


@dataclass(frozen=True)
class ContactField:
    """One contact field of the account.

    Attributes:
        id: the field id Emarsys exports by.
        label: the English name, which is also the CSV header label (language `en`).
        application_type: Emarsys's type (`shorttext`, `numeric`, `date`, ...).
        string_id: Emarsys's stable text id (may be empty for old custom fields).
        property_name: the record property name.
    """

    id: int
    label: str
    application_type: str
    string_id: str
    property_name: str

    @property
    def kind(self) -> str:
        """The `records.VALUE_SCHEMAS` kind of the field's values, from its application type."""
        if self.application_type in _NUMERIC:
            return "number"
        if self.application_type in _DATES:
            return "date"
        return "text"

    @property
    def json_schema(self) -> dict[str, Any]:
        """JSON schema of the field's values (always nullable: any field may be empty)."""
        return value_schema(self.kind)

    @property
    def converter(self) -> Converter:
        """The CSV value converter matching `json_schema`."""
        return value_converter(self.kind)


class FieldCatalog:
    """The account's contact fields, with collision-free property names."""

    def __init__(
        self, fields: Iterable[Mapping[str, Any]], *, reserved: Iterable[str] = ()
    ) -> None:
        """Name every field once, in id order, so names are stable between runs.

        Args:
            fields: the `data` of `GET /field/translate/en`.
            reserved: property names taken by non-field columns (`contact_id`, ...); a field
                whose name clashes gets `_<field id>` appended.
        """
        taken = set(reserved)
        self.by_id: dict[int, ContactField] = {}
        for raw in sorted(fields, key=lambda item: int(item["id"])):
            field_id = int(raw["id"])
            string_id = str(raw.get("string_id") or "")
            label = str(raw.get("name") or "")
            name = snake_case(string_id or label or f"field_{field_id}")
            if name in taken:
                name = f"{name}_{field_id}"
            taken.add(name)
            self.by_id[field_id] = ContactField(
                id=field_id,
                label=label,
                application_type=str(raw.get("application_type") or ""),
                string_id=string_id,
                property_name=name,
            )

    def resolve(
        self, wanted: Sequence[int | str] | None, *, setting: str = "contact_fields"
    ) -> list[ContactField]:
        """Look up a setting's fields (ids or string ids) in the account.

        Args:
            wanted: the setting's value; `None` or empty means the default fields.
            setting: the setting named in the error (`contact_fields`, `member_key_field`).

        Returns:
            The fields in the order given, without duplicates.

        Raises:
            ConfigurationError: an unknown or non-exportable field, listing the valid choices.
        """
        by_text = {}
        for field in self.by_id.values():
            by_text[field.string_id] = field
            by_text[field.property_name] = field
        by_text.pop("", None)
        resolved: list[ContactField] = []
        unknown: list[str] = []
        for item in wanted or DEFAULT_CONTACT_FIELDS:
            text = str(item).strip()
            found = self.by_id.get(int(text)) if text.lstrip("-").isdigit() else by_text.get(text)
            if found is None or found.id in NOT_EXPORTABLE:
                unknown.append(text)
            elif found not in resolved:
                resolved.append(found)
        if unknown:
            choices = ", ".join(
                f"{field.id} ({field.string_id or field.property_name})"
                for field in self.by_id.values()
                if field.id not in NOT_EXPORTABLE
            )
            msg = (
                f"unknown or non-exportable contact field(s) {', '.join(unknown)}; "
                f"valid choices are: {choices}"
            )
            raise ConfigurationError(msg, setting=setting)
        return resolved


def field_groups(
    fields: Sequence[ContactField],
    size: int = EXPORT_FIELD_LIMIT,
    *,
    in_every_group: ContactField | None = None,
) -> list[list[ContactField]]:
    """Split the fields into export-sized groups (at most 20 per export, docs/emarsys-api.md §4.2).

    Args:
        fields: the fields in the order the user gave them.
        size: the group size (smaller for response exports, whose analysis fields count too).
        in_every_group: a field every group carries (the member key field: an export without
            `user_id` can only be joined by it); it keeps its place in the first group and
            is appended to the others.

    Returns:
        The groups, the first one carrying the first fields.
    """
    if in_every_group is None or len(fields) <= size:
        return [list(fields[i : i + size]) for i in range(0, len(fields), size)]
    first = list(fields[:size])
    if in_every_group not in first:
        first = [*fields[: size - 1], in_every_group]
    rest = [field for field in fields if field not in first]
    groups = [first]
    for i in range(0, len(rest), size - 1):
        groups.append([*rest[i : i + size - 1], in_every_group])
    return groups
