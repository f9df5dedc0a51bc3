"""target-emarsys over real HTTP against the sandbox: what arrives is exactly what was sent."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException

from emarsys_sandbox import Sandbox
from target_emarsys.errors import (
    DestinationConfigError,
    DestinationWriteError,
    InvalidRowError,
    RecordRejectedError,
)
from target_emarsys.target import TargetEmarsys
from tests.helpers.target_run import (
    NOTES,
    PURCHASE,
    contacts_config,
    lines,
    purchase,
    purchases_sandbox,
    record,
    run,
    schema,
    state,
    writes,
)

BEHAVIOR = {
    "type": "behavior",
    "provider": "sendkit",
    "channel": "email",
    "campaign_type": "txn",
    "event_type": "bounce",
}
EVENT = {
    "campaign_id": {"type": "integer"},
    "message_id": {"type": "integer"},
    "contact_id": {"type": ["integer", "string", "null"]},
    "event_time": {"type": ["string", "null"]},
    "bounce_category": {"type": ["string", "null"]},
    "platform": {"type": ["string", "null"]},
}


@pytest.fixture
def sb(shm_dir: Path) -> Iterator[Sandbox]:
    """A sandbox with `demo.purchases` (key `order_id`)."""
    with purchases_sandbox(shm_dir, contacts=20, seed=5) as sandbox:
        yield sandbox


def vienna_text(iso: str) -> str:
    """An ISO 8601 timestamp as the naive Vienna time an RDS DATETIME column holds."""
    moment = datetime.fromisoformat(iso).astimezone(ZoneInfo("Europe/Vienna"))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# Relational


@pytest.mark.parametrize("load_method", ["upsert", "append-only", "overwrite"])
def test_relational_rows_arrive_exactly(sb: Sandbox, load_method: str) -> None:
    sent = [purchase(i) for i in range(2300)]
    states = run(
        sb,
        {"load_method": load_method},
        [
            schema("purchases", PURCHASE, ["order_id"]),
            *[record("purchases", **row) for row in sent[:1200]],
            state({"purchases": 1199}),
            *[record("purchases", **row) for row in sent[1200:]],
            state({"purchases": 2299}),
        ],
    )
    # A STATE leaves once its records are acknowledged; when requests finish out of order a
    # newer STATE can become ready together with an older one and supersede it.
    assert states in ([{"purchases": 1199}, {"purchases": 2299}], [{"purchases": 2299}])
    held = sorted(sb.rds_rows("demo", "purchases"), key=lambda r: r["order_id"])
    assert len(held) == len(sent)
    for got, want in zip(held, sent, strict=True):
        assert set(got) == set(want)
        for column, value in want.items():
            if column == "paid":  # RDS (MySQL) has no boolean type: sent and stored as 0/1
                assert got[column] == int(value) and type(got[column]) is int
            elif column == "bought_at":  # a MySQL DATETIME: naive text, Vienna time
                assert got[column] == vienna_text(value)
            else:
                assert got[column] == value and type(got[column]) is type(value), column
    requests = [r for r in writes(sb) if "/records" in r["path"]]
    assert all(r["status"] == 200 for r in requests)  # > 1000 rows would be 400/15002
    assert len(requests) == 3
    if load_method == "overwrite":
        assert [r["method"] for r in requests] == ["PUT", "POST", "POST"]


def test_overwrite_drops_old_rows(sb: Sandbox) -> None:
    run(sb, {}, [schema("purchases", PURCHASE, ["order_id"]), record("purchases", order_id=99)])
    run(
        sb,
        {"load_method": "overwrite"},
        [schema("purchases", PURCHASE, ["order_id"]), record("purchases", order_id=1)],
    )
    assert [r["order_id"] for r in sb.rds_rows("demo", "purchases")] == [1]


def test_upsert_updates_in_input_order(sb: Sandbox) -> None:
    messages = [schema("purchases", PURCHASE, ["order_id"])]
    for version in range(5):
        messages += [record("purchases", order_id=i, note=f"v{version}") for i in range(300)]
    run(sb, {"batch_size_rows": 100, "max_parallel_requests": 8}, messages)
    held = sb.rds_rows("demo", "purchases")
    assert len(held) == 300
    assert {r["note"] for r in held} == {"v4"}


def test_skipped_inserts_are_reported(sb: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    run(sb, {}, [schema("purchases", PURCHASE, ["order_id"]), record("purchases", order_id=1)])
    run(
        sb,
        {"load_method": "append-only"},
        [schema("purchases", PURCHASE, ["order_id"])]
        + [record("purchases", order_id=i) for i in range(3)],
    )
    assert "skipped 1 of 3 row(s)" in caplog.text
    assert len(sb.rds_rows("demo", "purchases")) == 3


def test_unknown_column_names_columns_and_table(sb: Sandbox) -> None:
    extended = {**PURCHASE, "coupon": {"type": ["string", "null"]}}
    with pytest.raises(DestinationWriteError, match=r"demo\.purchases has no column\(s\) coupon"):
        run(sb, {}, [schema("purchases", extended, ["order_id"]), record("purchases", order_id=1)])


# Behavior


def event(i: int, **values: Any) -> dict[str, Any]:
    base = {
        "campaign_id": 100 + i % 3,
        "message_id": 200 + i,
        "contact_id": 300 + i,
        "event_time": f"2026-03-29T01:{i % 60:02d}:00",
        "bounce_category": ["soft", "hard", "block"][i % 3],
        "platform": NOTES[i % len(NOTES)],
    }
    return record("bounces", **{**base, **values})


def behavior_config(**extra: Any) -> dict[str, Any]:
    return {"customer_id": "987654", "stream_destinations": {"bounces": BEHAVIOR}, **extra}


def test_behavior_events_arrive_with_offsets(sb: Sandbox) -> None:
    run(sb, behavior_config(), [schema("bounces", EVENT), *[event(i) for i in range(1500)]])
    events = sorted(sb.behavior_events(), key=lambda e: int(e["message_id"]))
    assert len(events) == 1500
    first = events[0]
    assert first["customer_id"] == "987654"
    assert first["campaign_id"] == "100" and first["contact_id"] == "300"
    assert first["bounce_category"] == "soft"
    for got in events:
        assert got["platform"] == (NOTES[(int(got["message_id"]) - 200) % len(NOTES)] or "")
    # Written with an explicit offset: a naive Singer time is UTC, not Vienna time.
    assert first["event_time"] == "2026-03-29T01:00:00+00:00"
    assert first["event_time_utc"] == datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)
    hds = [r for r in writes(sb) if "/api/hds/" in r["path"]]
    assert len(hds) == 2 and all(r["status"] == 200 for r in hds)


def test_behavior_row_refused_by_emarsys_is_logged(sb: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "rejected.jsonl"
    config = behavior_config(on_record_error="log", rejected_rows_path=str(path))
    messages = [schema("bounces", EVENT), event(0), event(1, bounce_category="mega"), event(2)]
    run(sb, config, messages)
    assert sorted(e["message_id"] for e in sb.behavior_events()) == ["200", "202"]
    (kept,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert kept["record"]["bounce_category"] == "mega"
    assert "bounce_category" in kept["reason"] and "replyCode 3" in kept["reason"]


def test_behavior_row_refused_by_emarsys_fails(sb: Sandbox) -> None:
    messages = [schema("bounces", EVENT), event(0), event(1, bounce_category="mega")]
    with pytest.raises(RecordRejectedError, match=r"'bounces'.*message_id=201.*bounce_category"):
        run(sb, behavior_config(), messages)


# Contacts

CONTACT = {
    "email": {"type": ["string", "null"]},
    "first_name": {"type": ["string", "null"]},
    "2": {"type": ["string", "null"]},
}


def test_contacts_arrive_by_field_id(sb: Sandbox) -> None:
    people = [
        record("people", email=f"p{i}@example.com", first_name=f"Zoë {i}", **{"2": "Ström"})
        for i in range(1200)
    ]
    run(sb, contacts_config(), [schema("people", CONTACT, ["email"]), *people])
    written = sb.contacts_written()
    assert len(written) == 1200
    assert written[0]["key_id"] == "3" and written[0]["key_value"] == "p0@example.com"
    assert written[0]["fields"] == {"3": "p0@example.com", "1": "Zoë 0", "2": "Ström"}
    puts = [r for r in writes(sb) if r["path"].endswith("/contact")]
    assert len(puts) == 2 and all(r["status"] == 200 for r in puts)


def test_contact_item_errors_are_reported_by_key(sb: Sandbox, tmp_path: Path) -> None:
    messages = [
        schema("people", CONTACT, ["email"]),
        record("people", email="ok@example.com"),
        record("people", email="not-an-email"),
    ]
    with pytest.raises(RecordRejectedError, match=r"email='not-an-email'.*Invalid email"):
        run(sb, contacts_config(), messages)
    path = tmp_path / "r.jsonl"
    run(sb, contacts_config(on_record_error="log", rejected_rows_path=str(path)), messages)
    (kept,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert kept["key"] == "email='not-an-email'" and "2011" in kept["reason"]


# Bad input: a clear error before any bad request


@pytest.mark.parametrize(
    ("config", "messages", "error", "message"),
    [
        ({}, [record("purchases", order_id=1)], RecordsWithoutSchemaException, "purchases"),
        (
            {},
            [schema("purchases", PURCHASE, ["order_id"]), record("purchases", note="no key")],
            MissingKeyPropertiesError,
            "order_id",
        ),
        (
            behavior_config(),
            [schema("bounces", EVENT), event(1, event_time=None)],
            InvalidRowError,
            "missing required field event_time",
        ),
        (
            behavior_config(),
            [schema("bounces", EVENT), event(1, contact_id="c-301")],
            InvalidRowError,
            "contact_id must be an integer",
        ),
        (
            contacts_config(),
            [schema("people", CONTACT, ["email"]), record("people", email="")],
            InvalidRowError,
            "key field email is empty",
        ),
    ],
)
def test_bad_input_fails_before_any_write(
    sb: Sandbox,
    config: dict[str, Any],
    messages: list[dict[str, Any]],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        run(sb, config, messages)
    assert writes(sb) == []


def test_unknown_destination_type_fails_before_any_request(sb: Sandbox) -> None:
    with pytest.raises(DestinationConfigError, match=r"'purchases'.*'warehouse'"):
        run(sb, {"stream_destinations": {"purchases": {"type": "warehouse"}}}, [])
    assert sb.request_log() == []


# Auth schemes and faults


def test_oauth2_writes_through_rds_v1(sb: Sandbox) -> None:
    target = TargetEmarsys(config=sb.oauth_config(rds_connection="demo"))
    out = io.StringIO()
    messages = [schema("purchases", PURCHASE, ["order_id"]), record("purchases", order_id=7)]
    with contextlib.redirect_stdout(out):
        target.listen(io.StringIO(lines(messages)))
    assert [r["order_id"] for r in sb.rds_rows("demo", "purchases")] == [7]
    paths = [r["path"] for r in writes(sb) if "/records" in r["path"]]
    assert paths == ["/api/rds/v1/connections/demo/tables/purchases/records/upsert"]


@pytest.mark.slow
def test_rate_limit_is_waited_out_not_fatal(sb: Sandbox) -> None:
    sb.faults.update(rate_limit=6, rate_window=1.0)
    sent = [record("purchases", **purchase(i)) for i in range(1400)]
    states = run(
        sb,
        {"batch_size_rows": 100, "max_parallel_requests": 4},
        [schema("purchases", PURCHASE, ["order_id"]), *sent, state({"at": "end"})],
    )
    assert states == [{"at": "end"}]
    assert len(sb.rds_rows("demo", "purchases")) == 1400
    statuses = [r["status"] for r in writes(sb) if "/records" in r["path"]]
    assert statuses.count(200) == 14


def test_server_errors_are_retried_without_duplicates(sb: Sandbox) -> None:
    sb.faults.update(error_rate=0.3)
    run(
        sb,
        {"batch_size_rows": 50, "max_wait": 0.05},
        [schema("purchases", PURCHASE, ["order_id"])]
        + [record("purchases", **purchase(i)) for i in range(600)],
    )
    held = sorted(r["order_id"] for r in sb.rds_rows("demo", "purchases"))
    assert held == list(range(600))
    statuses = {r["status"] for r in writes(sb) if "/records" in r["path"]}
    assert 200 in statuses and statuses & {500, 503}


def test_many_refused_events_stop_the_resending(sb: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "rejected.jsonl"
    config = behavior_config(on_record_error="log", rejected_rows_path=str(path))
    bad = [event(i, bounce_category="mega") for i in range(30)]
    run(sb, config, [schema("bounces", EVENT), *bad, event(99)])
    kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(kept) == 31 and sb.behavior_events() == []
    assert "not sent: Emarsys refused 20 other events" in kept[-1]["reason"]
    assert len([r for r in writes(sb) if "/api/hds/" in r["path"]]) == 21
