"""The export forms published sources disagree on (docs/emarsys-api.md §12), over HTTP.

Each option of `Sandbox(...)` makes the sandbox play one form; these tests read the CSV with
their own code (csv.reader on the bytes) and compare it with the ground truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from emarsys_sandbox import Sandbox
from emarsys_sandbox.backend import SandboxBackend
from emarsys_sandbox.cli import build_parser
from emarsys_sandbox.process import SandboxProcess
from tests.helpers.sandbox_http import Api, parse_csv, wsse_header
from tests.helpers.sftp import SFTP_PASSWORD, SFTP_USER, SftpServer

CHANGES = {
    "distribution_method": "local",
    "origin": "all",
    "origin_id": 0,
    "time_range": ["2026-03-15", "2026-04-13"],
    "contact_fields": [1, 2, 3],
}
REGISTRATIONS = {
    "distribution_method": "local",
    "time_range": ["2026-03-15", "2026-04-13"],
    "contact_fields": [1, 3],
}
RESPONSES = {
    "distribution_method": "local",
    "time_range": ["2026-03-15", "2026-04-13"],
    "contact_fields": [3],
    "sources": ["mail_open", "trackable_links"],
    "analysis_fields": [1, 5, 8],
}
LIST = {"distribution_method": "local", "contactlist": 101, "contact_fields": [1, 2, 3]}
SEGMENT = {"distribution_method": "local", "filter": 201, "contact_fields": [3, 31]}
TESTED_FIELDS = [1, 2, 3, 31, 1000, 1001, 1002, 1003, 1004]

MakeSandbox = Callable[..., Sandbox]


def finished(api: Api, export_type: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Start an export and read its status once (export_delay 0: final on the first poll)."""
    export_id = api.export(export_type, body)
    return export_id, api.get(f"export/{export_id}").json()["data"]


def rows_of(api: Api, export_type: str, body: dict[str, Any]) -> list[list[str]]:
    """Header and data rows of a finished export's whole file."""
    export_id, status = finished(api, export_type, body)
    reply = api.get(f"export/{export_id}/data")
    assert reply.status_code == 200, (status, reply.text)
    return parse_csv(reply.content.decode("utf-8"))


# --- 1. getchanges without `last update` (§12.2) ---------------------------------------------


