"""Ground truth for the tap's export streams, from the sandbox, in the tap's record shape."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

from emarsys_sandbox import Sandbox, synthetic
from tap_emarsys.export_stream import AudienceExportStream, ExportStream

UTC = dt.timezone.utc
#: The tap's streams that read exports: the time-ranged ones, then the audience snapshots.
TIME_RANGED_STREAMS = ["contact_changes", "contact_registrations", "email_responses"]
EXPORT_STREAMS = [*TIME_RANGED_STREAMS, "contact_list_members", "segment_members"]
# The sandbox's ground truth is keyed by its English export labels, which an account may have
# renamed in `GET /field` since (docs/emarsys-api.md §12.3): fields are matched by id.
ENGLISH_LABELS = {field.id: field.name for field in synthetic.FIELDS}


def typed_value(value: Any) -> Any:
    """Ground-truth values as the tap writes them to JSON."""
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@contextlib.contextmanager
def member_ids_shown(sb: Sandbox) -> Iterator[None]:
    """Ground truth with `user_id` even where the account's member exports lack it (§12.1).

    The rows are the same either way; only their contact ids, which the tap has to look up,
    are missing from the account's files and from the ground truth rendered like them.
    """
    variants = sb.backend.variants
    sb.backend.variants = dataclasses.replace(variants, member_user_id=True)
    try:
        yield
    finally:
        sb.backend.variants = variants


def expected_records(sb: Sandbox, stream: ExportStream, state_context: Any = None) -> list[dict]:
    """What the stream must emit: the sandbox's rows for the tap's own units, in unit order.

    Several field groups are joined here by contact id from their own ground truth, so a join
    bug in the tap cannot hide in the expectation. Extra columns an account's layout lacks
    (`last update`, §12.2) are null. Member rows whose `member_key_field` value names no
    single contact (`unresolvable_members`) are left out when the account's member exports
    have no `user_id` (§12.1): they cannot carry a key.
    """
    fields = stream.exported_fields
    groups = stream.field_groups()
    english = {field.id: ENGLISH_LABELS.get(field.id, field.label) for field in fields}
    names = {"user_id": "contact_id"}
    names.update({english[field.id]: field.property_name for field in fields})
    names.update({extra.label: extra.property_name for extra in stream.extra_columns})
    nulls = {extra.property_name: None for extra in stream.extra_columns}
    holders: dict[str, set[int]] | None = None  # set: member rows need their key to resolve
    key_label = ""
    if isinstance(stream, AudienceExportStream) and not sb.backend.variants.member_user_id:
        key_field = stream.account.member_key_field
        holders = written_key_holders(sb, key_field.id)
        key_label = english[key_field.id]
    with member_ids_shown(sb):
        return _expected(sb, stream, state_context, groups, names, nulls, holders, key_label)


def _expected(
    sb: Sandbox,
    stream: ExportStream,
    state_context: Any,
    groups: list[list[Any]],
    names: dict[str, str],
    nulls: dict[str, None],
    holders: dict[str, set[int]] | None,
    key_label: str,
) -> list[dict]:
    fold = sb.backend.account.email_keys_fold_case and key_label == ENGLISH_LABELS[3]
    english = {f.id: ENGLISH_LABELS.get(f.id, f.label) for group in groups for f in group}
    expected: list[dict] = []
    for unit in stream.units(state_context, groups):
        parts: list[dict[int, dict]] = []
        for request in unit.requests[1:]:
            part: dict[int, dict] = {}
            for row in sb.expected_export(request.export_type.value, request.body):
                part.setdefault(row["user_id"], row)
            parts.append(part)
        group_labels = [[english[field.id] for field in group] for group in groups[1:]]
        for row in sb.expected_export(unit.requests[0].export_type.value, unit.requests[0].body):
            if holders is not None:
                # getdata finds no single contact for an empty or shared value (2005/2010).
                value = row.get(key_label)
                if value in (None, "") or holders.get(key_form(value, fold), set()) - {
                    row["user_id"]
                }:
                    continue
            merged = dict(row)
            for labels, part in zip(group_labels, parts, strict=True):
                other = part.get(row["user_id"], {})
                merged.update({label: other.get(label) for label in labels})
            record = dict(nulls)
            record.update({names[label]: typed_value(value) for label, value in merged.items()})
            record.update(stream.unit_record_extra(unit))
            expected.append(record)
    return expected


def written_key_holders(sb: Sandbox, key_id: int) -> dict[str, set[int]]:
    """Key field value (as the account compares it) -> contacts written with that value.

    Synthetic e-mail addresses are unique by construction (they carry the contact's index), so
    a value two contacts share comes from a contact written later (`contact_state`).
    """
    key = str(key_id)
    fold = sb.backend.account.email_keys_fold_case and key == "3"
    holders: dict[str, set[int]] = {}
    for contact_id, fields in sb.contact_state().items():
        value = fields.get(key)
        if value not in (None, ""):
            holders.setdefault(key_form(value, fold), set()).add(contact_id)
    return holders


def key_form(value: Any, fold: bool) -> str:
    """A key value as the account matches it (e-mail folded in case when it folds)."""
    text = "" if value is None else str(value)
    return text.casefold() if fold else text


def typed(records: list[dict]) -> list[list[tuple[str, str, Any]]]:
    """Records as sorted (key, type name, value) triples, so `1` and `1.0` differ.

    `snapshot_at` (member streams) is the time the run took its snapshot, which ground truth
    cannot know: it must be there and be a UTC timestamp, and is compared as such.
    """
    return [
        sorted((key, type(value).__name__, snapshot_time(key, value)) for key, value in r.items())
        for r in records
    ]


def snapshot_time(key: str, value: Any) -> Any:
    """`snapshot_at` values become one marker when they are aware UTC ISO 8601 timestamps."""
    if key != "snapshot_at" or not isinstance(value, str):
        return value
    moment = dt.datetime.fromisoformat(value)
    return "<a UTC snapshot time>" if moment.utcoffset() == dt.timedelta(0) else value
