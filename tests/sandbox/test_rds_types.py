"""Typed RDS tables over HTTP (docs/emarsys-api.md §12.10): refused values store nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.sandbox_http import Api

TYPES = {
    "id": "int",
    "name": "varchar(10)",
    "at": "datetime",
    "day": "date",
    "big": "bigint",
    "score": "double",
    "price": "decimal(5,2)",
    "vip": "tinyint",
    "note": "text",
}
TABLES = {
    "shop": {
        "t": {"columns": [*TYPES, "free"], "primary_key": ["id"], "types": TYPES},
    }
}
URL = "/api/rds/connections/shop/tables/t/records"
GOOD = {
    "id": 1,
    "name": "ten chars!",
    "at": "2026-03-29 01:59:59",
    "day": "2026-03-29",
    "big": 2**40,
    "score": 1.5,
    "price": "999.99",
    "vip": 1,
    "note": 'Grüße; "quoted"',
    "free": "anything",
}


@pytest.fixture
def typed(make_sandbox: Any) -> tuple[Sandbox, Api]:
    sb = make_sandbox(contacts=5, rds_tables=TABLES)
    return sb, Api(sb)


def row(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


ACCEPTED = [
    ("at", "2026-03-01 10:00:00.123456"),
    ("id", "42"),
    ("id", -(2**31)),
    ("big", "-9223372036854775808"),
    ("score", "2.5e3"),
    ("price", -999.99),
    ("vip", -128),
    ("vip", "127"),
    ("vip", 0),
    ("name", 1234567890),
    ("day", None),
    ("free", True),
]


@pytest.mark.parametrize(("column", "value"), ACCEPTED)
def test_typed_columns_take_what_mysql_takes(
    typed: tuple[Sandbox, Api], column: str, value: Any
) -> None:
    sb, api = typed
    reply = api.post(URL, json=[row(**{column: value})])
    assert reply.json() == {"replyCode": 0, "replyText": "Rows inserted: 1"}
    (stored,) = sb.rds_rows("shop", "t")
    assert stored[column] == (int(value) if value is True else value)  # stored as sent


REFUSED = [
    ("at", "2026-03-01T10:00:00"),
    ("at", "2026-03-01 10:00:00+01:00"),
    ("at", "2026-03-01T10:00:00Z"),
    ("at", "2026-03-01"),
    ("at", "2026-02-30 10:00:00"),
    ("day", "2026-03-01 00:00:00"),
    ("day", "01.03.2026"),
    ("id", 1.5),
    ("id", "4x"),
    ("id", 2**31),
    ("big", 2**63),
    ("vip", True),
    ("vip", False),
    ("vip", 128),
    ("vip", -129),
    ("name", "eleven char"),
    ("score", "abc"),
    ("score", {"n": 1}),
    ("price", 1000),
    ("note", ["a"]),
]


@pytest.mark.parametrize(("column", "value"), REFUSED)
def test_a_refused_value_answers_15014_and_stores_nothing(
    typed: tuple[Sandbox, Api], column: str, value: Any
) -> None:
    sb, api = typed
    api.post(URL, json=[row(id=7)])
    before = sb.rds_rows("shop", "t")
    writes = [
        ("POST", URL, [row(id=8), {**row(id=9), column: value}]),
        ("PUT", URL, [row(id=8), {**row(id=9), column: value}]),
        ("POST", URL + "/upsert", [row(id=7, name="changed"), {**row(id=9), column: value}]),
    ]
    if column != "id":
        writes.append(
            (
                "PATCH",
                URL,
                [
                    {"search": {"id": 7}, "update": {"name": "x"}},
                    {"search": {"id": 7}, "update": {column: value}},
                ],
            )
        )
    for method, url, body in writes:
        reply = api.request(method, url, json=body)
        assert reply.status_code == 400, (method, url, reply.text)
        answer = reply.json()
        assert answer["replyCode"] == 15014 and "data" not in answer
        text = answer["replyText"]
        assert f"'{column}'" in text and json.dumps(value, ensure_ascii=False) in text
        assert TYPES[column] in text and "at row 2" in text
        assert sb.rds_rows("shop", "t") == before, (method, url)


def test_untyped_and_autocreated_tables_take_anything(make_sandbox: Any) -> None:
    tables = {"shop": {"loose": {"columns": ["id", "at"], "primary_key": ["id"]}}}
    sb = make_sandbox(contacts=5, rds_tables=tables, rds_autocreate=True)
    api = Api(sb)
    for table in ("loose", "auto"):
        body = [{"id": 1, "at": "2026-03-01T10:00:00+01:00"}, {"id": 2, "at": True}]
        reply = api.post(f"/api/rds/connections/shop/tables/{table}/records", json=body)
        assert reply.json()["replyText"] == "Rows inserted: 2", reply.text
    assert sb.rds_rows("shop", "loose")[0]["at"] == "2026-03-01T10:00:00+01:00"


@pytest.mark.parametrize(
    ("types", "message"),
    [({"nope": "int"}, "unknown columns"), ({"id": "blob"}, "unknown RDS column type 'blob'")],
)
def test_bad_type_declarations_fail_at_start(types: dict[str, str], message: str) -> None:
    tables = {"shop": {"t": {"columns": ["id"], "primary_key": ["id"], "types": types}}}
    with pytest.raises(ValueError, match=message):
        Sandbox(contacts=5, rds_tables=tables)


def test_types_survive_a_restart_on_the_same_database(make_sandbox: Any, tmp_path: Any) -> None:
    db = str(tmp_path / "rds.sqlite3")
    make_sandbox(contacts=5, rds_tables=TABLES, db_path=db).close()
    again = Api(make_sandbox(contacts=5, db_path=db))
    reply = again.post(URL, json=[row(at="2026-03-01T10:00:00Z")])
    assert (reply.status_code, reply.json()["replyCode"]) == (400, 15014)
