"""Sink behaviour with a recording client: batching, row checks, rejections, STATE timing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from singer_sdk.exceptions import ConfigValidationError, InvalidInputLine, MissingKeyPropertiesError

from emarsys_api import ConfigurationError
from target_emarsys.errors import (
    DestinationConfigError,
    DestinationWriteError,
    InvalidRowError,
    RecordRejectedError,
)
from tests.helpers.recording_client import RecordingClient, rds_error
from tests.helpers.target_run import record, schema, state

PURCHASE = {
    "order_id": {"type": "integer"},
    "contact_id": {"type": ["integer", "null"]},
    "amount": {"type": ["number", "null"]},
    "note": {"type": ["string", "null"]},
}
EVENT = {
    "campaign_id": {"type": ["integer", "string"]},
    "message_id": {"type": ["integer", "string"]},
    "contact_id": {"type": ["integer", "string", "null"]},
    "event_time": {"type": ["string", "null"], "format": "date-time"},
    "bounce_category": {"type": ["string", "null"]},
}
CONTACT = {
    "email": {"type": ["string", "null"]},
    "first_name": {"type": ["string", "null"]},
}
BEHAVIOR = {
    "type": "behavior",
    "provider": "sendkit",
    "channel": "email",
    "campaign_type": "txn",
    "event_type": "bounce",
}


def purchases(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        record("purchases", order_id=i, contact_id=i % 7, amount=i + 0.5)
        for i in range(start, start + count)
    ]


def stdout_states(captured: str) -> list[Any]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


# Settings and destinations


def test_unknown_destination_type_names_the_stream() -> None:
    from target_emarsys.target import TargetEmarsys

    with pytest.raises(ConfigValidationError, match=r"stream_destinations\['orders'\].*'tabel'"):
        TargetEmarsys(
            config={
                "username": "u",
                "secret": "s",
                "stream_destinations": {"orders": {"type": "tabel"}},
            }
        )


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ({"type": "relational", "tabel": "x"}, r"unknown key 'tabel'.*did you mean 'table'"),
        ({**BEHAVIOR, "event": "open"}, r"unknown key 'event'.*'event_type'"),
        (
            {"type": "contacts", "key_field": "email", "zzz": 1},
            r"unknown key 'zzz'.*valid: type, key_field",
        ),
    ],
)
def test_unknown_destination_key_names_stream_and_key(
    destination: dict[str, Any], expected: str
) -> None:
    """A typo must not send the rows to the default table (or drop a behavior field)."""
    from target_emarsys.target import TargetEmarsys

    with pytest.raises(DestinationConfigError, match=rf"\['orders'\]: {expected}"):
        TargetEmarsys(
            config={
                "username": "u",
                "secret": "s",
                "rds_connection": "c1",
                "customer_id": "123",
                "stream_destinations": {"orders": destination},
            }
        )


@pytest.mark.parametrize("rows", [-1, -1000])
def test_a_negative_batch_size_rows_is_a_config_error(run_target: Any, rows: int) -> None:
    """It meant one row per request."""
    with pytest.raises(
        ConfigurationError, match=r"`batch_size_rows` must be a whole number, 0 \(the default\)"
    ):
        run_target({"batch_size_rows": rows})


def test_batch_size_rows_0_means_the_default(run_target: Any) -> None:
    target = run_target({"batch_size_rows": 0})
    target.feed(
        [schema("t", {"id": {"type": "integer"}}, ["id"])]
        + [record("t", id=i) for i in range(1500)]
    )
    assert [len(rows) for _, _, rows in target.client.named("rds_upsert")] == [1000, 500]


@pytest.mark.parametrize("customer_id", [None, "\u0661\u0662\u0663"])
def test_behavior_destination_needs_customer_id(customer_id: str | None) -> None:
    """ASCII digits only: the JSON schema's `\\d` and `str.isdigit` pass other digits."""
    from target_emarsys.target import TargetEmarsys

    config = {"username": "u", "secret": "s", "stream_destinations": {"ev": BEHAVIOR}}
    with pytest.raises(DestinationConfigError, match="customer_id"):
        TargetEmarsys(config={**config, "customer_id": customer_id})


