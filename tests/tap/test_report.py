"""`tap-emarsys --report` against the sandbox: the default account and each variant it plays.

Every test speaks real HTTP to a `Sandbox`; most call `account_report` in-process, a few run
the real command. Each variant test asserts that the report's "Variants that apply" list names
that variant (docs/emarsys-api.md §12.N), which a report that does not detect it cannot do.
"""

from __future__ import annotations

import inspect
import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from emarsys_api import ConfigurationError, NetworkError
from emarsys_sandbox import Sandbox
from tap_emarsys.report import AccountReport, FirstContact, Page, account_report

TAP = [sys.executable, "-c", "from tap_emarsys.tap import TapEmarsys; TapEmarsys.cli()"]
START = "2026-03-20T10:00:00"
FAST = {"export_poll_interval": 0.05, "export_ready_grace": 0.1, "export_timeout": 30}
FAST_START = {"start_date": START, **FAST}
EXPORT_STREAMS = (
    "contact_changes",
    "contact_registrations",
    "email_responses",
    "contact_list_members",
    "segment_members",
)
# A token or digest the sandbox hands out is a long run of base64/url-safe characters.
_TOKEN_SHAPED = re.compile(r"[A-Za-z0-9_-]{32,}")


def _landed(*options: str) -> None:
    """Skip when the sandbox does not have these `Sandbox(...)` options yet."""
    known = inspect.signature(Sandbox.__init__).parameters
    missing = [name for name in options if name not in known]
    if missing:
        pytest.skip(f"sandbox option(s) {', '.join(missing)} not landed yet")


def _config(sb: Sandbox, *, oauth: bool = False, **extra: Any) -> dict[str, Any]:
    settings = {"start_date": START, **FAST, **extra}
    return sb.oauth_config(**settings) if oauth else sb.wsse_config(**settings)


def _report(sb: Sandbox, *, oauth: bool = False, **extra: Any) -> AccountReport:
    return account_report(_config(sb, oauth=oauth, **extra))


def _section(text: str, title: str) -> list[str]:
    """The indented lines under a heading line of the report."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    return found


def _applying(report: AccountReport) -> dict[str, str]:
    """§12 section -> what the report says, for the variants it says apply."""
    found = {}
    for line in _section(report.text, "Variants that apply"):
        if line.startswith("§"):
            section, _, rest = line.partition(" ")
            found[section] = rest
    return found


def _not_seen(report: AccountReport) -> set[str]:
    if "Checked, not seen:" not in report.text:
        return set()
    return {line.split(" ")[0] for line in _section(report.text, "Checked, not seen:")}


def _stream_outcomes(report: AccountReport) -> dict[str, tuple[str, str]]:
    """stream -> (outcome, permission) from the Streams table."""
    found = {}
    for line in _section(report.text, "Streams"):
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("`"):
            found[parts[0]] = (parts[1], parts[2].strip("`"))
        elif len(parts) >= 4 and parts[3].startswith("`"):  # "not checked"
            found[parts[0]] = (f"{parts[1]} {parts[2]}", parts[3].strip("`"))
    return found


def _headers(report: AccountReport) -> dict[str, list[str]]:
    """Export stream -> the header row the report printed."""
    found: dict[str, list[str]] = {}
    stream = None
    for line in report.text.splitlines():
        if line.startswith("  ") and not line.startswith("   ") and ":" in line:
            stream = line.strip().split(":")[0]
        elif line.startswith("    header: ") and stream is not None:
            found[stream] = line.removeprefix("    header: ").split(" | ")
    return found


def _field_names(sb: Sandbox) -> dict[int, str]:
    """Ground truth: the sandbox's `GET /field` names."""
    return {int(f["id"]): str(f["name"]) for f in sb.backend.fields("en")}


def _assert_no_secret(sb: Sandbox, *texts: str) -> None:
    c = sb.credentials
    for text in texts:
        for secret in (c["secret"], c["client_secret"], c["webdav_password"]):
            assert secret not in text
        # the header shapes a digest, nonce or token travels in
        assert not re.search(r'(PasswordDigest|Nonce)\s*=\s*"|Bearer\s+\w|access_token"', text)
        assert not _TOKEN_SHAPED.search(text), _TOKEN_SHAPED.search(text)