def test_changes_without_last_update(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(contacts=30, changes_last_update=False)
    api = Api(sb)
    rows = rows_of(api, "contact/getchanges", CHANGES)
    assert rows[0] == ["user_id", "First Name", "Last Name", "E-Mail"]
    expected = sb.expected_export("contact/getchanges", CHANGES)
    assert all(list(row) == ["user_id", "First Name", "Last Name", "E-Mail"] for row in expected)
    assert [[int(r[0]), *r[1:]] for r in rows[1:]] == [
        [row["user_id"], *("" if v is None else v for v in list(row.values())[1:])]
        for row in expected
    ]
    # registrations keep their timestamp column (with_timestamp, default 1)
    assert rows_of(api, "contact/getregistrations", REGISTRATIONS)[0][-1] == "last update"


def test_changes_end_with_last_update_by_default(sandbox: Sandbox, api: Api) -> None:
    assert rows_of(api, "contact/getchanges", CHANGES)[0][-1] == "last update"
    assert "last update" in sandbox.expected_export("contact/getchanges", CHANGES)[0]


# --- 2. member exports without `user_id` (§12.1) --------------------------------------------


@pytest.mark.parametrize(
    ("export_type", "body"), [("email/getcontacts", LIST), ("export/filter", SEGMENT)]
)
def test_member_exports_without_user_id(
    make_sandbox: MakeSandbox, export_type: str, body: dict[str, Any]
) -> None:
    sb = make_sandbox(contacts=30, member_user_id=False)
    api = Api(sb)
    rows = rows_of(api, export_type, body)
    names = {f["id"]: f["name"] for f in api.get("field").json()["data"]}
    assert rows[0] == [names[f] for f in body["contact_fields"]]
    expected = sb.expected_export(export_type, body)
    assert all("user_id" not in row for row in expected)
    assert rows[1:] == [["" if v is None else v for v in row.values()] for row in expected]
    # the other three keep it
    assert rows_of(api, "contact/getchanges", CHANGES)[0][0] == "user_id"


def test_member_exports_start_with_user_id_by_default(api: Api) -> None:
    assert rows_of(api, "email/getcontacts", LIST)[0][0] == "user_id"
    assert rows_of(api, "export/filter", SEGMENT)[0][0] == "user_id"


# --- 4. `ready` as the final status of local exports (§12.4) --------------------------------


def test_ready_is_final_serves_the_file_at_ready(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(contacts=30, ready_is_final=True)
    api = Api(sb)
    export_id, status = finished(api, "email/getcontacts", LIST)
    assert status["status"] == "ready" and status["file_name"] is None
    again = api.get(f"export/{export_id}").json()["data"]
    assert again["status"] == "ready"  # it never comes to `done`
    reply = api.get(f"export/{export_id}/data")
    assert reply.status_code == 200
    rows = parse_csv(reply.content.decode())
    expected = sb.expected_export("email/getcontacts", LIST)
    assert [int(r[0]) for r in rows[1:]] == [row["user_id"] for row in expected]


def test_ready_is_final_still_refuses_a_download_before_ready(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(contacts=30, ready_is_final=True, export_delay=600.0)
    api = Api(sb)
    export_id, status = finished(api, "email/getcontacts", LIST)
    assert status["status"] == "scheduled"
    early = api.get(f"export/{export_id}/data")
    assert (early.status_code, early.json()["replyCode"]) == (404, 4005)


def test_exports_end_at_done_by_default(api: Api) -> None:
    _, status = finished(api, "email/getcontacts", LIST)
    assert status["status"] == "done" and status["file_name"]


# --- 5 and 6. download paging: header per page, offset base (§12.5) --------------------------


def page(api: Api, export_id: int, offset: int, limit: int) -> list[list[str]]:
    reply = api.get(f"export/{export_id}/data", params={"offset": offset, "limit": limit})
    assert reply.status_code == 200, reply.text
    return parse_csv(reply.content.decode())


@pytest.mark.parametrize("page_header", ["every", "first"])
@pytest.mark.parametrize("offset_counts", ["rows", "lines"])
def test_download_pages(make_sandbox: MakeSandbox, page_header: str, offset_counts: str) -> None:
    sb = make_sandbox(contacts=30, page_header=page_header, offset_counts=offset_counts)
    api = Api(sb)
    export_id, _ = finished(api, "email/getcontacts", LIST)
    whole = parse_csv(api.get(f"export/{export_id}/data").content.decode())
    header, data = whole[0], whole[1:]
    assert len(data) == 30
    lines = offset_counts == "lines"
    first = page(api, export_id, 0, 5)
    # from offset 0 the header always comes first; `lines` counts it within `limit`
    assert first == [header, *data[: 4 if lines else 5]]
    later = page(api, export_id, 5, 5)
    start = 4 if lines else 5  # offset=5 is data row 4 when the header is line 0
    assert later == ([header] if page_header == "every" else []) + data[start : start + 5]
    # a client that reads the variant right pages through the whole file exactly once
    collected: list[list[str]] = []
    offset = 0
    while True:
        rows = page(api, export_id, offset, 7)
        if offset == 0 or page_header == "every":
            assert rows[0] == header
            rows = rows[1:]
        if not rows:
            break
        collected += rows
        offset = len(collected) + (1 if lines else 0)
    assert collected == data


def test_lines_without_a_header_line_count_rows(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(contacts=30, offset_counts="lines", page_header="first")
    api = Api(sb)
    export_id, _ = finished(api, "email/getcontacts", {**LIST, "add_field_names_header": 0})
    data = parse_csv(api.get(f"export/{export_id}/data").content.decode())
    assert len(data) == 30
    assert page(api, export_id, 0, 3) == data[:3]
    assert page(api, export_id, 3, 3) == data[3:6]


def test_a_cut_fresh_download_still_falls_mid_row_under_lines(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(contacts=30, offset_counts="lines", page_header="first")
    api = Api(sb)
    export_id, _ = finished(api, "email/getcontacts", LIST)
    whole = api.get(f"export/{export_id}/data", params={"offset": 0, "limit": 11}).content
    sb.faults.update(cut_download_every=1)
    reply = api.get(f"export/{export_id}/data", params={"offset": 0, "limit": 11}, stream=True)
    received = b""
    try:
        for chunk in reply.iter_content(None):
            received += chunk
    except Exception:  # the broken chunked stream (requests' ChunkedEncodingError)
        pass
    assert 0 < len(received) < len(whole) and whole.startswith(received)
    assert not received.endswith(b"\r\n")


# --- 3. header labels that differ from `GET /field` names (§12.3) ---------------------------


def test_exact_labels_are_the_field_names(api: Api) -> None:
    body = {**LIST, "contact_fields": TESTED_FIELDS, "language": "en"}
    names = {f["id"]: f["name"] for f in api.get("field").json()["data"]}
    assert rows_of(api, "email/getcontacts", body)[0][1:] == [names[f] for f in TESTED_FIELDS]


def test_variant_labels_differ_from_the_field_names(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(contacts=30, header_labels="variant")
    api = Api(sb)
    body = {**LIST, "contact_fields": TESTED_FIELDS, "language": "en"}
    rows = rows_of(api, "email/getcontacts", body)
    names = {f["id"]: f["name"] for f in api.get("field").json()["data"]}
    labels = dict(zip(TESTED_FIELDS, rows[0][1:], strict=True))
    assert (names[3], labels[3]) == ("E-Mail", "E-mail")  # case
    assert (names[31], labels[31]) == ("Opt-In", "Opt in")  # hyphen / space
    assert (names[2], labels[2]) == ("Last Name", "Nachname")  # German under language en
    assert (names[1000], labels[1000]) == ("Loyalty Score", "Loyalty Points")  # field renamed
    assert (names[1001], labels[1001]) == ("Last Purchase", "Last Purchase Date")  # label renamed
    assert (names[1], labels[1]) == ("First Name", "First name")
    assert (names[1004], labels[1004]) == ("First Name (legacy)", "First-Name (legacy)")
    assert labels[1002] == names[1002] and labels[1003] == names[1003]  # the rest agree
    # ground truth stays keyed by the exact English labels, the values in CSV column order
    expected = sb.expected_export("email/getcontacts", body)
    assert list(expected[0])[1:4] == ["First Name", "Last Name", "E-Mail"]
    assert [r[0] for r in rows[1:]] == [str(row["user_id"]) for row in expected]
    assert [r[3] for r in rows[1:]] == [row["E-Mail"] or "" for row in expected]
    # analysis and extra columns vary in case too
    assert rows_of(api, "contact/getchanges", CHANGES)[0][-1] == "Last Update"
    assert rows_of(api, "email/getresponses", RESPONSES)[0] == [
        "user_id",
        "E-mail",
        "Campaign Title",
        "URL",
        "Time",
        "source",
    ]


def test_variant_labels_leave_german_exports_alone(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(contacts=30, header_labels="variant")
    api = Api(sb)
    body = {**LIST, "contact_fields": [1, 2, 1000], "language": "de"}
    assert rows_of(api, "email/getcontacts", body)[0] == [
        "user_id",
        "Vorname",
        "Nachname",
        "Treuepunkte",
    ]
    german = {f["id"]: f["name"] for f in api.get("field/translate/de").json()["data"]}
    assert german[1000] == "Treuepunkte"


@pytest.mark.parametrize(
    ("option", "value"),
    [("header_labels", "fancy"), ("page_header", "none"), ("offset_counts", "bytes")],
)
def test_an_unknown_form_is_refused_by_name(option: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{option} must be one of"):
        Sandbox(contacts=1, **{option: value})


# --- 13. where an (S)FTP export's server settings go, per endpoint (§12.6) -------------------


def server_settings(server: SftpServer, port_key: str = "port") -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        port_key: str(server.port),
        "username": SFTP_USER,
        "password": SFTP_PASSWORD,
        "folder": "/exports",
    }


def uploaded(api: Api, export_id: int) -> dict[str, Any]:
    """Poll until the upload is done (bounded: the loop ends, the assertion says why)."""
    status: dict[str, Any] = {}
    for _ in range(200):
        status = api.get(f"export/{export_id}").json()["data"]
        if status["status"] == "done":
            break
        time.sleep(0.05)
    assert status["status"] == "done", status
    return status


@pytest.mark.parametrize(
    ("export_type", "body", "key", "port_key"),
    [
        ("email/getcontacts", LIST, "ftp_settings", "ftp_port"),
        ("contact/getchanges", CHANGES, "sftp_settings", "port"),
    ],
)
def test_any_key_carries_the_sftp_server(
    make_sandbox: MakeSandbox,
    sftp_server: SftpServer,
    export_type: str,
    body: dict[str, Any],
    key: str,
    port_key: str,
) -> None:
    sb = make_sandbox(contacts=30)
    api = Api(sb)
    request = {**body, "distribution_method": "sftp", key: server_settings(sftp_server, port_key)}
    status = uploaded(api, api.export(export_type, request))
    file = sftp_server.root / "exports" / status["file_name"]
    rows = parse_csv(file.read_bytes().decode())
    assert rows == rows_of(api, export_type, body)


def refusal(api: Api, export_type: str, body: dict[str, Any]) -> tuple[int, int, str]:
    reply = api.post(export_type, json=body)
    envelope = reply.json()
    return reply.status_code, envelope["replyCode"], envelope["replyText"]


def test_documented_keys_per_endpoint(make_sandbox: MakeSandbox, sftp_server: SftpServer) -> None:
    sb = make_sandbox(contacts=30, distribution_keys="documented")
    api = Api(sb)
    server = server_settings(sftp_server)
    cases = [
        ("contact/getchanges", CHANGES, "ftp_settings", "sftp_settings"),
        ("contact/getregistrations", REGISTRATIONS, "sftp_settings", "ftp_settings"),
        ("email/getcontacts", LIST, "sftp_settings", "ftp_settings"),
        ("export/filter", SEGMENT, "ftp_settings", "sftp_settings"),
    ]
    for export_type, body, documented, other in cases:
        wrong = {**body, "distribution_method": "sftp", other: server}
        assert refusal(api, export_type, wrong) == (400, 10001, f"Missing parameter: {documented}")
    sftp_responses = {**RESPONSES, "distribution_method": "sftp", "ftp_settings": server}
    assert refusal(api, "email/getresponses", sftp_responses) == (
        400,
        10001,
        "Invalid distribution method: sftp",
    )
    ftp_responses = {**RESPONSES, "distribution_method": "ftp", "ftp_settings": server}
    assert api.post("email/getresponses", json=ftp_responses).json()["replyCode"] == 0
    # the upload works from whichever key carried the server
    for export_type, body, documented, _ in cases[:2]:
        request = {**body, "distribution_method": "sftp", documented: server}
        status = uploaded(api, api.export(export_type, request))
        assert (
            (sftp_server.root / "exports" / status["file_name"])
            .read_bytes()
            .startswith(b"user_id,")
        )


def test_any_is_the_default_and_still_names_a_missing_key(sandbox: Sandbox, api: Api) -> None:
    missing = {**RESPONSES, "distribution_method": "sftp"}
    assert refusal(api, "email/getresponses", missing) == (
        400,
        10001,
        "Missing parameter: sftp_settings",
    )
    assert refusal(api, "email/getresponses", {**RESPONSES, "distribution_method": "ftp"}) == (
        400,
        10001,
        "Missing parameter: ftp_settings",
    )


# --- 15. GET /settings names the account's time zone (§12.7) --------------------------------


@pytest.mark.parametrize("zone", ["Europe/Vienna", "America/New_York"])
def test_settings_return_the_account_time_zone(make_sandbox: MakeSandbox, zone: str) -> None:
    sb = make_sandbox(contacts=5, timezone=zone)
    for api in (Api(sb), Api(sb, oauth=True)):
        assert api.get("settings").json()["data"]["timezone"] == zone


# --- the serve flags -----------------------------------------------------------------------

VARIANT_FLAGS = [
    "--no-changes-last-update",
    "--no-member-user-id",
    "--header-labels",
    "variant",
    "--ready-is-final",
    "--page-header",
    "first",
    "--offset-counts",
    "lines",
    "--distribution-keys",
    "documented",
]


def test_variant_flags_parse_to_the_option_values() -> None:
    chosen = vars(build_parser().parse_args(["serve", *VARIANT_FLAGS]))
    defaults = vars(build_parser().parse_args(["serve"]))
    names = [
        "changes_last_update",
        "member_user_id",
        "header_labels",
        "ready_is_final",
        "page_header",
        "offset_counts",
        "distribution_keys",
    ]
    assert [defaults[n] for n in names] == [True, True, "exact", False, "every", "rows", "any"]
    assert [chosen[n] for n in names] == [
        False,
        False,
        "variant",
        True,
        "first",
        "lines",
        "documented",
    ]


def test_a_served_sandbox_plays_the_flagged_variants() -> None:
    with SandboxProcess("--contacts", "20", *VARIANT_FLAGS) as process:
        info = process.credentials
        headers = {"X-WSSE": wsse_header(info["username"], info["secret"])}
        base = info["base_url"] + "/api/v2"
        started = requests.post(f"{base}/email/getcontacts", json=LIST, headers=headers, timeout=10)
        export_id = started.json()["data"]["id"]
        status = requests.get(f"{base}/export/{export_id}", headers=headers, timeout=10).json()
        assert status["data"]["status"] == "ready"  # --ready-is-final
        first = requests.get(
            f"{base}/export/{export_id}/data",
            params={"offset": 0, "limit": 3},
            headers=headers,
            timeout=10,
        )
        rows = parse_csv(first.text)
        # no user_id, variant labels, and `limit` counts the header line
        assert rows[0] == ["First name", "Nachname", "E-mail"] and len(rows) == 3
        later = requests.get(
            f"{base}/export/{export_id}/data",
            params={"offset": 2, "limit": 1},
            headers=headers,
            timeout=10,
        )
        assert parse_csv(later.text) == rows[2:3]  # no header; line 2 is data row 1
        refused = requests.post(
            f"{base}/email/getresponses",
            json={**RESPONSES, "distribution_method": "sftp", "sftp_settings": {}},
            headers=headers,
            timeout=10,
        ).json()
        assert refused["replyText"] == "Invalid distribution method: sftp"
    assert process.returncode == 0


@pytest.mark.parametrize("ready_is_final", [True, False])
def test_the_walks_ready_third_serves_the_file_only_when_ready_is_final(
    ready_is_final: bool,
) -> None:
    """No HTTP: the job's status at a chosen instant (a poll would depend on wall time)."""
    backend = SandboxBackend(contacts=5, ready_is_final=ready_is_final, export_delay=30.0)
    try:
        job = backend.exports.get(str(backend.start_export("email/getcontacts", LIST)))
        assert job.rendered.wait(10)
        status = job.status(job.created + 25.0)  # the last third of the 30 s walk
        assert status == "ready"
        assert job.served_at(status) is ready_is_final
        final = job.status(job.created + 31.0)
        assert final == ("ready" if ready_is_final else "done") and job.served_at(final)
    finally:
        backend.close()
