"""The tap under every documented Emarsys variant (docs/emarsys-api.md §12): records equal ground
truth, and no stream ever emits a record with a missing or null key.

One small sandbox and one full run (all eleven streams) per variant, module-scoped: the
sandbox plays one reading of the documentation per run, the tap is not told which.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from emarsys_api import ClientSettings, EmarsysClient
from emarsys_sandbox import Sandbox, synthetic
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import FAST, TapOutput, run_tap
from tests.helpers.truth import EXPORT_STREAMS, expected_records, typed

# 11 fields: email_responses needs two exports per window (joined by user_id).
FIELDS: list[int | str] = [1, 2, 3, 4, 5, 18, 31, 1000, 1001, "notes", "First-Name"]
# More than 20: member exports need two exports per list, joined by the key field without user_id.
# (Field 1010 is left out: the sandbox's ground truth types its integral values as floats.)
MANY_FIELDS = [f.id for f in synthetic.FIELDS if f.exportable and f.id not in (0, 1010)]
EVERY_VARIANT = {
    "changes_last_update": False,
    "member_user_id": False,
    "header_labels": "variant",
    "ready_is_final": True,
    "page_header": "first",
    "offset_counts": "lines",
}


@dataclass(frozen=True)
class Variant:
    """One reading of the documentation: sandbox options, faults, auth, extra tap settings."""

    sandbox: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)
    auth: str = "wsse"
    settings: dict[str, Any] = field(default_factory=dict)
    fields: tuple[int | str, ...] = tuple(FIELDS)


VARIANTS = {
    "default": Variant(),
    "no-last-update": Variant({"changes_last_update": False}),
    "no-user-id": Variant({"member_user_id": False}),
    "header-labels-variant": Variant({"header_labels": "variant"}),
    "ready-is-final": Variant({"ready_is_final": True}, settings={"export_ready_grace": 0}),
    "first-page-header-line-offsets-cut": Variant(
        {"page_header": "first", "offset_counts": "lines"}, faults={"cut_download_every": 2}
    ),
    "account-zone-new-york": Variant({"timezone": "America/New_York"}),
    "oauth2": Variant(auth="oauth2"),
    "oauth2-every-variant-many-fields": Variant(
        EVERY_VARIANT,
        faults={"cut_download_every": 3},
        auth="oauth2",
        settings={"export_ready_grace": 0},
        fields=tuple(MANY_FIELDS),
    ),
}


@dataclass
class VariantRun:
    """A variant's sandbox, the tap config used, its output and its log lines."""

    sb: Sandbox
    config: dict[str, Any]
    output: TapOutput
    log: list[logging.LogRecord]
    duplicated: str | None  # an e-mail address two contacts share, if the variant made one


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def share_an_email(sb: Sandbox, config: dict[str, Any]) -> str:
    """Write a second contact with the e-mail of a list member: getdata then answers 2010."""
    with EmarsysClient(ClientSettings.from_config(config)) as client:
        body = {"distribution_method": "local", "contactlist": 101, "contact_fields": [3]}
        email = next(
            row["E-Mail"] for row in sb.expected_export("email/getcontacts", body) if row["E-Mail"]
        )
        result = client.upsert_contacts("1", [{"1": "Twin", "3": email}])
        assert result.ids and not result.errors
    return str(email)


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def run(request: pytest.FixtureRequest) -> Iterator[VariantRun]:
    variant = VARIANTS[request.param]
    with Sandbox(contacts=50, seed=11, **variant.sandbox) as sb:
        make = sb.oauth_config if variant.auth == "oauth2" else sb.wsse_config
        config = make(
            start_date="2026-03-15",
            end_date="2026-04-13",
            contact_fields=list(variant.fields),
            **FAST,
            **variant.settings,
        )
        duplicated = None
        if not variant.sandbox.get("member_user_id", True):
            duplicated = share_an_email(sb, config)
        sb.faults.update(**variant.faults)
        collect = Collect()
        loggers = [logging.getLogger(name) for name in ("tap-emarsys", "tap_emarsys")]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(collect)
            logger.setLevel(logging.INFO)
        try:
            output = run_tap(config)
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(collect)
                logger.setLevel(level)
        sb.faults.reset()
        yield VariantRun(sb, config, output, collect.records, duplicated)


@pytest.mark.parametrize("name", EXPORT_STREAMS)
def test_export_stream_equals_ground_truth(name: str, run: VariantRun) -> None:
    stream = TapEmarsys(config=run.config).streams[name]
    expected = expected_records(run.sb, stream)  # type: ignore[arg-type]
    assert expected, "the sandbox should have data for every export stream"
    got = run.output.records[name]
    assert len(got) == len(expected)
    assert typed(got) == typed(expected)


def test_no_stream_emits_a_missing_or_null_key(run: VariantRun) -> None:
    keys = {
        message["stream"]: message["key_properties"]
        for message in run.output.messages
        if message["type"] == "SCHEMA"
    }
    assert len(keys) == 11
    for stream, key_properties in keys.items():
        assert key_properties, stream
        records = run.output.records[stream]
        assert records, f"{stream} should have records under every variant"
        for record in records:
            missing = [k for k in key_properties if record.get(k) is None]
            assert not missing, (stream, missing, record)


def test_the_layout_is_told_once_per_stream(run: VariantRun) -> None:
    told = [r.getMessage() for r in run.log if "export layout is" in r.getMessage()]
    streams = [message.split("'")[1] for message in told]
    assert sorted(streams) == sorted(EXPORT_STREAMS)
    members = [m for m in told if "members'" in m]
    without_ids = not run.sb.backend.variants.member_user_id
    assert all(("without user_id" in m) == without_ids for m in members)
    changes = next(m for m in told if m.startswith("Stream 'contact_changes'"))
    with_last_update = run.sb.backend.variants.changes_last_update
    assert ("without 'last update'" in changes) == (not with_last_update)


def test_label_differences_warn_once_per_stream_and_never_stop_it(run: VariantRun) -> None:
    warned = [r for r in run.log if "labels CSV columns differently" in r.getMessage()]
    if run.sb.backend.variants.header_labels == "exact":
        assert not warned
    else:
        assert sorted(r.getMessage().split("'")[1] for r in warned) == sorted(EXPORT_STREAMS)
        assert all(r.levelno == logging.WARNING for r in warned)


def test_member_rows_without_a_single_contact_are_told_not_emitted(run: VariantRun) -> None:
    left_out = [r.getMessage() for r in run.log if "rows left out" in r.getMessage()]
    if run.duplicated is None:
        assert not left_out
        return
    # The shared address is a member of list 101: both contacts answer for it (2010).
    assert any(
        "Stream 'contact_list_members', contact_list_id 101, export" in m
        and "several contacts with this value" in m
        and "member_key_field 3" in m
        for m in left_out
    )
    emails = {r.get("email") for r in run.output.records["contact_list_members"]}
    assert run.duplicated not in emails
    summary = next(
        r.getMessage()
        for r in run.log
        if r.getMessage().startswith("Stream 'contact_list_members' done")
    )
    assert "member rows left out without a contact id" in summary


def test_the_account_zone_is_used_without_a_timezone_setting(run: VariantRun) -> None:
    stream = TapEmarsys(config=run.config).streams["email_responses"]
    zone = run.sb.backend.account.timezone
    assert str(stream.account.zone) == zone  # type: ignore[attr-defined]
