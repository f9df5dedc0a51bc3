"""Export jobs against the sandbox: validation, lifecycle, streaming, resume, expiry."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from emarsys_api import (
    EmarsysClient,
    ExportAlreadyRunningError,
    ExportExpiredError,
    ExportFailedError,
    ExportTimeoutError,
    ExportType,
    ValidationError,
)
from tests.helpers.clients import oauth_client, wsse_client

VIENNA = ZoneInfo("Europe/Vienna")
SPAN = ["2026-03-15", "2026-04-13"]
FIELDS = [1, 2, 3]


def _bodies(client: EmarsysClient) -> dict[ExportType, dict[str, Any]]:
    common = {"distribution_method": "local", "contact_fields": FIELDS}
    return {
        ExportType.CONTACT_CHANGES: {
            **common,
            "origin": "all",
            "origin_id": "0",
            "time_range": SPAN,
        },
        ExportType.CONTACT_REGISTRATIONS: {**common, "time_range": SPAN},
        ExportType.EMAIL_RESPONSES: {
            **common,
            "time_range": SPAN,
            "sources": ["trackable_links", "mail_open"],
            "analysis_fields": [1, 5],
        },
        ExportType.CONTACT_LIST_MEMBERS: {**common, "contactlist": client.contact_lists()[0]["id"]},
        ExportType.SEGMENT_MEMBERS: {**common, "filter": client.segments()[0]["id"]},
    }


def _cell(value: Any) -> str:
    """Render a ground-truth value the way the export CSV shows it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(VIENNA).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _download(
    client: EmarsysClient, export_type: ExportType, body: dict[str, Any]
) -> list[list[str]]:
    export_id = client.start_export(export_type, body)
    client.wait_for_export(export_id, poll_interval=0.02, timeout=10)
    return list(client.export_rows(export_id, delimiter=body.get("delimiter", ",")))


@pytest.mark.parametrize("export_type", list(ExportType))
def test_each_export_equals_ground_truth(sandbox: Any, export_type: ExportType) -> None:
    client = wsse_client(sandbox)
    body = _bodies(client)[export_type]
    rows = _download(client, export_type, body)
    expected = sandbox.expected_export(export_type.value, body)
    header, data = rows[0], rows[1:]
    assert header[0] == "user_id"
    assert len(data) == len(expected) > 0
    assert data == [[_cell(truth[label]) for label in header] for truth in expected]


def test_hostile_values_round_trip_with_semicolons(sandbox: Any) -> None:
    client = oauth_client(sandbox)
    body = {**_bodies(client)[ExportType.CONTACT_LIST_MEMBERS], "delimiter": ";", "language": "de"}
    rows = _download(client, ExportType.CONTACT_LIST_MEMBERS, body)
    expected = sandbox.expected_export(ExportType.CONTACT_LIST_MEMBERS.value, body)
    cells = [cell for row in rows[1:] for cell in row]
    assert len(rows) - 1 == len(expected)
    hostile = [c for c in cells if any(ch in c for ch in ',;"\r\n') or not c.isascii()]
    assert hostile, "the synthetic account should contain hostile values"
    first_names = [truth["First Name"] or "" for truth in expected]
    assert [row[1] for row in rows[1:]] == first_names


def test_export_without_header_row(sandbox: Any) -> None:
    client = wsse_client(sandbox)
    body = {**_bodies(client)[ExportType.SEGMENT_MEMBERS], "add_field_names_header": 0}
    export_id = client.start_export(ExportType.SEGMENT_MEMBERS, body)
    client.wait_for_export(export_id, poll_interval=0.02, timeout=10)
    rows = list(client.export_rows(export_id, has_header=False))
    assert len(rows) == len(sandbox.expected_export(ExportType.SEGMENT_MEMBERS.value, body))
    assert rows[0][0].isdigit()


