"""Joining the exports of one unit when it asks for more than 20 contact fields.

Emarsys exports at most 20 contact fields at a time (docs/emarsys-api.md §4.2), so a unit with
more runs one export per group of fields. The first export carries every row; the others only
contribute field values per contact, which are parked in a temporary SQLite file (memory stays
flat however many contacts there are) and looked up as the first export's rows stream past.
Member exports without `user_id` get their contact ids before they are parked, so the join is
by contact id in every layout.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tap_emarsys.records import Column

INSERT_BATCH = 5000


class ContactFieldJoin:
    """Field values of the secondary exports, keyed by contact id, in a temporary SQLite file."""

    def __init__(self) -> None:
        """Start empty; the temporary database is only created for the first part."""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._db: sqlite3.Connection | None = None
        self._parts: list[tuple[str, list[Column]]] = []

    @property
    def has_parts(self) -> bool:
        """Whether any secondary export was parked (otherwise there is nothing to join)."""
        return bool(self._parts)

    def _database(self) -> sqlite3.Connection:
        if self._db is None:
            self._dir = tempfile.TemporaryDirectory(prefix="tap-emarsys-join-")
            self._db = sqlite3.connect(Path(self._dir.name) / "join.sqlite3")
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")
        return self._db

    def __enter__(self) -> ContactFieldJoin:
        """Use as a context manager so the file is always removed."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close and delete the database."""
        self.close()

    def close(self) -> None:
        """Close and delete the database, if one was created."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def add_part(
        self, columns: Sequence[Column], rows: Iterable[tuple[int, Sequence[str]]]
    ) -> None:
        """Park one secondary export: per contact, the raw values of its field columns.

        Args:
            columns: the properties (and converters) of the values, in order.
            rows: `(contact id, raw values)`; the first row of a contact wins (a contact appears
                once per response in response exports, always with the same field values).
        """
        db = self._database()
        table = f"part{len(self._parts)}"
        names = ", ".join(f"v{i} TEXT" for i in range(len(columns)))
        db.execute(f"CREATE TABLE {table} (contact_id INTEGER PRIMARY KEY, {names})")
        marks = ", ".join("?" for _ in range(len(columns) + 1))
        insert = f"INSERT OR IGNORE INTO {table} VALUES ({marks})"
        batch: list[tuple[Any, ...]] = []
        for contact_id, values in rows:
            batch.append((contact_id, *values))
            if len(batch) >= INSERT_BATCH:
                db.executemany(insert, batch)
                batch.clear()
        if batch:
            db.executemany(insert, batch)
        db.commit()
        self._parts.append((table, list(columns)))

    def complete(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Add the parked field values to each record of the primary export.

        Args:
            records: typed records with `contact_id`.

        Yields:
            The same records with every secondary field set (null if the contact is missing).
        """
        lookups = [
            (f"SELECT * FROM {table} WHERE contact_id = ?", columns)
            for table, columns in self._parts
        ]
        execute = self._database().execute
        for record in records:
            contact_id = record.get("contact_id")
            for sql, columns in lookups:
                row = execute(sql, (contact_id,)).fetchone()
                if row is None:
                    for column in columns:
                        record[column.name] = None
                else:
                    for column, value in zip(columns, row[1:], strict=False):
                        record[column.name] = column.convert(value)
            yield record