def test_half_credentials_are_a_config_error() -> None:
    from target_emarsys.target import TargetEmarsys

    with pytest.raises(ConfigValidationError, match="client_secret"):
        TargetEmarsys(config={"client_id": "only-half", "rds_connection": "demo"})


def test_half_credentials_are_a_config_error_with_a_given_client_too() -> None:
    from target_emarsys.target import TargetEmarsys

    with pytest.raises(ConfigValidationError, match="client_secret"):
        TargetEmarsys(
            config={"client_id": "only-half", "rds_connection": "demo"},
            client=RecordingClient(),  # type: ignore[arg-type]
        )


def test_a_sink_needs_a_target_with_a_write_context() -> None:
    from singer_sdk.target_base import Target

    from target_emarsys.sinks import RelationalSink

    class Bare(Target):
        name = "bare"
        config_jsonschema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}

    with pytest.raises(TypeError, match="WriteContext"):
        RelationalSink(Bare(config={}), "orders", {"properties": {}}, [])


def test_the_sinks_of_one_run_share_its_write_context(run_target: Any) -> None:
    run = run_target({"stream_destinations": {"b": {"type": "relational", "table": "t2"}}})
    run.feed(
        [
            schema("a", {"id": {"type": "integer"}}, ["id"]),
            schema("b", {"id": {"type": "integer"}}),
        ],
        finish=False,
    )
    a, b = (run.target.get_sink(name) for name in ("a", "b"))
    assert a.write_context is b.write_context is run.target.write_context
    assert a.client is run.client
    run.target.process_endofpipe()


def test_replaced_tables_are_claimed_once() -> None:
    from target_emarsys.sinks.context import ReplacedTables

    tables = ReplacedTables()
    assert [tables.claim("c.t"), tables.claim("c.t"), tables.claim("c.u")] == [True, False, True]


def test_secrets_are_marked_secret() -> None:
    from target_emarsys.target import TargetEmarsys

    properties = TargetEmarsys.config_jsonschema["properties"]
    assert properties["secret"]["secret"] is True
    assert properties["client_secret"]["secret"] is True
    assert all(p.get("description") for p in properties.values())


# Relational


def test_upsert_is_default_with_keys_and_requests_hold_at_most_1000(run_target: Any) -> None:
    run = run_target({})
    run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(2500)])
    calls = run.client.named("rds_upsert")
    assert [len(rows) for _, _, rows in calls] == [1000, 1000, 500]
    assert {(c, t) for c, t, _ in calls} == {("demo", "purchases")}
    rows = [row for _, _, batch in calls for row in batch]
    assert sorted(r["order_id"] for r in rows) == list(range(2500))
    assert all(list(r) == ["order_id", "contact_id", "amount", "note"] for r in rows)
    assert rows[0] == {"order_id": 0, "contact_id": 0, "amount": 0.5, "note": None}


def test_batch_size_rows_is_capped_at_the_limit(run_target: Any) -> None:
    run = run_target({"batch_size_rows": 5000})
    run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(1500)])
    assert [len(rows) for _, _, rows in run.client.named("rds_upsert")] == [1000, 500]


