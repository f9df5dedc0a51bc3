"""Selection, stream maps, the >20-field join, OAuth2, configuration errors and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emarsys_api import ConfigurationError
from emarsys_sandbox import Sandbox
from tap_emarsys.streams import ContactListMembersStream, EmailResponsesStream
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import FAST, run_tap, selected_catalog
from tests.helpers.truth import expected_records, typed

TAP = str(Path(sys.executable).parent / "tap-emarsys")
ALL_EXPORTABLE = [0, 1, 2, 3, 4, 5, 9, 11, 14, 18, 31, 48, 1000, 1001, 1002, 1003, 1004]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=30, seed=9) as sandbox:
        yield sandbox


def config_for(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    settings = {"start_date": "2026-03-25", "end_date": "2026-04-02", **FAST, **extra}
    return sb.wsse_config(**settings)


def test_many_fields_are_exported_in_groups_and_joined(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox has 17 exportable fields; groups of 5 make every export stream join 4 parts,
    # and email_responses (10 fields next to its analysis fields) joins 2 with its real limit.
    monkeypatch.setattr(ContactListMembersStream, "field_group_size", 5)
    config = config_for(sb, contact_fields=ALL_EXPORTABLE)
    output = run_tap(config, ["contact_list_members", "email_responses"])
    tap = TapEmarsys(config=config)
    for name in ("contact_list_members", "email_responses"):
        expected = expected_records(sb, tap.streams[name])  # type: ignore[arg-type]
        assert typed(output.records[name]) == typed(expected)
        assert len(output.records[name][0]) >= len(ALL_EXPORTABLE) + 1
    assert EmailResponsesStream.field_group_size == 10


def test_twenty_one_fields_take_two_exports_joined_by_contact_id(sb: Sandbox) -> None:
    # Emarsys's real cap (20 per export): 21 fields make every unit run two exports.
    fields = [*ALL_EXPORTABLE, 1005, 1006, 1007, 1008][:21]
    assert len(fields) == 21
    config = config_for(sb, contact_fields=fields)
    already = len(sb.request_log())
    output = run_tap(config, ["contact_list_members", "contact_changes"])
    tap = TapEmarsys(config=config)
    for name in ("contact_list_members", "contact_changes"):
        expected = expected_records(sb, tap.streams[name])  # type: ignore[arg-type]
        assert expected
        assert typed(output.records[name]) == typed(expected)
        assert len(output.records[name][0]) >= 22  # contact_id + 21 fields (+ extras)
    exports = [
        entry
        for entry in sb.request_log()[already:]
        if entry["method"] == "POST" and entry["path"].endswith("email/getcontacts")
    ]
    lists = {record["contact_list_id"] for record in output.records["contact_list_members"]}
    assert len(exports) == 2 * len(lists)


def test_deselected_properties_are_not_emitted(sb: Sandbox) -> None:
    config = config_for(sb, contact_fields=[1, 3, 1000])
    tap = TapEmarsys(config=config)
    catalog = selected_catalog(tap, ["segment_members", "email_responses"])
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] in (
                ["properties", "email"],
                ["properties", "url"],
                ["properties", "segment_id"],
            ):
                item["metadata"]["selected"] = False
    tap = TapEmarsys(config=config, catalog=catalog)
    import contextlib
    import io

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    out.seek(0)
    records = [json.loads(line) for line in out if '"RECORD"' in line]
    assert records
    for message in records:
        keys = set(message["record"])
        assert "email" not in keys
        assert "url" not in keys
        assert "contact_id" in keys
        if message["stream"] == "segment_members":
            assert "segment_id" in keys  # a primary key stays, as the SDK keeps it too


def test_stream_maps_apply_to_export_records(sb: Sandbox) -> None:
    config = config_for(
        sb,
        contact_fields=[1, 3],
        stream_maps={
            "contact_list_members": {
                "email": None,
                "domain": "email.split('@')[-1] if email else None",
                "__filter__": "contact_list_id == 103",
            }
        },
    )
    output = run_tap(config, ["contact_list_members"])
    records = output.records["contact_list_members"]
    assert records
    assert all(r["contact_list_id"] == 103 for r in records)
    assert all("email" not in r and "domain" in r for r in records)
    schema = next(
        m
        for m in output.messages
        if m["type"] == "SCHEMA" and m["stream"] == "contact_list_members"
    )
    assert "domain" in schema["schema"]["properties"]


def test_oauth2_works_like_wsse(sb: Sandbox) -> None:
    settings = {"start_date": "2026-03-25", "end_date": "2026-03-27", **FAST}
    wsse = run_tap(sb.wsse_config(**settings), ["contact_registrations"])
    oauth = run_tap(sb.oauth_config(**settings), ["contact_registrations"])
    assert oauth.records["contact_registrations"] == wsse.records["contact_registrations"]
    assert oauth.records["contact_registrations"]


@pytest.mark.parametrize(
    ("extra", "setting", "text"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone 'Mars/Olympus'"),
        (
            {"contact_fields": [1, "shoe_size"]},
            "contact_fields",
            "valid choices are: 0 (interests)",
        ),
        ({"contact_fields": [27]}, "contact_fields", "non-exportable contact field(s) 27"),
        ({"end_date": "2026-03-01"}, "end_date", "later than start_date"),
        ({"start_date": "last tuesday"}, "start_date", "not an ISO 8601"),
        ({"max_concurrent_exports": 0}, "max_concurrent_exports", "at least 1"),
    ],
)
def test_configuration_errors_name_the_setting(
    sb: Sandbox, extra: dict[str, Any], setting: str, text: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        TapEmarsys(config=config_for(sb, **extra)).streams  # noqa: B018
    assert caught.value.setting == setting
    assert text in str(caught.value)
    assert sb.credentials["secret"] not in str(caught.value)


def _write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_cli_about_discover_test_and_sync(sb: Sandbox, tmp_path: Path) -> None:
    about = subprocess.run([TAP, "--about", "--format=json"], capture_output=True, text=True)
    assert about.returncode == 0
    settings = set(json.loads(about.stdout)["settings"]["properties"])
    assert {"start_date", "contact_fields", "timezone", "max_concurrent_exports"} <= settings

    config = config_for(sb, contact_fields=[1, 1000])
    config_path = _write(tmp_path, "config.json", config)
    discover = subprocess.run(
        [TAP, "--config", config_path, "--discover"], capture_output=True, text=True
    )
    assert discover.returncode == 0, discover.stderr
    catalog = json.loads(discover.stdout)
    names = {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert len(names) == 11
    responses = next(e for e in catalog["streams"] if e["tap_stream_id"] == "email_responses")
    assert responses["schema"]["properties"]["loyalty_points"]["type"] == ["number", "null"]
    assert responses["schema"]["properties"]["time"]["format"] == "date-time"

    check = subprocess.run([TAP, "--config", config_path, "--test"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr

    catalog_path = _write(
        tmp_path,
        "catalog.json",
        selected_catalog(TapEmarsys(config=config), ["segments", "contact_registrations"]),
    )
    sync = subprocess.run(
        [TAP, "--config", config_path, "--catalog", catalog_path], capture_output=True, text=True
    )
    assert sync.returncode == 0, sync.stderr
    streams = {json.loads(line).get("stream") for line in sync.stdout.splitlines()}
    assert {"segments", "contact_registrations"} <= streams
    assert config["secret"] not in sync.stderr
