"""A recording stand-in for `EmarsysClient`, for unit tests of target-emarsys's sinks (no HTTP)."""

from __future__ import annotations

import threading
from typing import Any

from emarsys_api import ContactsResult, ValidationError


class RecordingClient:
    """Records every write call; can hold requests at a gate and fail on demand."""

    def __init__(self, fields: list[dict[str, Any]] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self.fail_with: Exception | None = None
        self.insert_skips = 0
        self.contact_errors: dict[str, list[tuple[str, str]]] = {}
        self._fields = fields or [
            {"id": 1, "string_id": "first_name"},
            {"id": 2, "string_id": "last_name"},
            {"id": 3, "string_id": "email"},
        ]

    def _record(self, name: str, payload: Any) -> None:
        self.gate.wait(10)
        with self.lock:
            self.calls.append((name, payload))
        if self.fail_with is not None:
            raise self.fail_with

    def named(self, name: str) -> list[Any]:
        """Payloads of the calls to `name`, in order."""
        return [payload for call, payload in self.calls if call == name]

    def fields(self, language: str = "en") -> list[dict[str, Any]]:
        return self._fields

    def rds_upsert(self, connection: str, table: str, rows: list[dict[str, Any]]) -> str:
        self._record("rds_upsert", (connection, table, rows))
        return "OK"

    def rds_insert(self, connection: str, table: str, rows: list[dict[str, Any]]) -> int:
        self._record("rds_insert", (connection, table, rows))
        return len(rows) - self.insert_skips

    def rds_replace(self, connection: str, table: str, rows: list[dict[str, Any]]) -> int:
        self._record("rds_replace", (connection, table, rows))
        return len(rows)

    def behavior_events(self, *path: Any) -> None:
        self._record("behavior_events", path)

    def upsert_contacts(
        self, key_id: str, contacts: list[dict[str, Any]], *, create_if_not_exists: bool = True
    ) -> ContactsResult:
        self._record("upsert_contacts", (key_id, contacts))
        return ContactsResult(ids=[], errors=dict(self.contact_errors))


def rds_error(code: int, text: str, status: int = 400) -> ValidationError:
    """An RDS failure as the client raises it."""
    return ValidationError(status, code, text, "POST /api/rds/connections/c/tables/t/records")
