"""Every stream's records equal the sandbox's ground truth: count, keys, values, types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from emarsys_api import ClientSettings, EmarsysClient
from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import FAST, TapOutput, run_tap
from tests.helpers.truth import EXPORT_STREAMS, expected_records, typed

# 11 fields: email_responses (10 per export next to its analysis fields) needs two exports.
FIELDS = [1, 2, 3, 4, 5, 18, 31, 1000, 1001, "notes", "First-Name"]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=60, seed=7) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def config(sb: Sandbox) -> dict[str, Any]:
    return sb.wsse_config(
        start_date="2026-03-15", end_date="2026-04-13", contact_fields=FIELDS, **FAST
    )


@pytest.fixture(scope="module")
def output(config: dict[str, Any]) -> TapOutput:
    return run_tap(config)


@pytest.mark.parametrize("name", EXPORT_STREAMS)
def test_export_stream_equals_ground_truth(
    name: str, sb: Sandbox, config: dict[str, Any], output: TapOutput
) -> None:
    stream = TapEmarsys(config=config).streams[name]
    expected = expected_records(sb, stream)  # type: ignore[arg-type]
    assert expected, "the sandbox should have data for every export stream"
    got = output.records[name]
    assert len(got) == len(expected)
    assert typed(got) == typed(expected)


def test_hostile_values_survive(output: TapOutput) -> None:
    names = {record["first_name"] for record in output.records["contact_list_members"]}
    assert {"Multi\nLine", "Carriage\r\nReturn", 'Anne "Annie"', "Smith, Jr.", "日本"} <= names
    assert None in names  # an empty cell is null


def test_dst_change_converts_to_consecutive_utc_seconds(output: TapOutput) -> None:
    # The sandbox pins two responses to 01:59:59 CET and 03:00:00 CEST on 2026-03-29.
    times = {record["time"] for record in output.records["email_responses"]}
    assert {"2026-03-29T00:59:59+00:00", "2026-03-29T01:00:00+00:00"} <= times


def test_field_names_follow_string_ids_with_clash_suffix(output: TapOutput) -> None:
    record = output.records["contact_registrations"][0]
    assert {"first_name", "first_name_1004", "notes", "loyalty_points", "optin"} <= set(record)
    fields = {r["id"]: r["property"] for r in output.records["contact_fields"]}
    assert fields[1004] == "first_name_1004"


def test_bookmarks_reach_end_date(output: TapOutput) -> None:
    for name in ("contact_changes", "contact_registrations", "email_responses"):
        assert output.bookmark(name) == "2026-04-12T22:00:00+00:00"


def test_json_streams_equal_the_api(sb: Sandbox, output: TapOutput) -> None:
    client = EmarsysClient(ClientSettings.from_config(sb.wsse_config()))
    campaigns = client.email_campaigns(show_deleted=True)
    assert [r["id"] for r in output.records["email_campaigns"]] == [int(c["id"]) for c in campaigns]
    launches = [
        (int(c["id"]), int(launch["id"]))
        for c in campaigns
        for launch in client.email_launches(int(c["id"]))
    ]
    assert [(r["email_id"], r["id"]) for r in output.records["email_launches"]] == launches
    done = [
        (int(c["id"]), int(launch["id"]))
        for c in campaigns
        for launch in client.email_launches(int(c["id"]))
        if launch["done"] == "y"
    ]
    statuses = [
        {**row, "email_id": email_id, "launch_id": launch_id}
        for email_id, launch_id in done
        for page in client.delivery_status(email_id, launch_id)
        for row in page
    ]
    got = output.records["email_delivery_status"]
    assert len(got) == len(statuses) > 0
    assert [(r["email_id"], r["launch_id"], r["id"], r["contact_id"]) for r in got] == [
        (s["email_id"], s["launch_id"], s["id"], s["user_id"]) for s in statuses
    ]
    assert [r["id"] for r in output.records["contact_lists"]] == [
        int(item["id"]) for item in client.contact_lists()
    ]
    assert [r["id"] for r in output.records["segments"]] == [
        int(item["id"]) for item in client.segments()
    ]
    deleted = [r for r in output.records["email_campaigns"] if r["deleted"]]
    assert deleted and deleted[0]["deleted"] == "2026-03-19T11:00:00+00:00"


def _vienna_to_utc(text: str) -> str | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Vienna"))
    return moment.astimezone(dt.timezone.utc).isoformat()


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def test_json_stream_values_and_types(sb: Sandbox, output: TapOutput) -> None:
    client = EmarsysClient(ClientSettings.from_config(sb.wsse_config()))
    expected_campaigns = [
        {
            "id": int(c["id"]),
            "name": c["name"],
            "status": _text(c["status"]),
            "api_status": _text(c["api_status"]),
            "created": _vienna_to_utc(c["created"]),
            "deleted": _vienna_to_utc(c["deleted"]),
            "fromemail": _text(c["fromemail"]),
            "fromname": _text(c["fromname"]),
            "subject": _text(c["subject"]),
            "email_category": _text(c["email_category"]),
            "language": _text(c["language"]),
            "content_type": _text(c["content_type"]),
            "source": _text(c["source"]),
            "root_campaign_id": int(c["root_campaign_id"]),
        }
        for c in client.email_campaigns(show_deleted=True)
    ]
    assert typed(output.records["email_campaigns"]) == typed(expected_campaigns)
    expected_launches = [
        {
            "email_id": c["id"],
            "id": int(la["id"]),
            "done": la["done"],
            "launch_date": la["launch_date"],
        }
        for c in expected_campaigns
        for la in client.email_launches(c["id"])
    ]
    assert typed(output.records["email_launches"]) == typed(expected_launches)
    for name, items in (("contact_lists", client.contact_lists()), ("segments", client.segments())):
        expected = [
            {"id": int(i["id"]), "name": i["name"], "created": _vienna_to_utc(i["created"])}
            for i in items
        ]
        assert typed(output.records[name]) == typed(expected)
    expected_fields = {
        int(f["id"]): (f["name"], f["application_type"], f["string_id"])
        for f in client.fields("en")
    }
    got_fields = {
        r["id"]: (r["name"], r["application_type"], r["string_id"])
        for r in output.records["contact_fields"]
    }
    assert got_fields == expected_fields
    statuses = output.records["email_delivery_status"]
    assert {type(r["contact_id"]) for r in statuses} == {int}
    assert {r["bounce_reason"] for r in statuses} <= {None, "soft", "hard", "block"}


def test_each_export_stream_ends_with_a_summary_line(
    config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    import re

    with caplog.at_level("INFO"):
        output = run_tap(config, ["segment_members"])
    lines = [r.getMessage() for r in caplog.records if "' done: " in r.getMessage()]
    assert len(lines) == 1, lines
    found = re.fullmatch(
        r"Stream 'segment_members' done: (\d+) records from (\d+) exports "
        r"\((\d+) lists or segments\), ([0-9,]+) bytes in [0-9.]+ s",
        lines[0],
    )
    assert found, lines[0]
    records, exports, units, size = found.groups()
    assert int(records) == len(output.records["segment_members"])
    assert int(exports) == int(units) >= 1
    # at least a header and a row per record went over the wire
    assert int(size.replace(",", "")) > 40 * int(records)