def _run_command(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [*TAP, "--report", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- the default account ------------------------------------------------------------------


def test_command_reports_the_default_account_and_exits_0(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sb = make_sandbox(contacts=60, seed=7, export_delay=0.4)
    # A grace longer than the build: with FAST's 0.1 s, a loaded machine's late poll at `ready`
    # may try the download just as the export turns `done`, and the walk then ends at `ready`.
    result = _run_command(_config(sb, export_ready_grace=30), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "Credentials: accepted, WSSE (API v2)" in out
    assert out.rstrip().endswith("Result: everything the tap needs works.")
    report = AccountReport(out.splitlines(), ok=True)
    outcomes = _stream_outcomes(report)
    assert {outcomes[s][0] for s in EXPORT_STREAMS} == {"ok"}
    assert outcomes["contact_fields"] == ("ok", "fields")
    assert outcomes["segments"] == ("ok", "segments")
    # Ground truth: the header is user_id, the GET /field names in the order asked, extras.
    names = _field_names(sb)
    contact = [names[1], names[2], names[3]]
    headers = _headers(report)
    assert headers["contact_list_members"] == ["user_id", *contact]
    assert headers["segment_members"] == ["user_id", *contact]
    assert headers["contact_changes"] == ["user_id", *contact, "last update"]
    # The status walk of a delayed export ends at done, in order.
    walks = re.findall(r"export \d+: (.*)", out)
    assert len(walks) == 5
    for walk in walks:
        states = [step.rsplit(" ", 2)[0] for step in walk.split(" -> ")]
        assert states[-1] == "done"
        assert states == sorted(states, key=["scheduled", "in progress", "ready", "done"].index)
    assert "paging: header repeats on later pages: yes; offset counts data rows" in out
    # The sandbox's reading: every checked variant is "not seen", the rate limit is announced.
    assert set(_applying(report)) == {"§12.11"}
    assert {"§12.1", "§12.2", "§12.3", "§12.4", "§12.5", "§12.7", "§12.8"} <= _not_seen(report)
    _assert_no_secret(sb, result.stdout, result.stderr)


def test_default_account_over_oauth_in_process(sandbox: Sandbox) -> None:
    report = _report(sandbox, oauth=True)
    assert report.ok
    assert "Credentials: accepted, OAuth2 (API v3)" in report.text
    assert "timezone setting not set" in report.text
    assert "§12.7" in _not_seen(report)
    _assert_no_secret(sandbox, report.text)


def test_rate_limit_header_is_reported(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(contacts=40, rate_limit=555)
    applying = _applying(_report(sb))
    assert applying["§12.11"].startswith("rate limit: X-RateLimit-Limit 555 on ")


# -- variants -----------------------------------------------------------------------------


def test_getchanges_without_last_update(make_sandbox: Callable[..., Sandbox]) -> None:
    _landed("changes_last_update")
    report = _report(make_sandbox(contacts=40, changes_last_update=False))
    assert _applying(report)["§12.2"] == "last update in getchanges: no 'last update' column"
    assert "last update" not in _headers(report)["contact_changes"]
    assert report.ok


def test_member_exports_without_user_id(make_sandbox: Callable[..., Sandbox]) -> None:
    _landed("member_user_id")
    sb = make_sandbox(contacts=40, member_user_id=False)
    report = _report(sb)
    assert _applying(report)["§12.1"] == (
        "user_id in list and segment exports: no user_id column in contact_list_members, "
        "segment_members"
    )
    names = _field_names(sb)
    assert _headers(report)["contact_list_members"] == [names[1], names[2], names[3]]
    assert _headers(report)["contact_changes"][0] == "user_id"


def test_header_labels_that_differ_from_get_field(make_sandbox: Callable[..., Sandbox]) -> None:
    _landed("header_labels")
    sb = make_sandbox(contacts=40, header_labels="variant")
    report = _report(sb)
    seen = _applying(report)["§12.3"]
    names = _field_names(sb)
    differences = re.findall(r"field (\d+): '([^']*)' in the export, '([^']*)' in GET /field", seen)
    assert differences
    headers = _headers(report)
    for field_id, label, name in differences:
        assert names[int(field_id)] == name != label
        assert any(label in header for header in headers.values())
    # Where the header keeps a label as in GET /field, the report names no difference.
    reported = {int(field_id) for field_id, _, _ in differences}
    for field_id in (1, 2, 3):
        if field_id not in reported:
            assert names[field_id] in headers["contact_list_members"]


def test_export_that_stays_at_ready(make_sandbox: Callable[..., Sandbox]) -> None:
    _landed("ready_is_final")
    report = _report(make_sandbox(contacts=40, ready_is_final=True, export_delay=0.6))
    assert _applying(report)["§12.4"] == (
        "ready vs done: stayed at ready, the file downloads there: " + ", ".join(EXPORT_STREAMS)
    )
    assert "done" not in " ".join(re.findall(r"export \d+: (.*)", report.text))
    assert report.text.count("(downloaded at ready)") == 5
    assert report.ok


def test_export_not_built_within_export_timeout_is_missing(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sb = make_sandbox(contacts=40, export_delay=30)
    report = _report(sb, export_timeout=0.3)
    assert not report.ok
    outcomes = _stream_outcomes(report)
    assert {outcomes[stream][0] for stream in EXPORT_STREAMS} == {"timed out"}
    last = report.text.splitlines()[-1]
    assert "not built within export_timeout 0.3 s: " + ", ".join(EXPORT_STREAMS) in last


@pytest.mark.parametrize(
    ("page_header", "offset_counts", "seen"),
    [
        ("first", "rows", "header only on the first page; offset counts data rows"),
        ("every", "lines", "header repeats on later pages; offset counts lines"),
        ("first", "lines", "header only on the first page; offset counts lines"),
    ],
)
def test_download_paging(
    make_sandbox: Callable[..., Sandbox], page_header: str, offset_counts: str, seen: str
) -> None:
    _landed("page_header", "offset_counts")
    sb = make_sandbox(contacts=40, page_header=page_header, offset_counts=offset_counts)
    report = _report(sb)
    assert _applying(report)["§12.5"] == f"download paging: {seen}"
    assert report.ok


def test_account_in_another_time_zone(make_sandbox: Callable[..., Sandbox]) -> None:
    report = _report(make_sandbox(contacts=40, timezone="America/New_York"))
    assert _applying(report)["§12.7"] == "time zone: account zone America/New_York"
    assert "account America/New_York (GET /settings); timezone setting not set" in report.text
    # Windows are cut in the account's zone: start_date 10:00 there.
    assert "time_range ['2026-03-20 09:00:00', '2026-03-20 10:00:00']" in report.text


def test_timezone_setting_that_differs_from_the_account(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    report = _report(make_sandbox(contacts=40), timezone="Europe/London")
    assert _applying(report)["§12.7"] == (
        "time zone: account zone Europe/Vienna, timezone setting Europe/London"
    )
    assert "timezone setting Europe/London DIFFERS" in report.text
    assert report.ok  # the tap warns and goes on


# -- permissions --------------------------------------------------------------------------

DENIED_STREAMS = {
    "fields": {"contact_fields"},
    "contact_lists": {"contact_lists", "contact_list_members"},
    "segments": {"segments", "segment_members"},
    "email_campaigns": {"email_campaigns"},
    "exports": set(EXPORT_STREAMS),
}


@pytest.mark.parametrize("permission", sorted(DENIED_STREAMS))
def test_denied_permission_names_streams_and_permission(
    make_sandbox: Callable[..., Sandbox], permission: str
) -> None:
    _landed("denied_permissions")
    sb = make_sandbox(contacts=40, denied_permissions=frozenset({permission}))
    report = _report(sb, oauth=True)
    assert not report.ok
    outcomes = _stream_outcomes(report)
    denied = {stream for stream, (outcome, _) in outcomes.items() if outcome == "denied"}
    assert denied == DENIED_STREAMS[permission]
    assert {outcomes[stream][1] for stream in denied} == {permission}
    assert _applying(report)["§12.8"].startswith(f"permissions: `{permission}` denied (")
    last = report.text.splitlines()[-1]
    streams = ", ".join(s for s in outcomes if s in denied)
    assert f"missing or unproven: permission `{permission}` ({streams})" in last
    _assert_no_secret(sb, report.text)


def test_denied_settings_is_reported_but_not_missing(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    _landed("denied_permissions")
    sb = make_sandbox(contacts=40, denied_permissions=frozenset({"settings"}))
    report = _report(sb, oauth=True)
    assert report.ok  # the tap falls back to the timezone setting
    assert "Credentials: accepted" in report.text
    assert "account zone unknown (denied)" in report.text
    assert _applying(report)["§12.8"] == "permissions: `settings` denied (the account's time zone)"


def test_command_exits_1_for_a_denied_permission(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    _landed("denied_permissions")
    sb = make_sandbox(contacts=40, denied_permissions=frozenset({"exports"}))
    result = _run_command(_config(sb, oauth=True), tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stdout.rstrip().splitlines()[-1]
    assert "missing or unproven: permission `exports` (" + ", ".join(EXPORT_STREAMS) + ")" in last
    assert "Traceback" not in result.stderr
    _assert_no_secret(sb, result.stdout, result.stderr)


# -- credentials and settings -------------------------------------------------------------


@pytest.mark.parametrize("oauth", [False, True])
def test_refused_credentials_stop_the_report(
    make_sandbox: Callable[..., Sandbox], oauth: bool
) -> None:
    sb = make_sandbox(contacts=40)
    wrong = {"client_secret": "not-the-secret"} if oauth else {"secret": "not-the-secret"}
    report = account_report({**_config(sb, oauth=oauth), **wrong})
    assert not report.ok
    assert "Credentials: refused" in report.text
    assert "Streams" not in report.text
    assert "not-the-secret" not in report.text
    _assert_no_secret(sb, report.text)


def test_bad_setting_is_one_error_line(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sb = make_sandbox(contacts=40)
    with pytest.raises(ConfigurationError, match="start_date"):
        account_report(_config(sb, start_date="last tuesday"))
    result = _run_command(_config(sb, start_date="last tuesday"), tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "start_date" in errors[0]
    assert "Traceback" not in result.stderr
    assert sb.request_log() == []  # nothing was sent


# -- one page of a download ---------------------------------------------------------------


def test_page_that_is_json_or_ignores_limit(tiny_server: Callable[..., str]) -> None:
    """A paged reply may be JSON (docs/emarsys-api.md §12.5) or ignore `limit`: both are told."""
    long_rows = "".join(f"{n},contact-{n}\r\n" for n in range(10_000)).encode()

    def handler(request: Request) -> Response:
        if request.path.endswith("/export/1/data"):
            body = json.dumps({"replyCode": 0, "replyText": "OK", "data": "a,b\r\n1,2\r\n"})
            return Response(body, content_type="application/json")
        return Response(b"id,name\r\n" + long_rows, content_type="text/csv")

    base_url = tiny_server(handler)
    probe = FirstContact(
        {"base_url": base_url, "username": "u", "secret": "not-a-real-secret-1", **FAST_START}
    )
    try:
        assert probe.download_page(1, 0, 2) == Page([], json_reply=True)
        cut = probe.download_page(2, 0, 2)
    finally:
        probe.client.close()
    assert cut.cut and not cut.json_reply
    assert cut.rows[0] == ["id", "name"]
    # every row kept is whole: the one the byte cap cut through is dropped
    assert all(row == [str(n), f"contact-{n}"] for n, row in enumerate(cut.rows[1:]))
    assert 1000 < len(cut.rows) < 10_001


def _other_reading(header: str) -> Callable[[Request], Response]:
    """A minimal account of another reading, as a `tiny_server` handler.

    No rate-limit headers; no lists, segments or campaigns; every export stays `ready` and its
    file downloads only from the third try on (404/4005 before), with `header` and two rows.
    """
    started: list[str] = []
    tries: dict[str, int] = {}

    def envelope(data: Any, status: int = 200, code: int = 0) -> Response:
        body = {"replyCode": code, "replyText": "OK" if code == 0 else "not yet", "data": data}
        return Response(json.dumps(body), status=status, content_type="application/json")

    def handler(request: Request) -> Response:
        path = request.path.removeprefix("/api/v2")
        if path == "/settings":
            return envelope({"timezone": "Europe/Vienna"})
        if path == "/field/translate/en":
            names = {1: "First Name", 2: "Last Name", 3: "E-Mail"}
            return envelope([{"id": i, "name": n, "string_id": ""} for i, n in names.items()])
        if path in ("/contactlist", "/filter", "/email/"):
            return envelope([])
        if request.method == "POST":
            started.append(path)
            return envelope({"id": 100 + len(started)})
        export, _, rest = path.removeprefix("/export/").partition("/")
        if not rest:
            return envelope({"id": export, "status": "ready", "file_name": None})
        tries[export] = tries.get(export, 0) + 1
        if tries[export] <= 2:
            return envelope("", status=404, code=4005)
        offset = int(request.args.get("offset", 0))
        rows = [header, "1,A,B,a@x", "2,C,D,c@x"]
        return Response("\r\n".join(rows[:1] + rows[1 + offset :]) + "\r\n")

    return handler


def _other_reading_report(tiny_server: Callable[..., str], header: str) -> AccountReport:
    base_url = tiny_server(_other_reading(header))
    secret = "not-a-real-secret-1"
    return account_report({"base_url": base_url, "username": "u", "secret": secret, **FAST_START})


def test_account_whose_replies_lack_what_the_sandbox_sends(
    tiny_server: Callable[..., str],
) -> None:
    """The report says "not yet" for the two 404s at `ready`, then "stayed at ready", and that
    no X-RateLimit-Limit was seen (docs/emarsys-api.md §12.4, §12.11)."""
    report = _other_reading_report(tiny_server, "user_id,First Name,Last Name,E-Mail")
    assert report.ok, report.text
    applying = _applying(report)
    assert re.fullmatch(
        r"rate limit: no X-RateLimit-Limit header on \d+ replies \(pacing only on 429\)",
        applying["§12.11"],
    )
    assert applying["§12.4"].startswith("ready vs done: stayed at ready")
    # the two 404/4005 answers at `ready`, for each of the three time-ranged exports
    not_yet = re.findall(r"download at ready answered not yet: (.*)", report.text)
    assert len(not_yet) == 3
    assert all(re.fullmatch(r"404/4005 at \S+ s, 404/4005 at \S+ s", line) for line in not_yet)
    assert (
        report.text.count("paging: header repeats on later pages: yes; offset counts data rows")
        == 3
    )
    outcomes = _stream_outcomes(report)
    assert outcomes["contact_list_members"][0] == "not checked"  # the account has no lists
    assert "the account has no contact list" in report.text


def test_time_ranged_export_without_user_id_is_missing(tiny_server: Callable[..., str]) -> None:
    """Changes, registrations and responses rows are keyed by user_id: without it, exit 1."""
    report = _other_reading_report(tiny_server, "First Name,Last Name,E-Mail")
    assert not report.ok
    outcomes = _stream_outcomes(report)
    time_ranged = ("contact_changes", "contact_registrations", "email_responses")
    assert {outcomes[stream][0] for stream in time_ranged} == {"failed"}
    assert "the header has no user_id column, which keys these records" in report.text
    assert report.text.splitlines()[-1].endswith(f"failed: {', '.join(time_ranged)}.")


def test_unreachable_host_is_an_error_not_a_report() -> None:
    """Without any reply there is nothing to report: the command's one-line error instead."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "base_url": f"http://127.0.0.1:{port}",
        "username": "u",
        "secret": "not-a-real-secret-1",
        "max_retries": 0,
        **FAST_START,
    }
    with pytest.raises(NetworkError, match=f"no response from 127.0.0.1:{port}"):
        account_report(config)
