"""Behavior data (HDS, docs/emarsys-api.md §7): a CSV body with a header row, validated row by
row.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from emarsys_sandbox.exceptions import HdsError

REQUIRED = ("campaign_id", "message_id", "contact_id", "event_time")
INTEGER_FIELDS = ("campaign_id", "message_id", "contact_id", "sending_segment_id", "field_id")
BOUNCE_CATEGORIES = ("soft", "hard", "block")
_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_event_time(value: str, vienna: ZoneInfo) -> datetime | None:
    """ISO 8601 with optional time and offset; no offset means Vienna time (docs/emarsys-api.md
    §7).
    """
    m = _TIME.match(value.strip())
    if not m:
        return None
    day, clock, zone = m.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock or '00:00:00'}")
    except ValueError:
        return None
    if zone is None:
        return moment.replace(tzinfo=vienna).astimezone(timezone.utc)
    if zone.upper() == "Z":
        return moment.replace(tzinfo=timezone.utc)
    digits = zone[1:].replace(":", "")
    return datetime.fromisoformat(
        f"{day}T{clock or '00:00:00'}{zone[0]}{digits[:2]}:{digits[2:]}"
    ).astimezone(timezone.utc)


def parse_events(body: bytes, vienna: ZoneInfo) -> list[dict[str, Any]]:
    """The events of a request body, or HdsError with replyCode 1/2/3 (0-based event numbers)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HdsError(1, "Cannot parse CSV payload. Invalid UTF-8.") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise HdsError(
            1, f"Cannot parse CSV payload. Illegal quoting in line {reader.line_num}."
        ) from exc
    rows = [r for r in rows if r]
    if not rows:
        raise HdsError(1, "Cannot parse CSV payload. Empty payload.")
    header = [h.strip() for h in rows[0]]
    events: list[dict[str, Any]] = []
    for number, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise HdsError(
                1, f"Cannot parse CSV payload. Wrong number of fields in line {number + 2}."
            )
        event: dict[str, Any] = dict(zip(header, row, strict=True))
        for name in REQUIRED:
            if not event.get(name, "").strip():
                raise HdsError(2, f"Missing required field: {name}, event number: {number}")
        for name in INTEGER_FIELDS:
            if name in event and event[name] != "" and not re.fullmatch(r"-?\d+", event[name]):
                raise HdsError(
                    3,
                    f"Invalid value for field {name}: Integer value expected, "
                    f"event number: {number}",
                )
        moment = parse_event_time(event["event_time"], vienna)
        if moment is None:
            raise HdsError(
                3,
                "Invalid value for field event_time: ISO 8601 date time expected, "
                f"event number: {number}",
            )
        if "is_mobile" in event and event["is_mobile"].lower() not in ("", "true", "false"):
            raise HdsError(
                3,
                "Invalid value for field is_mobile: Boolean value expected, "
                f"event number: {number}",
            )
        category = event.get("bounce_category")
        if category is not None and category not in BOUNCE_CATEGORIES:
            raise HdsError(
                3,
                f"Invalid value for field bounce_category: soft, hard or block expected, "
                f"event number: {number}",
            )
        event["event_time_utc"] = moment
        events.append(event)
    return events