def test_append_only_without_keys_and_skipped_rows_counted(
    run_target: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = RecordingClient()
    client.insert_skips = 2
    run = run_target({"batch_size_rows": 10}, client)
    run.feed([schema("purchases", PURCHASE), *purchases(25)])
    assert [len(rows) for _, _, rows in client.named("rds_insert")] == [10, 10, 5]
    assert "skipped 2 of 10" in caplog.text
    sinks = run.target._sinks_active
    assert sinks["purchases"].rows_skipped == 6


def test_upsert_merges_duplicate_keys_keeping_the_last(run_target: Any) -> None:
    run = run_target({})
    run.feed(
        [
            schema("purchases", PURCHASE, ["order_id"]),
            record("purchases", order_id=1, note="first"),
            record("purchases", order_id=1, note="second"),
        ]
    )
    ((_, _, rows),) = run.client.named("rds_upsert")
    assert rows == [{"order_id": 1, "contact_id": None, "amount": None, "note": "second"}]


def test_overwrite_replaces_first_then_inserts(run_target: Any) -> None:
    run = run_target({"load_method": "overwrite", "batch_size_rows": 100})
    run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(250)])
    names = [name for name, _ in run.client.calls]
    assert names == ["rds_replace", "rds_insert", "rds_insert"]


def test_overwrite_without_records_empties_the_table(run_target: Any) -> None:
    run = run_target({"load_method": "overwrite"})
    run.feed([schema("purchases", PURCHASE, ["order_id"])])
    assert run.client.calls == [("rds_replace", ("demo", "purchases", []))]


def test_values_are_sent_as_json_scalars(run_target: Any) -> None:
    run = run_target({"stream_destinations": {"s": {"type": "relational", "table": "t1"}}})
    props = {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "price": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "name": {"type": "string"},
    }
    run.feed(
        [
            schema("s", props, ["id"]),
            record(
                "s", id=1, at="2026-03-29T01:30:00+01:00", price=12.25, tags=["a"], name="Zoë ✓"
            ),
        ]
    )
    ((connection, table, rows),) = run.client.named("rds_upsert")
    assert (connection, table) == ("demo", "t1")
    assert rows == [
        {
            "id": 1,
            "at": "2026-03-29 01:30:00",  # Vienna time for an RDS DATETIME column
            "price": 12.25,
            "tags": '["a"]',
            "name": "Zoë ✓",
        }
    ]
    assert type(rows[0]["price"]) is float


def test_unknown_columns_fail_naming_columns_and_table(run_target: Any) -> None:
    client = RecordingClient()
    client.fail_with = rds_error(15003, "Missing fields: [note]")
    run = run_target({"on_record_error": "log"}, client)
    with pytest.raises(DestinationWriteError, match=r"demo\.purchases has no column\(s\) note"):
        run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(3)])


def test_rejected_batch_fails_naming_stream_key_and_reason(run_target: Any) -> None:
    client = RecordingClient()
    client.fail_with = rds_error(15013, "Auto increment failed")
    run = run_target({}, client)
    with pytest.raises(RecordRejectedError, match=r"'purchases'.*order_id=0.*Auto increment"):
        run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(3)])


