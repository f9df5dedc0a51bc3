"""The five exports over HTTP (docs/emarsys-api.md): validation (§4.3), lifecycle (§5.1), download
(§5.2).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.sandbox_http import KINDS, Api, parse_csv, typed_cell

RANGE = ["2026-03-15", "2026-04-13"]
BODIES: dict[str, dict[str, Any]] = {
    "contact/getchanges": {
        "distribution_method": "local",
        "origin": "all",
        "origin_id": "0",
        "time_range": RANGE,
        "contact_fields": [1, 2, 3, 4, 5, 31, 1000, 1001, 1002, 1003],
    },
    "contact/getregistrations": {
        "distribution_method": "local",
        "time_range": ["2026-03-15 00:00", "2026-04-13 00:00:00"],
        "contact_fields": ["1", "3", "11", "18", "48"],
    },
    "email/getresponses": {
        "distribution_method": "local",
        "time_range": RANGE,
        "contact_fields": [1, 3],
        "sources": ["mail_open", "trackable_links"],
        "analysis_fields": [1, 2, 3, 4, 5, 8, 12, 13, 14, 15],
    },
    "email/getcontacts": {
        "distribution_method": "local",
        "contactlist": 101,
        "contact_fields": [1, 2, 3, 9, 14, 1004],
    },
    "export/filter": {"distribution_method": "local", "filter": "201", "contact_fields": [3, 31]},
}


@pytest.mark.parametrize("export_type", list(BODIES))
def test_hostile_values_round_trip_to_ground_truth(
    sandbox: Sandbox, api: Api, export_type: str
) -> None:
    body = BODIES[export_type]
    reply = api.download(api.export(export_type, body))
    assert reply.headers["Content-Type"] == "text/csv;charset=UTF-8"
    assert reply.headers.get("Transfer-Encoding") == "chunked"
    rows = parse_csv(reply.content.decode("utf-8"))
    header, data = rows[0], rows[1:]
    assert header[0] == "user_id"
    parsed = [
        {h: typed_cell(v, KINDS.get(h, "text")) for h, v in zip(header, r, strict=True)}
        for r in data
    ]
    expected = sandbox.expected_export(export_type, body)
    assert parsed == expected
    assert expected, "the synthetic account must have rows for every export"


def test_csv_is_crlf_and_hostile(sandbox: Sandbox, api: Api) -> None:
    body = BODIES["contact/getchanges"]
    raw = api.download(api.export("contact/getchanges", body)).content.decode()
    assert raw.endswith("\r\n")
    records = parse_csv(raw)
    # every record ends in CRLF (embedded line breaks live inside quoted values)
    assert raw.count("\r\n") >= len(records)
    assert raw.replace("\r\n", "").count("\n") == sum(
        v.replace("\r\n", "").count("\n") for r in records for v in r
    )
    values = {
        v for row in sandbox.expected_export("contact/getchanges", body) for v in row.values()
    }
    texts = {v for v in values if isinstance(v, str)}
    for needle in (",", '"', ";", "\n", "ü", "日本", "😀"):
        assert any(needle in t for t in texts), needle
    assert None in values


def test_dst_change_is_rendered_like_the_service(sandbox: Sandbox, api: Api) -> None:
    body = {**BODIES["contact/getchanges"], "time_range": ["2026-03-29", "2026-03-30"]}
    rows = parse_csv(api.download(api.export("contact/getchanges", body)).text)
    stamps = [r[-1] for r in rows[1:]]
    assert "2026-03-29 01:59:59" in stamps and "2026-03-29 03:00:00" in stamps
    assert not any(s.startswith("2026-03-29 02:") for s in stamps)


def test_time_ranges_are_half_open(sandbox: Sandbox, api: Api) -> None:
    whole = sandbox.expected_export("contact/getchanges", BODIES["contact/getchanges"])
    days = [
        sandbox.expected_export(
            "contact/getchanges",
            {
                **BODIES["contact/getchanges"],
                "time_range": [f"2026-03-{d:02d}", f"2026-03-{d + 1:02d}"],
            },
        )
        for d in range(15, 31)
    ]
    april = sandbox.expected_export(
        "contact/getchanges",
        {**BODIES["contact/getchanges"], "time_range": ["2026-03-31", "2026-04-13"]},
    )
    assert sum(len(d) for d in days) + len(april) == len(whole) == 200
    empty = {**BODIES["contact/getchanges"], "time_range": ["2026-03-20", "2026-03-20"]}
    assert sandbox.expected_export("contact/getchanges", empty) == []


def test_download_paging_header_delimiter_language(sandbox: Sandbox, api: Api) -> None:
    body = {**BODIES["email/getresponses"], "delimiter": ";", "language": "de"}
    export_id = api.export("email/getresponses", body)
    full = parse_csv(api.download(export_id).text, ";")
    header, data = full[0], full[1:]
    assert header[:3] == ["user_id", "Vorname", "E-Mail"]
    assert "Kampagnentitel" in header and "Zeit" in header and header[-1] == "source"
    page = parse_csv(api.download(export_id, offset=5, limit=7).text, ";")
    assert page[0] == header and page[1:] == data[5:12]
    tail = parse_csv(api.download(export_id, offset=len(data) - 2, limit=100).text, ";")
    assert tail[1:] == data[-2:]
    beyond = parse_csv(api.download(export_id, offset=len(data) + 5).text, ";")
    assert beyond == [header]
    for bad in ("0", "x", "10000001"):
        reply = api.get(f"export/{export_id}/data", params={"limit": bad})
        assert (reply.status_code, reply.json()["replyCode"]) == (400, 10001)
    no_header = {**BODIES["email/getcontacts"], "add_field_names_header": 0}
    plain = parse_csv(api.download(api.export("email/getcontacts", no_header), limit=3).text)
    assert len(plain) == 3 and plain[0][0].isdigit()


def test_registrations_without_timestamp(sandbox: Sandbox, api: Api) -> None:
    body = {**BODIES["contact/getregistrations"], "with_timestamp": 0}
    rows = parse_csv(api.download(api.export("contact/getregistrations", body)).text)
    assert "last update" not in rows[0] and len(rows) == 101


def test_filters_of_responses_and_changes(sandbox: Sandbox) -> None:
    base = BODIES["email/getresponses"]
    clicks = sandbox.expected_export("email/getresponses", {**base, "sources": ["trackable_links"]})
    assert clicks and {r["source"] for r in clicks} == {"click"}
    one = sandbox.expected_export("email/getresponses", {**base, "email_id": 5002})
    assert one and {r["Campaign ID"] for r in one} == {5002}
    form = sandbox.expected_export(
        "contact/getchanges", {**BODIES["contact/getchanges"], "origin": "form"}
    )
    api_ = sandbox.expected_export(
        "contact/getchanges", {**BODIES["contact/getchanges"], "origin": "api"}
    )
    assert len(form) + len(api_) == 200


VALIDATION = [
    ("contact/getchanges", {"distribution_method": None}, "Missing parameter: distribution_method"),
    ("contact/getchanges", {"distribution_method": "mail"}, "Invalid distribution method: mail"),
    (
        "contact/getchanges",
        {"contact_fields": "1"},
        "Invalid data format for contact_fields. Array expected",
    ),
    ("contact/getchanges", {"contact_fields": []}, "Invalid number of fields"),
    ("contact/getchanges", {"contact_fields": list(range(1, 22))}, "Invalid number of fields"),
    ("contact/getchanges", {"contact_fields": [1, 27, 33]}, "Invalid contact field id: 27, 33"),
    ("contact/getchanges", {"contact_fields": [1, 99999]}, "Invalid contact field id: 99999"),
    ("contact/getchanges", {"time_range": None}, "Missing parameter: time_range"),
    (
        "contact/getchanges",
        {"time_range": "2026-03-15"},
        "Invalid data format for time_range. Array expected",
    ),
    (
        "contact/getchanges",
        {"time_range": ["2026-03-15"]},
        "Invalid data format for time_range. Array size must be 2",
    ),
    (
        "contact/getchanges",
        {"time_range": ["2026-03-15 10:00", "2026-03-16"]},
        "Valid start_date and end_date is required",
    ),
    (
        "contact/getchanges",
        {"time_range": ["2026-03-16", "2026-03-15"]},
        "Invalid value for end_date: end_date is earlier than the start_date",
    ),
    ("contact/getchanges", {"origin": "web"}, "Invalid origin: web"),
    (
        "contact/getchanges",
        {"origin_id": "x"},
        "Invalid data format for origin_id. Integer expected",
    ),
    ("contact/getchanges", {"delimiter": "|"}, "Invalid value for delimiter: |"),
    ("contact/getchanges", {"language": "eng"}, "Invalid value for language: eng"),
    (
        "contact/getregistrations",
        {"time_range": ["2026-03-15 25:00", "2026-03-16"]},
        "Valid start_date and end_date is required",
    ),
    ("email/getresponses", {"sources": None}, "Missing parameter: sources"),
    (
        "email/getresponses",
        {"sources": ["carrier_pigeon"]},
        "Invalid value for sources: carrier_pigeon",
    ),
    ("email/getresponses", {"analysis_fields": [6]}, "Invalid value for analysis_fields: 6"),
    (
        "email/getresponses",
        {"contact_fields": [1, 2, 3, 4, 5, 9, 11, 14, 18, 31, 1000]},
        "Invalid number of fields",
    ),
    ("email/getcontacts", {"contactlist": None}, "Missing parameter: contactlist"),
    (
        "email/getcontacts",
        {"contactlist": "abc"},
        "Invalid data format for contactlist. Integer expected",
    ),
    ("export/filter", {"filter": "x1"}, "Invalid data format for filter. Integer expected"),
    ("email/getcontacts", {"distribution_method": "ftp"}, "Missing parameter: ftp_settings"),
]


@pytest.mark.parametrize(("export_type", "change", "text"), VALIDATION)
def test_validation_errors(api: Api, export_type: str, change: dict[str, Any], text: str) -> None:
    body = {**BODIES[export_type], **change}
    body = {k: v for k, v in body.items() if v is not None}
    reply = api.post(export_type, json=body)
    assert reply.status_code == 400
    assert reply.json() == {"replyCode": 10001, "replyText": text, "data": ""}


def test_not_json_is_1010(api: Api) -> None:
    reply = api.post(
        "contact/getchanges", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 400 and reply.json()["replyCode"] == 1010


def test_lifecycle_and_identical_running_export(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=30, export_delay=0.6)
    api = Api(sb)
    body = BODIES["email/getcontacts"]
    export_id = api.export("email/getcontacts", body)
    again = api.post("email/getcontacts", json=body)
    assert again.status_code == 400 and again.json()["replyCode"] == 4001
    other = api.export("email/getcontacts", {**body, "contactlist": 102})
    assert other != export_id
    early = api.get(f"export/{export_id}/data")
    assert early.status_code == 404 and early.json()["replyCode"] == 4005
    seen = []
    for _ in range(200):
        data = api.get(f"export/{export_id}").json()["data"]
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
        if data["status"] == "done":
            break
        time.sleep(0.03)
    assert seen[-1] == "done" and seen[0] in ("scheduled", "in progress")
    assert seen == [s for s in ("scheduled", "in progress", "ready", "done") if s in seen]
    assert data["id"] == str(export_id) and data["type"] == "Contactlist"
    assert data["file_name"].endswith(".csv")
    datetime.strptime(data["created"], "%Y-%m-%d %H:%M:%S")
    assert api.export("email/getcontacts", body) > export_id  # no longer running


def test_status_errors_and_not_local(api: Api) -> None:
    assert api.get("export/999999").json()["replyText"] == "Invalid export ID"
    ftp = {
        **BODIES["email/getcontacts"],
        "distribution_method": "ftp",
        "ftp_settings": {"host": "h", "port": "21", "username": "u", "password": "p"},
    }
    export_id = api.export("email/getcontacts", ftp)
    assert api.get(f"export/{export_id}").json()["data"]["status"] == "done"
    reply = api.get(f"export/{export_id}/data")
    assert reply.status_code == 404 and reply.json()["replyCode"] == 4004


def test_v3_paths_serve_exports(sandbox: Sandbox) -> None:
    api = Api(sandbox, oauth=True)
    rows = parse_csv(api.download(api.export("export/filter", BODIES["export/filter"])).text)
    assert len(rows) - 1 == len(sandbox.expected_export("export/filter", BODIES["export/filter"]))


def test_add_activity_appears_in_later_windows(sandbox: Sandbox, api: Api) -> None:
    at = datetime(2026, 4, 20, 10, 30, tzinfo=timezone.utc)
    sandbox.add_activity(at, contacts=3)
    body = {**BODIES["contact/getregistrations"], "time_range": ["2026-04-20", "2026-04-21"]}
    rows = sandbox.expected_export("contact/getregistrations", body)
    assert len(rows) == 3 and all(r["last update"] == at for r in rows)
    responses = sandbox.expected_export(
        "email/getresponses",
        {**BODIES["email/getresponses"], "time_range": ["2026-04-20", "2026-04-21"]},
    )
    assert len(responses) == 6
    changes = sandbox.expected_export(
        "contact/getchanges",
        {**BODIES["contact/getchanges"], "time_range": ["2026-04-20", "2026-04-21"]},
    )
    assert [r["user_id"] for r in changes] == [r["user_id"] for r in rows]
    csv_rows = parse_csv(api.download(api.export("contact/getregistrations", body)).text)
    assert csv_rows[1][-1] == "2026-04-20 12:30:00"


def test_closing_cancels_a_large_export_being_written(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=400_000, seed=2)
    api = Api(sb)
    export_id = api.export("email/getcontacts", {**BODIES["email/getcontacts"]})
    job = sb.backend.exports.jobs[export_id]
    sb.close()
    assert job.rendered.is_set()
    assert job.file is None or job.file.rows == 400_000
