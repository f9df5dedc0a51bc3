"""Behavior events through the unified behavior data endpoint (HDS), as CSV."""

from __future__ import annotations

import csv
import io
import sys
from typing import Any

from emarsys_api import ValidationError
from target_emarsys.destinations import BehaviorDestination
from target_emarsys.errors import InvalidRowError
from target_emarsys.sinks.base import EmarsysSink, Pair, event_number
from target_emarsys.values import aware_timestamp, is_digits, json_value

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

ID_FIELDS = ("campaign_id", "message_id", "contact_id")
REQUIRED_FIELDS = (*ID_FIELDS, "event_time")
MAX_RESENDS = 20


class BehaviorSink(EmarsysSink):
    """Posts events as `text/csv` with a header row (docs/emarsys-api.md §7).

    The four required fields are checked before sending (integer ids, a parseable
    `event_time`), and `event_time` is always written with its offset, since Emarsys reads a
    time without one as Vienna time. Other schema properties follow as extra columns
    (`bounce_category`, `link_id`, ...). Events have no key: a rerun after a kill may send
    some events twice.
    """

    destination: BehaviorDestination

    @override
    def setup(self) -> None:
        """Fix the CSV columns: the required fields first, then the stream's other properties."""
        super().setup()
        extra = [name for name in self.schema.get("properties", {}) if name not in REQUIRED_FIELDS]
        self.columns = [*REQUIRED_FIELDS, *extra]
        self._extra = extra
        # Imported here: `emarsys_api.csv_upload` brings paramiko, about 0.15 s of CPU at every
        # start of the target, and only behavior and `via: sftp` streams need it.
        from emarsys_api.csv_upload import csv_cell

        self._csv_cell = csv_cell
        """One value as a CSV cell, by the rules of the RDS CSV files."""
        self.logger.info(
            "stream '%s' -> behavior events %s/%s/%s/%s",
            self.stream_name,
            self.destination.provider,
            self.destination.channel,
            self.destination.campaign_type,
            self.destination.event_type,
        )

    @override
    def describe_key(self, record: dict[str, Any]) -> str:
        """Events are named by their ids and time."""
        if self.key_properties:
            return super().describe_key(record)
        return ", ".join(f"{name}={record.get(name)!r}" for name in REQUIRED_FIELDS)

    @override
    def prepare_row(self, record: dict[str, Any]) -> list[str]:
        """The CSV cells of one event, or `InvalidRowError` naming the bad field (an id given
        as text must be digits, `is_digits`)."""
        cells = []
        for name in ID_FIELDS:
            value = record.get(name)
            if value is None or value == "":
                raise InvalidRowError(
                    self.stream_name, self.describe_key(record), f"missing required field {name}"
                )
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and is_digits(value))
            ):
                raise InvalidRowError(
                    self.stream_name,
                    self.describe_key(record),
                    f"{name} must be an integer, got {value!r}",
                )
            cells.append(str(value))
        raw_time = record.get("event_time")
        if raw_time is None or raw_time == "":
            raise InvalidRowError(
                self.stream_name, self.describe_key(record), "missing required field event_time"
            )
        moment = aware_timestamp(raw_time)
        if moment is None:
            raise InvalidRowError(
                self.stream_name,
                self.describe_key(record),
                f"event_time must be an ISO 8601 timestamp, got {raw_time!r}",
            )
        cells.append(moment.isoformat())
        get, cell = record.get, self._csv_cell
        cells.extend(cell(json_value(get(name))) for name in self._extra)
        return cells

    @override
    def write(self, request: list[Pair]) -> None:
        """One CSV body with a header row; a row Emarsys names is set aside and the rest resent.

        Emarsys names one bad row per reply; after `MAX_RESENDS` of them the rest of the request
        is rejected with the last reason rather than resent row by row.
        """
        resends = 0
        while request:
            try:
                self.client.behavior_events(
                    self.destination.customer_id,
                    self.destination.provider,
                    self.destination.channel,
                    self.destination.campaign_type,
                    self.destination.event_type,
                    self.csv_body(request),
                )
                return
            except ValidationError as exc:
                bad = event_number(exc.reply_text)
                if bad is None or not 0 <= bad < len(request):
                    raise
                if resends == MAX_RESENDS:
                    reason = (
                        f"not sent: Emarsys refused {MAX_RESENDS} other events of the same "
                        f"request (last: {self.reason(exc)})"
                    )
                    self.reject(request, reason, exc)
                    return
                self.reject([request[bad]], self.reason(exc), exc)
                request = request[:bad] + request[bad + 1 :]
                resends += 1

    def csv_body(self, request: list[Pair]) -> bytes:
        """The request body: header row, then one line per event, UTF-8."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows(row for row, _ in request)
        return buffer.getvalue().encode("utf-8")