def test_rejected_batch_is_logged_to_jsonl(run_target: Any, tmp_path: Path) -> None:
    client = RecordingClient()
    client.fail_with = rds_error(15013, "Auto increment failed")
    path = tmp_path / "rejects.jsonl"
    run = run_target({"on_record_error": "log", "rejected_rows_path": str(path)}, client)
    run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(3), state({"b": 1})])
    kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert [k["record"]["order_id"] for k in kept] == [0, 1, 2]
    assert kept[0]["stream"] == "purchases"
    assert "Auto increment failed (replyCode 15013)" in kept[0]["reason"]


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("dir", "Is a directory"),
        ("file/r.jsonl", "a part of the path is a file"),
        ("/proc/nope/r.jsonl", "No such file or directory"),
        ("a\0b.jsonl", "embedded null byte"),
    ],
)
def test_unusable_rejects_path_stops_at_start(
    run_target: Any, tmp_path: Path, where: str, reason: str
) -> None:
    """Not at the first rejected row, after other rows were sent, and not as a traceback."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    path = str(tmp_path / where)
    with pytest.raises(ConfigurationError) as caught:
        run_target({"on_record_error": "log", "rejected_rows_path": path})
    assert caught.value.setting == "rejected_rows_path"
    assert f"cannot be written ({reason}" in str(caught.value)


def test_rejects_path_is_checked_without_leaving_a_file(run_target: Any, tmp_path: Path) -> None:
    path = tmp_path / "new" / "r.jsonl"
    run_target({"on_record_error": "log", "rejected_rows_path": str(path)}).feed([])
    assert not path.exists()
    kept = tmp_path / "kept.jsonl"
    kept.write_text('{"earlier": 1}\n')
    run_target({"on_record_error": "log", "rejected_rows_path": str(kept)}).feed([])
    assert kept.read_text() == '{"earlier": 1}\n'


def test_record_missing_key_property_fails_before_any_request(run_target: Any) -> None:
    run = run_target({})
    with pytest.raises(MissingKeyPropertiesError, match=r"'purchases'.*order_id"):
        run.feed([schema("purchases", PURCHASE, ["order_id"]), record("purchases", amount=1.0)])
    assert run.client.calls == []


def test_schema_violation_fails_before_any_request(run_target: Any) -> None:
    run = run_target({})
    with pytest.raises(Exception, match="must be integer"):
        run.feed([schema("purchases", PURCHASE, ["order_id"]), record("purchases", order_id="x")])
    assert run.client.calls == []


def test_schema_violation_logged_in_log_mode(run_target: Any, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    run = run_target({"on_record_error": "log", "rejected_rows_path": str(path)})
    run.feed(
        [
            schema("purchases", PURCHASE, ["order_id"]),
            record("purchases", order_id="x"),
            record("purchases", order_id=2),
        ]
    )
    ((_, _, rows),) = run.client.named("rds_upsert")
    assert [r["order_id"] for r in rows] == [2]
    assert json.loads(path.read_text())["record"] == {"order_id": "x"}


# STATE


def test_state_waits_for_acknowledgement(run_target: Any, capsys: pytest.CaptureFixture) -> None:
    client = RecordingClient()
    client.gate.clear()
    run = run_target({"batch_size_rows": 10}, client)
    run.feed(
        [schema("purchases", PURCHASE, ["order_id"]), *purchases(10), state({"at": 10})],
        finish=False,
    )
    assert stdout_states(capsys.readouterr().out) == []
    client.gate.set()
    run.target.write_context.pool.wait_all()
    run.feed([*purchases(5, 10), state({"at": 15})], finish=False)
    assert stdout_states(capsys.readouterr().out) == [{"at": 10}]
    run.feed([])
    assert stdout_states(capsys.readouterr().out) == [{"at": 15}]


def test_state_is_not_emitted_after_a_failed_request(
    run_target: Any, capsys: pytest.CaptureFixture
) -> None:
    client = RecordingClient()
    client.fail_with = rds_error(15013, "nope")
    run = run_target({"batch_size_rows": 2}, client)
    with pytest.raises(RecordRejectedError):
        run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(4), state({"x": 1})])
    assert stdout_states(capsys.readouterr().out) == []


# Behavior


def behavior_run(run_target: Any, **config: Any) -> Any:
    return run_target({"customer_id": "123", "stream_destinations": {"ev": BEHAVIOR}, **config})


def event(**values: Any) -> dict[str, Any]:
    base = {
        "campaign_id": 11,
        "message_id": 22,
        "contact_id": 33,
        "event_time": "2026-03-29T01:30:00",
    }
    return record("ev", **{**base, **values})


def test_behavior_csv_has_header_and_offsets(run_target: Any) -> None:
    run = behavior_run(run_target)
    run.feed([schema("ev", EVENT), event(bounce_category='hard, "really"')])
    ((customer, provider, channel, ctype, etype, body),) = run.client.named("behavior_events")
    assert (customer, provider, channel, ctype, etype) == (
        "123",
        "sendkit",
        "email",
        "txn",
        "bounce",
    )
    assert body.decode() == (
        "campaign_id,message_id,contact_id,event_time,bounce_category\r\n"
        '11,22,33,2026-03-29T01:30:00+00:00,"hard, ""really"""\r\n'
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"event_time": None}, "missing required field event_time"),
        ({"contact_id": "abc"}, "contact_id must be an integer"),
        ({"contact_id": "\u0661\u0662"}, "contact_id must be an integer"),  # Arabic-Indic 12
        ({"campaign_id": "\uff11"}, "campaign_id must be an integer"),  # fullwidth 1
        ({"contact_id": None}, "missing required field contact_id"),
        ({"event_time": "yesterday"}, "event_time must be an ISO 8601"),
    ],
)
def test_behavior_bad_rows_fail_before_any_request(
    run_target: Any, values: dict[str, Any], message: str
) -> None:
    run = behavior_run(run_target)
    event_schema = {**EVENT, "event_time": {"type": ["string", "null"]}}
    with pytest.raises(InvalidRowError, match=message):
        run.feed([schema("ev", event_schema), event(), event(**values)])
    assert run.client.calls == []


