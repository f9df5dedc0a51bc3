"""Ground truth for the tap's export streams, from the sandbox, in the tap's record shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

from emarsys_sandbox import Sandbox
from tap_emarsys.export_stream import ExportStream
from tap_emarsys.schema import field_groups

UTC = dt.timezone.utc


def typed_value(value: Any) -> Any:
    """Ground-truth values as the tap writes them to JSON."""
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def expected_records(sb: Sandbox, stream: ExportStream, state_context: Any = None) -> list[dict]:
    """What the stream must emit: the sandbox's rows for the tap's own units, in unit order.

    Several field groups are joined here by contact id from their own ground truth, so a join
    bug in the tap cannot hide in the expectation.
    """
    fields = stream.account.contact_fields
    groups = field_groups(fields, stream.field_group_size)
    names = {"user_id": "contact_id"}
    names.update({field.label: field.property_name for field in fields})
    names.update({extra.label: extra.property_name for extra in stream.extra_columns})
    expected: list[dict] = []
    for unit in stream.units(state_context, groups):
        parts: list[dict[int, dict]] = []
        for request in unit.requests[1:]:
            part: dict[int, dict] = {}
            for row in sb.expected_export(request.export_type.value, request.body):
                part.setdefault(row["user_id"], row)
            parts.append(part)
        group_labels = [[field.label for field in group] for group in groups[1:]]
        for row in sb.expected_export(unit.requests[0].export_type.value, unit.requests[0].body):
            merged = dict(row)
            for labels, part in zip(group_labels, parts, strict=True):
                other = part.get(row["user_id"], {})
                merged.update({label: other.get(label) for label in labels})
            record = {names[label]: typed_value(value) for label, value in merged.items()}
            record.update(stream.unit_record_extra(unit))
            expected.append(record)
    return expected


def typed(records: list[dict]) -> list[list[tuple[str, str, Any]]]:
    """Records as sorted (key, type name, value) triples, so `1` and `1.0` differ."""
    return [sorted((key, type(value).__name__, value) for key, value in r.items()) for r in records]