@pytest.mark.parametrize(
    ("export_type", "drop", "text"),
    [
        (ExportType.CONTACT_CHANGES, "origin", "Missing parameter: origin"),
        (ExportType.CONTACT_REGISTRATIONS, "time_range", "Missing parameter: time_range"),
        (ExportType.EMAIL_RESPONSES, "sources", "Missing parameter: sources"),
        (ExportType.CONTACT_LIST_MEMBERS, "contactlist", "Missing parameter: contactlist"),
        (ExportType.SEGMENT_MEMBERS, "filter", "Missing parameter: filter"),
    ],
)
def test_validation_errors_carry_the_reply_text(
    sandbox: Any, export_type: ExportType, drop: str, text: str
) -> None:
    client = wsse_client(sandbox)
    body = dict(_bodies(client)[export_type])
    body.pop(drop)
    with pytest.raises(ValidationError) as caught:
        client.start_export(export_type, body)
    error = caught.value
    assert (error.status, error.reply_code) == (400, 10001)
    assert text in error.reply_text
    assert f"POST /api/v2/{export_type.value}" in str(error)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"contact_fields": [1, 27]}, "27"),
        ({"contact_fields": list(range(1, 23))}, "Invalid number of fields"),
        ({"time_range": ["2026-04-01", "2026-03-01"]}, "earlier than the start_date"),
        ({"time_range": ["2026-04-01"]}, "Array size must be 2"),
    ],
)
def test_body_validation(sandbox: Any, change: dict[str, Any], text: str) -> None:
    client = oauth_client(sandbox)
    body = {**_bodies(client)[ExportType.CONTACT_REGISTRATIONS], **change}
    with pytest.raises(ValidationError, match=text):
        client.start_export(ExportType.CONTACT_REGISTRATIONS, body)


def test_lifecycle_logs_status_changes(make_sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    sandbox = make_sandbox(contacts=50, export_delay=0.3)
    client = wsse_client(sandbox)
    body = _bodies(client)[ExportType.CONTACT_REGISTRATIONS]
    export_id = client.start_export(ExportType.CONTACT_REGISTRATIONS, body)
    with pytest.raises(ExportAlreadyRunningError) as caught:
        client.start_export(ExportType.CONTACT_REGISTRATIONS, body)
    assert (caught.value.status, caught.value.reply_code) == (400, 4001)
    with caplog.at_level(logging.INFO, logger="emarsys_api"):
        final = client.wait_for_export(export_id, poll_interval=0.02, timeout=10, label="regs")
    assert final["status"] == "done"
    assert f"regs: export {export_id} done" in caplog.text
    assert f"export {export_id} scheduled" in caplog.text or "in progress" in caplog.text


def test_export_error_timeout_and_expiry(sandbox: Any) -> None:
    client = wsse_client(sandbox)
    body = _bodies(client)[ExportType.SEGMENT_MEMBERS]
    sandbox.faults.update(export_error_every=1)
    failing = client.start_export(ExportType.SEGMENT_MEMBERS, body)
    with pytest.raises(ExportFailedError, match=str(failing)):
        client.wait_for_export(failing, poll_interval=0.02, timeout=10)

    sandbox.faults.reset()
    sandbox.faults.update(export_delay=30.0)
    slow = client.start_export(
        ExportType.CONTACT_LIST_MEMBERS, _bodies(client)[ExportType.CONTACT_LIST_MEMBERS]
    )
    with pytest.raises(ExportTimeoutError, match="timeout"):
        client.wait_for_export(slow, poll_interval=0.05, timeout=0.2)

    sandbox.faults.reset()
    done = client.start_export(
        ExportType.CONTACT_REGISTRATIONS, _bodies(client)[ExportType.CONTACT_REGISTRATIONS]
    )
    client.wait_for_export(done, poll_interval=0.02, timeout=10)
    sandbox.faults.update(expire_files=True)
    with pytest.raises(ExportExpiredError) as caught:
        list(client.export_rows(done))
    assert (caught.value.status, caught.value.reply_code) == (410, 4003)


def test_cut_download_resumes_with_identical_rows(
    make_sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = make_sandbox(contacts=3000, seed=11)
    client = wsse_client(sandbox)
    body = _bodies(client)[ExportType.EMAIL_RESPONSES]
    export_id = client.start_export(ExportType.EMAIL_RESPONSES, body)
    client.wait_for_export(export_id, poll_interval=0.02, timeout=10)
    # Every second download is cut mid-row: the first below is whole, the second is cut once.
    sandbox.faults.update(cut_download_every=2)
    uncut = list(client.export_rows(export_id))
    assert len(uncut) - 1 == len(sandbox.expected_export(ExportType.EMAIL_RESPONSES.value, body))
    with caplog.at_level(logging.WARNING, logger="emarsys_api"):
        resumed = list(client.export_rows(export_id))
    assert resumed == uncut
    assert caplog.text.count("resuming at offset") == 1
    assert any("offset=" in str(e.get("query", "")) for e in sandbox.request_log())