# Contacts


def contacts_run(run_target: Any, client: RecordingClient | None = None, **config: Any) -> Any:
    destinations = {"people": {"type": "contacts", "key_field": "email"}}
    return run_target({"stream_destinations": destinations, **config}, client)


def test_contacts_are_sent_by_field_id(run_target: Any) -> None:
    run = contacts_run(run_target)
    run.feed(
        [
            schema("people", CONTACT, ["email"]),
            record("people", email="a@example.com", first_name="Ánna"),
        ]
    )
    assert run.client.named("upsert_contacts") == [("3", [{"3": "a@example.com", "1": "Ánna"}])]


def test_contact_with_empty_key_fails_before_any_request(run_target: Any) -> None:
    run = contacts_run(run_target)
    with pytest.raises(InvalidRowError, match="key field email is empty"):
        run.feed(
            [
                schema("people", CONTACT),
                record("people", email="a@example.com"),
                record("people", email=" "),
            ]
        )
    assert run.client.named("upsert_contacts") == []


def test_contact_properties_must_be_fields(run_target: Any) -> None:
    run = contacts_run(run_target)
    with pytest.raises(DestinationConfigError, match="shoe_size"):
        run.feed([schema("people", {**CONTACT, "shoe_size": {"type": "integer"}})])


def test_contact_item_errors_fail_by_key(run_target: Any) -> None:
    client = RecordingClient()
    client.contact_errors = {"b@example.com": [("2010", "More contacts found")]}
    run = contacts_run(run_target, client)
    with pytest.raises(RecordRejectedError, match=r"email='b@example.com'.*More contacts found"):
        run.feed(
            [
                schema("people", CONTACT),
                record("people", email="a@example.com"),
                record("people", email="b@example.com"),
            ]
        )


