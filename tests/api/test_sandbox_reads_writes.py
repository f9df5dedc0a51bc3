"""JSON reads and the writes (RDS, behavior data, contacts) against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from emarsys_api import EmarsysClient, NotFoundError, ValidationError
from tests.helpers.clients import oauth_client, wsse_client

TABLES = {
    "demo": {
        "purchases": {"columns": ["order_id", "contact_id", "amount"], "primary_key": ["order_id"]}
    }
}


@pytest.fixture(params=["wsse", "oauth"])
def rds_client(request: pytest.FixtureRequest, make_sandbox: Any) -> tuple[Any, EmarsysClient]:
    sandbox = make_sandbox(contacts=20, rds_tables=TABLES)
    client = wsse_client(sandbox) if request.param == "wsse" else oauth_client(sandbox)
    return sandbox, client


def test_json_reads(sandbox: Any) -> None:
    client = oauth_client(sandbox)
    assert client.settings()
    assert client.contact_lists()
    assert client.segments()
    assert any(f["string_id"] for f in client.fields(language="de"))
    campaigns = client.email_campaigns()
    assert campaigns
    launches: list[dict[str, Any]] = []
    for campaign in campaigns:
        launches = client.email_launches(int(campaign["id"]))
        if launches:
            break
    assert launches
    pages = list(client.delivery_status(int(campaign["id"]), int(launches[0]["id"])))
    rows = [row for page in pages for row in page]
    assert rows
    assert len({row["id"] for row in rows}) == len(rows)  # pages do not overlap


def test_rds_operations(rds_client: tuple[Any, EmarsysClient]) -> None:
    sandbox, client = rds_client
    rows: list[dict[str, Any]] = [
        {"order_id": 1, "contact_id": 10, "amount": 9.5},
        {"order_id": 2, "contact_id": 11, "amount": None},
        {"order_id": 3, "contact_id": 12, "amount": 1},
    ]
    assert client.rds_insert("demo", "purchases", rows) == 3
    assert client.rds_insert("demo", "purchases", rows[:1]) == 0  # insert-ignore
    assert client.rds_replace("demo", "purchases", rows[1:]) == 2
    assert client.rds_upsert("demo", "purchases", [{"order_id": 2, "contact_id": 11, "amount": 7}])
    client.rds_update(
        "demo", "purchases", [{"search": {"order_id": 3}, "update": {"contact_id": 99}}]
    )
    assert client.rds_query("demo", "purchases", order_id=3)[0]["contact_id"] == 99
    assert client.rds_remove("demo", "purchases", [{"order_id": 2}]) == 1
    stored = sandbox.rds_rows("demo", "purchases")
    assert [r["order_id"] for r in stored] == [3]
    with pytest.raises(NotFoundError) as caught:
        client.rds_insert("demo", "nope", rows)
    assert caught.value.reply_code == 15004
    assert "/tables/nope/records" in caught.value.endpoint


def test_rds_paths_follow_the_auth_scheme(rds_client: tuple[Any, EmarsysClient]) -> None:
    sandbox, client = rds_client
    client.rds_insert("demo", "purchases", [{"order_id": 5, "contact_id": 1, "amount": 2}])
    path = sandbox.request_log()[-1]["path"]
    prefix = "/api/rds/v1/" if client.api == "/api/v3" else "/api/rds/connections/"
    assert path.startswith(prefix)


def test_behavior_events(sandbox: Any) -> None:
    client = wsse_client(sandbox)
    body = (
        b"campaign_id,message_id,contact_id,event_time,bounce_category\r\n"
        b"111,222,313,2015-08-02 14:32:23,hard\r\n"
    )
    client.behavior_events("123456", "sendkit", "email", "txn", "bounce", body)
    assert len(sandbox.behavior_events()) == 1
    bad = b"campaign_id,message_id,contact_id\r\n111,222,313\r\n"
    with pytest.raises(ValidationError) as caught:
        client.behavior_events("123456", "sendkit", "email", "txn", "bounce", bad)
    assert caught.value.reply_code == 2
    assert "event_time" in caught.value.reply_text


def test_contacts_upsert_reports_item_errors(sandbox: Any) -> None:
    client = oauth_client(sandbox)
    result = client.upsert_contacts(
        "3",
        [
            {"3": "ann@example.com", "1": "Ann"},
            {"3": "", "1": "Nobody"},
            {"3": "bjørn@example.com", "1": 'Bjørn, "B"'},
        ],
    )
    assert len(result.ids) == 2
    assert all(isinstance(i, int) for i in result.ids)
    assert len(result.errors) == 1
    ((key, problems),) = result.errors.items()
    assert problems and all(code and text for code, text in problems)
    assert result.row_errors()[0].key == key
    written = sandbox.contacts_written()
    assert any("Bjørn" in str(c) for c in written)
