"""JSON reads (docs/emarsys-api.md §6), RDS (§8), HDS (§7) and contacts over HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.sandbox_http import Api

TABLES = {
    "demo": {
        "purchases": {
            "columns": ["order_id", "contact_id", "amount"],
            "primary_key": ["order_id"],
        }
    }
}
RDS_PATHS = ("/api/rds/connections", "/api/rds/v1/connections")


def test_fields_and_translation(api: Api) -> None:
    fields = api.get("field").json()["data"]
    by_id = {f["id"]: f for f in fields}
    assert by_id[1] == {
        "id": 1,
        "name": "First Name",
        "application_type": "shorttext",
        "string_id": "first_name",
    }
    assert {27, 28, 29, 32, 33} <= set(by_id)
    custom = {f["application_type"] for f in fields if f["id"] >= 1000}
    assert {"shorttext", "numeric", "date", "singlechoice"} <= custom
    snake = [re.sub(r"[^a-z0-9]+", "_", f["string_id"].lower()).strip("_") for f in fields]
    assert len(snake) != len(set(snake)), "a string_id must clash after snake_case"
    german = {f["id"]: f["name"] for f in api.get("field/translate/de").json()["data"]}
    assert german[1] == "Vorname"


def test_settings_campaigns_lists_segments(api: Api) -> None:
    settings = api.get("settings").json()["data"]
    assert settings["timezone"] == "Europe/Vienna" and settings["environment"]
    visible = api.get("email/").json()["data"]
    everything = api.get("email/", params={"showdeleted": "1"}).json()["data"]
    assert len(everything) == len(visible) + 1
    assert all(isinstance(c["id"], str) for c in everything)
    lists = api.get("contactlist").json()["data"]
    segments = api.get("filter").json()["data"]
    assert [x["id"] for x in lists] == ["101", "102", "103"]
    assert [x["id"] for x in segments] == ["201", "202", "203"]


def test_launches_and_delivery_status_paging(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=9000, seed=3)
    api = Api(sb)
    launches = api.post("email/getlaunchesofemail", json={"emailId": 5002}).json()["data"]
    assert [la["id"] for la in launches] == ["7002", "7003"]
    bad = api.post("email/getlaunchesofemail", json={"emailId": 1})
    assert bad.status_code == 400 and bad.json()["replyCode"] == 6004
    ambiguous = api.post("email/getdeliverystatus", json={"emailId": 5002})
    assert ambiguous.json()["replyCode"] == 6014
    unfinished = api.post("email/getdeliverystatus", json={"emailId": 5004})
    assert unfinished.json()["replyCode"] == 6011
    ids: list[int] = []
    last_id = 0
    while True:
        page = api.post(
            "email/getdeliverystatus", json={"emailId": 5001, "launchId": 7001, "lastId": last_id}
        ).json()["data"]
        ids += [r["id"] for r in page["resultSet"]]
        if not page["resultSet"]:
            break
        assert len(page["resultSet"]) <= 1000
        last_id = page["lastId"]
    assert ids == list(range(1, 2251))


@pytest.mark.parametrize("base", RDS_PATHS)
def test_rds_operations(make_sandbox: Any, base: str) -> None:
    sb = make_sandbox(contacts=10, rds_tables=TABLES)
    api = Api(sb)
    url = f"{base}/demo/tables/purchases/records"
    rows = [{"order_id": i, "contact_id": 100 + i, "amount": 1.5 * i} for i in range(1, 4)]
    assert api.post(url, json=rows).json() == {"replyCode": 0, "replyText": "Rows inserted: 3"}
    dup = [
        {"order_id": 3, "contact_id": 1, "amount": 0},
        {"order_id": 4, "contact_id": 2, "amount": 0},
    ]
    assert api.post(url, json=dup).json()["replyText"] == "Rows inserted: 1"
    upsert = [
        {"order_id": 1, "contact_id": 7, "amount": 9},
        {"order_id": 9, "contact_id": 9, "amount": 9},
    ]
    assert api.post(url + "/upsert", json=upsert).json()["replyCode"] == 0
    patch = [{"search": {"order_id": 2}, "update": {"amount": 42}}]
    assert api.request("PATCH", url, json=patch).json()["replyText"] == "Rows updated: 1"
    assert api.get(url, params={"order_id": "2"}).json() == [
        {"order_id": 2, "contact_id": 102, "amount": 42}
    ]
    removed = api.post(url + "/remove", json=[{"order_id": 3}, {"order_id": 4}]).json()
    assert removed == {"replyCode": 0, "replyText": "Rows deleted: 2"}
    assert sorted(r["order_id"] for r in sb.rds_rows("demo", "purchases")) == [1, 2, 9]
    assert (
        next(r for r in sb.rds_rows("demo", "purchases") if r["order_id"] == 1)["contact_id"] == 7
    )
    replaced = api.request("PUT", url, json=[{"order_id": 5, "contact_id": 5, "amount": None}])
    assert replaced.json()["replyText"] == "Rows inserted: 1"
    assert sb.rds_rows("demo", "purchases") == [{"order_id": 5, "contact_id": 5, "amount": None}]
    assert api.request("PUT", url, json=[]).json()["replyText"] == "Rows inserted: 0"
    assert sb.rds_rows("demo", "purchases") == []


RDS_ERRORS = [
    ("POST", "purchases", [{"order_id": 1}, {"amount": 2}], 400, 15001),
    ("POST", "purchases", [{"order_id": i} for i in range(1001)], 400, 15002),
    ("POST", "purchases", [{"order_id": 1, "colour": "red"}], 400, 15003),
    ("POST", "nothere", [{"order_id": 1}], 404, 15004),
    ("POST", "purchases", {"order_id": 1}, 400, 15005),
    ("PATCH", "purchases", [{"search": {"amount": 1}, "update": {"amount": 2}}], 400, 15007),
    ("PATCH", "purchases", [{"update": {"amount": 2}}], 400, 15008),
]


@pytest.mark.parametrize(("method", "table", "body", "status", "code"), RDS_ERRORS)
def test_rds_errors(
    make_sandbox: Any, method: str, table: str, body: Any, status: int, code: int
) -> None:
    api = Api(make_sandbox(contacts=10, rds_tables=TABLES))
    reply = api.request(method, f"/api/rds/connections/demo/tables/{table}/records", json=body)
    assert reply.status_code == status
    assert reply.json()["replyCode"] == code and "data" not in reply.json()


def test_rds_views_and_injected_internal_error(make_sandbox: Any) -> None:
    tables = {"demo": {"v": {"columns": ["id"], "primary_key": ["id"], "view": True}}}
    sb = make_sandbox(contacts=10, rds_tables=tables)
    api = Api(sb)
    url = "/api/rds/connections/demo/tables/v/records"
    reply = api.post(url, json=[{"id": 1}])
    assert (reply.status_code, reply.json()["replyCode"]) == (400, 15009)
    assert api.get(url).json() == []
    sb.faults.update(error_rate=1.0)
    replies = [api.get(url) for _ in range(8)]
    assert {r.status_code for r in replies} == {500, 503}
    internal = [r.json() for r in replies if r.status_code == 500]
    assert internal[0] == {"replyCode": 15006, "replyText": "Internal server error"}


def test_rds_unknown_connection_and_bad_json(make_sandbox: Any) -> None:
    api = Api(make_sandbox(contacts=10, rds_tables=TABLES))
    reply = api.post("/api/rds/connections/other/tables/t/records", json=[{"a": 1}])
    assert (reply.status_code, reply.json()["replyCode"]) == (404, 15010)
    raw = api.post("/api/rds/connections/demo/tables/purchases/records", data=b"[{")
    assert (raw.status_code, raw.json()["replyCode"]) == (400, 15005)
    remove = api.post("/api/rds/connections/demo/tables/purchases/records/remove", json=[{}])
    assert remove.json()["replyCode"] == 15008


def test_rds_autocreate_and_persistence(make_sandbox: Any, tmp_path: Any) -> None:
    db = str(tmp_path / "rds.sqlite3")
    sb = make_sandbox(contacts=10, rds_autocreate=True, db_path=db)
    api = Api(sb)
    url = "/api/rds/v1/connections/auto/tables/things/records"
    assert api.post(url, json=[{"id": 1, "name": "a"}]).json()["replyText"] == "Rows inserted: 1"
    assert api.post(url, json=[{"id": 1, "name": "b"}]).json()["replyText"] == "Rows inserted: 0"
    assert api.post(url, json=[{"id": 2, "name": "c", "extra": True}]).json()["replyCode"] == 0
    nokey = "/api/rds/connections/auto/tables/pairs/records"
    api.post(nokey, json=[{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 3}])
    assert len(sb.rds_rows("auto", "pairs")) == 2
    sb.close()
    again = make_sandbox(contacts=10, db_path=db)
    assert again.rds_rows("auto", "things") == [
        {"id": 1, "name": "a", "extra": None},
        {"id": 2, "name": "c", "extra": 1},
    ]


HDS = (
    "/api/hds/events/customers/987654321/events/providers/sendkit/channels/email"
    "/campaign_types/txn/event_types/{}"
)


def test_behavior_events(sandbox: Sandbox, api: Api) -> None:
    body = (
        "campaign_id,message_id,contact_id,event_time,bounce_category\r\n"
        "111111111,222222222,313131313,2015-08-02 14:32:23,hard\r\n"
        "222222222,454545454,333333333,2015-09-29T11:30:01Z,soft\r\n"
    )
    reply = api.post(HDS.format("bounce"), data=body.encode(), headers={"Content-Type": "text/csv"})
    assert reply.json() == {"replyCode": 0, "replyText": "OK"}
    events = sandbox.behavior_events()
    assert [e["contact_id"] for e in events] == ["313131313", "333333333"]
    assert events[0]["event_type"] == "bounce" and events[0]["customer_id"] == "987654321"
    assert events[0]["event_time_utc"].isoformat() == "2015-08-02T12:32:23+00:00"


HDS_ERRORS = [
    ('campaign_id,message_id,contact_id,event_time\r\n1,2,"3,4\r\n', 1, "Cannot parse CSV payload"),
    (
        "campaign_id,message_id,contact_id\r\n1,2,3\r\n",
        2,
        "Missing required field: event_time, event number: 0",
    ),
    (
        "campaign_id,message_id,contact_id,event_time\r\n1,2,3,2020-01-01\r\nx,2,3,2020-01-01\r\n",
        3,
        "Invalid value for field campaign_id: Integer value expected, event number: 1",
    ),
]


@pytest.mark.parametrize(("body", "code", "text"), HDS_ERRORS)
def test_behavior_errors(api: Api, body: str, code: int, text: str) -> None:
    reply = api.post(HDS.format("send"), data=body.encode(), headers={"Content-Type": "text/csv"})
    assert reply.status_code == 400
    assert reply.json()["replyCode"] == code and text in reply.json()["replyText"]


def test_contacts_upsert_with_per_item_errors(sandbox: Sandbox, api: Api) -> None:
    existing = sandbox.backend.account.contact_value(3, 5)
    body = {
        "key_id": "3",
        "contacts": [
            {"3": "new@example.com", "1": "Ann"},
            {"3": existing, "2": "Updated"},
            {"3": "", "1": "No key"},
            {"3": "not-an-email", "1": "Bad"},
        ],
    }
    reply = api.request("PUT", "contact", params={"create_if_not_exists": 1}, json=body)
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert reply.json()["replyCode"] == 0 and len(data["ids"]) == 2
    assert data["ids"][1] == str(1_000_005)
    assert set(data["errors"]) == {"", "not-an-email"}
    assert all(isinstance(code, str) for e in data["errors"].values() for code in e)
    missing = api.request(
        "PUT", "contact", json={"key_id": "3", "contacts": [{"3": "ghost@example.com"}]}
    ).json()["data"]
    assert missing["errors"] == {
        "ghost@example.com": {"2008": "No contact found with the external id: 3"}
    }
    written = sandbox.contacts_written()
    assert [w["created"] for w in written] == [True, False]
    too_many = {"key_id": "3", "contacts": [{"3": f"a{i}@b.cd"} for i in range(1001)]}
    assert api.request("PUT", "contact", json=too_many).status_code == 400


def test_response_metrics_job_once_a_minute(sandbox: Sandbox, api: Api) -> None:
    body = {
        "type": "clicked",
        "start_date": "2026-03-15 00:00",
        "end_date": "2026-03-17 00:00",
        "campaign_id": 5001,
    }
    query_id = api.post("email/responses", json=body).json()["data"]["id"]
    again = api.post("email/responses", json=body)
    assert (again.status_code, again.json()["replyCode"]) == (423, 6028)
    ids = api.get(f"email/{query_id}/responses").json()["data"]["contact_ids"]
    expected = {
        str(r["user_id"])
        for r in sandbox.expected_export(
            "email/getresponses",
            {
                "distribution_method": "local",
                "time_range": ["2026-03-15", "2026-03-17"],
                "contact_fields": [1],
                "sources": ["trackable_links"],
                "analysis_fields": [],
                "email_id": 5001,
            },
        )
    }
    assert ids and set(ids) == expected
    missing = api.get("email/999/responses")
    assert (missing.status_code, missing.json()["replyCode"]) == (404, 6029)
    bad = Api(sandbox, oauth=True).post("email/responses", json={**body, "type": "liked"})
    assert bad.json()["replyText"] == "Invalid value for type: liked"


@pytest.mark.parametrize("base", RDS_PATHS[:1])
def test_an_integer_beyond_64_bits_is_stored_not_a_server_error(
    make_sandbox: Any, base: str
) -> None:
    """SQLite stores 64-bit integers: a larger one ended in an OverflowError, answered 500
    (and the target retried it as if Emarsys were failing). An untyped column keeps its digits."""
    sb = make_sandbox(contacts=10, rds_tables=TABLES)
    api = Api(sb)
    url = f"{base}/demo/tables/purchases/records"
    big = 2**64
    rows = [{"order_id": 1, "contact_id": big, "amount": -(2**70)}]
    reply = api.post(url + "/upsert", json=rows)
    assert reply.status_code == 200, reply.text
    stored = api.get(url, params={"order_id": "1"}).json()
    assert [str(stored[0]["contact_id"]), str(stored[0]["amount"])] == [str(big), str(-(2**70))]