def test_contact_item_errors_logged(run_target: Any, tmp_path: Path) -> None:
    client = RecordingClient()
    client.contact_errors = {"b@example.com": [("2010", "More contacts found")]}
    path = tmp_path / "r.jsonl"
    run = contacts_run(run_target, client, on_record_error="log", rejected_rows_path=str(path))
    run.feed(
        [
            schema("people", CONTACT),
            record("people", email="a@example.com"),
            record("people", email="b@example.com"),
        ]
    )
    (kept,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert kept["key"] == "email='b@example.com'"
    assert kept["reason"] == "More contacts found (errorCode 2010)"


def test_unparseable_timestamp_is_a_record_error(run_target: Any, tmp_path: Path) -> None:
    props = {"id": {"type": "integer"}, "at": {"type": ["string", "null"], "format": "date-time"}}
    messages = [
        schema("s", props, ["id"]),
        record("s", id=1, at="not-a-date"),
        record("s", id=2, at="2026-03-29T02:30:00"),
    ]
    with pytest.raises(Exception, match=r"stream 's', record id=1: .*must be date-time"):
        run_target({}).feed(messages)
    path = tmp_path / "r.jsonl"
    run = run_target({"on_record_error": "log", "rejected_rows_path": str(path)})
    run.feed(messages)
    ((_, _, rows),) = run.client.named("rds_upsert")
    assert rows == [{"id": 2, "at": "2026-03-29 04:30:00"}]  # UTC 02:30 is 04:30 CEST
    assert json.loads(path.read_text())["key"] == "id=1"


def test_schema_change_sends_old_rows_first(run_target: Any) -> None:
    wider = {**PURCHASE, "extra": {"type": ["string", "null"]}}
    run = run_target({"batch_size_rows": 2})
    run.feed(
        [
            schema("purchases", PURCHASE, ["order_id"]),
            record("purchases", order_id=1, note="old"),
            schema("purchases", wider, ["order_id"]),
            record("purchases", order_id=1, note="new"),
            record("purchases", order_id=2, note="new"),
        ]
    )
    notes = [row["note"] for _, _, rows in run.client.named("rds_upsert") for row in rows]
    assert notes == ["old", "new", "new"]


def test_batch_messages_are_refused_clearly(run_target: Any) -> None:
    batch = {
        "type": "BATCH",
        "stream": "purchases",
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": ["file:///nowhere.jsonl.gz"],
    }
    with pytest.raises(
        InvalidInputLine, match=r"input line 2: .* does not read Singer BATCH files"
    ):
        run_target({}).feed([schema("purchases", PURCHASE, ["order_id"]), batch])


def test_compound_keys_merge_and_order(run_target: Any) -> None:
    props = {"a": {"type": "integer"}, "b": {"type": "string"}, "v": {"type": "integer"}}
    run = run_target({"stream_destinations": {"s": {"type": "relational", "table": "t"}}})
    run.feed(
        [
            schema("s", props, ["a", "b"]),
            record("s", a=1, b="x", v=1),
            record("s", a=1, b="y", v=2),
            record("s", a=1, b="x", v=3),
        ]
    )
    ((_, _, rows),) = run.client.named("rds_upsert")
    assert rows == [{"a": 1, "b": "x", "v": 3}, {"a": 1, "b": "y", "v": 2}]


def test_stream_maps_filter_and_copy(run_target: Any) -> None:
    maps = {
        "purchases": {"__filter__": "order_id % 2 == 0", "note": "str(order_id) + '!'"},
        "purchases_copy": {"__source__": "purchases"},
    }
    run = run_target({"stream_maps": maps})
    run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(4)])
    by_table: dict[str, list[Any]] = {}
    for _, table, rows in run.client.named("rds_upsert"):
        by_table.setdefault(table, []).extend(rows)
    assert [(r["order_id"], r["note"]) for r in by_table["purchases"]] == [(0, "0!"), (2, "2!")]
    assert [(r["order_id"], r["note"]) for r in by_table["purchases_copy"]] == [
        (i, None) for i in range(4)
    ]


def test_reading_input_leaves_the_garbage_collector_as_it_was(run_target: Any) -> None:
    import gc

    before = gc.get_threshold()
    run = run_target({})
    run.feed([schema("purchases", PURCHASE, ["order_id"]), *purchases(3)])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert len(run.client.named("rds_upsert")) == 1


def test_properties_the_schema_does_not_declare_are_named_once(
    run_target: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Their values are not written (the table gets the SCHEMA's columns): said once."""
    target = run_target({})
    target.feed(
        [
            schema("t", {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}}, ["id"]),
            record("t", id=1, name="a"),
            record("t", id=2, name="b", zzz=5, aaa="x"),
            record("t", id=3, zzz=6),
        ]
    )
    (call,) = target.client.named("rds_upsert")
    assert call[2] == [
        {"id": 1, "name": "a"},
        {"id": 2, "name": "b"},
        {"id": 3, "name": None},
    ]
    told = [r.getMessage() for r in caplog.records if "does not declare" in r.getMessage()]
    assert told == [
        "stream 't': record id=2 has properties aaa, zzz that the stream's SCHEMA does not "
        "declare; they are not written to demo.t (declare them in the tap's schema to keep "
        "them; this is said once per stream)"
    ]
