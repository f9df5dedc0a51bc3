"""Relational Data Service tables in SQLite (docs/emarsys-api.md §8).

Emarsys has no table API (tables are made in phpMyAdmin), so tables are declared at start-up
(`rds_tables`); with `rds_autocreate` an unknown table is created from the first write's keys
(primary key `id` if present, else all columns) and later writes may add columns. A declared
table may type its columns (`"types": {"at": "datetime"}`, see `rds_columns`): a value such a
column refuses answers 400/15014 and the request stores nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from emarsys_sandbox.exceptions import RdsError
from emarsys_sandbox.rds_columns import ColumnType

MAX_ROWS = 1000
#: the sandbox's replyCode for a value a typed column refuses (15001-15013 are documented,
#: none for this; docs/emarsys-api.md §8, §12.10)
INVALID_COLUMN_VALUE = 15014


@dataclass
class TableSpec:
    """A declared table: columns, primary key, the indexed columns criteria may use, types.

    `types` maps typed columns to their declared type (`rds_columns.ColumnType`); columns
    without one take any value.
    """

    columns: list[str]
    primary_key: list[str]
    indexed: list[str]
    autocreated: bool = False
    view: bool = False
    types: dict[str, str] = field(default_factory=dict)

    def check_values(self, rows: list[dict[str, Any]], first_row: int = 1) -> None:
        """400/15014 naming column, row (1-based in the request) and value if refused."""
        if not self.types:
            return
        types = {c: ColumnType.parse(t) for c, t in self.types.items()}
        for number, row in enumerate(rows, start=first_row):
            for column, value in row.items():
                kind = types.get(column)
                if kind is not None and kind.refuses(value):
                    raise RdsError(400, INVALID_COLUMN_VALUE, kind.refusal(column, value, number))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        # Beyond SQLite's 64-bit integers (an OverflowError, answered 500): an untyped column
        # keeps it as its digits; a typed one refused it before (`check_values`).
        return str(value)
    return value


class RelationalStore:
    """All RDS connections and tables of the account, persisted in one SQLite file."""

    def __init__(
        self, db_path: str, tables: dict[str, dict[str, dict[str, Any]]], autocreate: bool
    ) -> None:
        self.db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.autocreate = autocreate
        self.tables: dict[tuple[str, str], TableSpec] = {}
        self._lock = threading.Lock()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS _sandbox_tables "
            "(connection TEXT, name TEXT, spec TEXT, PRIMARY KEY (connection, name))"
        )
        for conn, name, stored in self._stored_specs():
            self.tables[(conn, name)] = stored
        for conn, conn_tables in tables.items():
            for name, declared in conn_tables.items():
                columns = list(declared["columns"])
                pk = list(declared.get("primary_key") or [])
                indexed = list(declared.get("indexed") or []) or pk or columns
                view = bool(declared.get("view", False))
                types = _declared_types(conn, name, columns, declared.get("types") or {})
                spec = TableSpec(
                    columns, pk, sorted(set(indexed) | set(pk)), view=view, types=types
                )
                self._create(conn, name, spec)

    def _stored_specs(self) -> list[tuple[str, str, TableSpec]]:
        rows = self.db.execute("SELECT connection, name, spec FROM _sandbox_tables").fetchall()
        return [(c, n, TableSpec(**json.loads(s))) for c, n, s in rows]

    def _create(self, conn: str, name: str, spec: TableSpec) -> None:
        cols = ", ".join(_q(c) for c in spec.columns)
        pk = (
            f", PRIMARY KEY ({', '.join(_q(c) for c in spec.primary_key)})"
            if spec.primary_key
            else ""
        )
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {_q(conn + '.' + name)} ({cols}{pk})")
        self.db.execute(
            "INSERT OR REPLACE INTO _sandbox_tables VALUES (?, ?, ?)",
            (conn, name, json.dumps(spec.__dict__)),
        )
        self.tables[(conn, name)] = spec

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One lock-held transaction per request: all rows of a batch land, or none."""
        with self._lock:
            self.db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def connections(self) -> set[str]:
        """Known connection names."""
        return {c for c, _ in self.tables}

    def _table(self, conn: str, name: str, rows: list[dict[str, Any]] | None = None) -> TableSpec:
        spec = self.tables.get((conn, name))
        if spec is not None:
            if spec.autocreated and rows:
                new = [k for k in rows[0] if k not in spec.columns]
                for col in new:
                    self.db.execute(f"ALTER TABLE {_q(conn + '.' + name)} ADD COLUMN {_q(col)}")
                    spec.columns.append(col)
                    spec.indexed.append(col)
                if new:
                    self._create(conn, name, spec)
            return spec
        if self.autocreate and rows:
            columns = list(rows[0])
            pk = ["id"] if "id" in columns else list(columns)
            spec = TableSpec(columns, pk, list(columns), autocreated=True)
            self._create(conn, name, spec)
            return spec
        if conn not in self.connections() and not self.autocreate:
            raise RdsError(404, 15010, "Emarsys-hosted connection not found.")
        raise RdsError(404, 15004, "Table not exists")

    def _writable(
        self, conn: str, name: str, rows: list[dict[str, Any]] | None = None
    ) -> TableSpec:
        spec = self._table(conn, name, rows)
        if spec.view:
            raise RdsError(400, 15009, "Cannot modify a view")
        return spec

    @staticmethod
    def _check_items(body: Any) -> list[dict[str, Any]]:
        """Every write's body: a JSON array of at most 1000 objects."""
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            raise RdsError(400, 15005, "Invalid JSON format")
        if len(body) > MAX_ROWS:
            raise RdsError(400, 15002, "Too many rows")
        return body

    @classmethod
    def _check_rows(cls, body: Any) -> list[dict[str, Any]]:
        """Rows to store: objects with the same fields."""
        rows = cls._check_items(body)
        if rows and any(set(r) != set(rows[0]) for r in rows):
            raise RdsError(400, 15001, "Fields are not the same in each record")
        return rows

    def _check_columns(self, spec: TableSpec, columns: list[str]) -> None:
        unknown = [c for c in columns if c not in spec.columns]
        if unknown:
            raise RdsError(400, 15003, f"Missing fields: [{', '.join(unknown)}]")

    def _check_indexed(self, spec: TableSpec, columns: list[str]) -> None:
        self._check_columns(spec, columns)
        if any(c not in spec.indexed for c in columns):
            raise RdsError(400, 15007, "Criteria fields are not indexed")

    def _storable(self, conn: str, name: str, rows: list[dict[str, Any]]) -> TableSpec:
        """The table `rows` go to, once its columns and typed values accept them (else 400)."""
        spec = self._writable(conn, name, rows)
        if rows:
            self._check_columns(spec, list(rows[0]))
        spec.check_values(rows)
        return spec

    def _insert(self, conn: str, name: str, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        cols = list(rows[0])
        sql = (
            f"INSERT OR IGNORE INTO {_q(conn + '.' + name)} ({', '.join(_q(c) for c in cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})"
        )
        before = self.db.total_changes
        self.db.executemany(sql, [[_sql_value(r[c]) for c in cols] for r in rows])
        return self.db.total_changes - before

    def insert(self, conn: str, name: str, body: Any) -> str:
        """`POST .../records`: insert-ignore; `Rows inserted: N` counts only new rows."""
        rows = self._check_rows(body)
        with self._write():
            self._storable(conn, name, rows)
            return f"Rows inserted: {self._insert(conn, name, rows)}"

    def replace(self, conn: str, name: str, body: Any) -> str:
        """`PUT .../records`: delete every row, then insert."""
        rows = self._check_rows(body)
        with self._write():
            self._storable(conn, name, rows)
            self.db.execute(f"DELETE FROM {_q(conn + '.' + name)}")
            return f"Rows inserted: {self._insert(conn, name, rows)}"

    def upsert(self, conn: str, name: str, body: Any) -> str:
        """`POST .../records/upsert`: update by primary key, else insert."""
        rows = self._check_rows(body)
        with self._write():
            spec = self._storable(conn, name, rows)
            if not rows:
                return "Rows upserted: 0"
            cols = list(rows[0])
            key = spec.primary_key or spec.columns
            missing = [k for k in key if k not in cols]
            if missing:
                raise RdsError(400, 15003, f"Missing fields: [{', '.join(missing)}]")
            others = [c for c in cols if c not in key]
            action = (
                f"DO UPDATE SET {', '.join(f'{_q(c)} = excluded.{_q(c)}' for c in others)}"
                if others
                else "DO NOTHING"
            )
            sql = (
                f"INSERT INTO {_q(conn + '.' + name)} ({', '.join(_q(c) for c in cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)}) "
                f"ON CONFLICT ({', '.join(_q(k) for k in key)}) {action}"
            )
            self.db.executemany(sql, [[_sql_value(r[c]) for c in cols] for r in rows])
            return f"Rows upserted: {len(rows)}"

    def update(self, conn: str, name: str, body: Any) -> str:
        """`PATCH .../records`: items of `{"search": {...}, "update": {...}}`."""
        items = self._check_items(body)
        with self._write():
            spec = self._writable(conn, name)
            updated = 0
            for number, item in enumerate(items, start=1):
                search, update = item.get("search"), item.get("update")
                if not isinstance(search, dict) or not isinstance(update, dict):
                    raise RdsError(400, 15008, "Missing search or update criteria")
                if not search or not update:
                    raise RdsError(400, 15008, "Missing search or update criteria")
                self._check_indexed(spec, list(search))
                self._check_columns(spec, list(update))
                spec.check_values([update], first_row=number)
                where, args = _where(search)
                sets = ", ".join(f"{_q(c)} = ?" for c in update)
                cur = self.db.execute(
                    f"UPDATE {_q(conn + '.' + name)} SET {sets} WHERE {where}",
                    [_sql_value(v) for v in update.values()] + args,
                )
                updated += cur.rowcount
            return f"Rows updated: {updated}"

    def remove(self, conn: str, name: str, body: Any) -> str:
        """`POST .../records/remove`: OR of AND-criteria objects."""
        items = self._check_items(body)
        with self._write():
            spec = self._writable(conn, name)
            deleted = 0
            for criteria in items:
                if not criteria:
                    raise RdsError(400, 15008, "Missing delete criteria")
                self._check_indexed(spec, list(criteria))
                where, args = _where(criteria)
                cur = self.db.execute(f"DELETE FROM {_q(conn + '.' + name)} WHERE {where}", args)
                deleted += cur.rowcount
            return f"Rows deleted: {deleted}"

    def query(self, conn: str, name: str, criteria: dict[str, str]) -> list[dict[str, Any]]:
        """`GET .../records?col=val`: exact match (values compared as text), at most 1000."""
        with self._lock:
            spec = self._table(conn, name)
            if criteria:
                self._check_indexed(spec, list(criteria))
            where, args = _where(criteria, as_text=True) if criteria else ("1", [])
            cur = self.db.execute(
                f"SELECT * FROM {_q(conn + '.' + name)} WHERE {where} LIMIT {MAX_ROWS}", args
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def rows(self, conn: str, name: str) -> list[dict[str, Any]]:
        """Every row of a table, in insertion order (inspection)."""
        with self._lock:
            if (conn, name) not in self.tables:
                return []
            cur = self.db.execute(f"SELECT * FROM {_q(conn + '.' + name)} ORDER BY rowid")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def _where(criteria: dict[str, Any], as_text: bool = False) -> tuple[str, list[Any]]:
    parts: list[str] = []
    args: list[Any] = []
    for col, value in criteria.items():
        if value is None:
            parts.append(f"{_q(col)} IS NULL")
        elif as_text:
            parts.append(f"CAST({_q(col)} AS TEXT) = ?")
            args.append(str(value))
        else:
            parts.append(f"{_q(col)} = ?")
            args.append(_sql_value(value))
    return " AND ".join(parts), args


def _declared_types(
    conn: str, table: str, columns: list[str], types: dict[str, str]
) -> dict[str, str]:
    """A declaration's column types, checked: ValueError for an unknown column or type."""
    unknown = [c for c in types if c not in columns]
    if unknown:
        raise ValueError(f"rds_tables {conn}.{table}: types for unknown columns {unknown}")
    for column, text in types.items():
        try:
            ColumnType.parse(text)
        except ValueError as exc:
            raise ValueError(f"rds_tables {conn}.{table} column {column}: {exc}") from None
    return {c: ColumnType.parse(t).declared for c, t in types.items()}
