"""The account model, export files and parsers without a server."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from emarsys_sandbox.auth import parse_created
from emarsys_sandbox.backend import SandboxBackend
from emarsys_sandbox.behavior import parse_event_time
from emarsys_sandbox.exceptions import InvalidParameter
from emarsys_sandbox.export_files import render_file, stream_file
from emarsys_sandbox.export_specs import ExportSpec
from emarsys_sandbox.faults import Faults, RateLimiter
from emarsys_sandbox.models import SyntheticAccount
from emarsys_sandbox.synthetic import DST_CHANGE, SPAN_END, SPAN_START, EventClock

VIENNA = ZoneInfo("Europe/Vienna")


def test_account_is_deterministic_and_lazy() -> None:
    a, b = (
        SyntheticAccount(contacts=1_000_000, seed=3),
        SyntheticAccount(contacts=1_000_000, seed=3),
    )
    assert [a.contact_value(1, i) for i in (0, 999_999)] == [
        b.contact_value(1, i) for i in (0, 999_999)
    ]
    assert a.registration_clock.count == 500_000 and a.response_clock.count == 2_000_000
    assert SyntheticAccount(contacts=10, responses=7).response_clock.count == 7


def test_event_clock_spans_the_activity_and_pins_dst() -> None:
    clock = EventClock(1000)
    times = [clock.at(j) for j in range(1000)]
    assert times == sorted(times)
    assert times[0] >= SPAN_START and times[-1] < SPAN_END
    assert DST_CHANGE - 1 in times and DST_CHANGE in times
    window = clock.between(DST_CHANGE - 1, DST_CHANGE + 1)
    assert [clock.at(j) for j in window] == [DST_CHANGE - 1, DST_CHANGE]


def test_rendered_file_offsets_and_paging(tmp_path: Path) -> None:
    account = SyntheticAccount(contacts=500, seed=2)
    body = {"distribution_method": "local", "contactlist": 101, "contact_fields": [1, 1003]}
    spec = ExportSpec.parse("email/getcontacts", body, account)
    export = render_file(spec, account, tmp_path / "x")
    assert export.rows == 500
    size, chunks = stream_file(export, 0, None, True, chunk=97)
    whole = b"".join(chunks)
    assert len(whole) == size
    rows = list(csv.reader(io.StringIO(whole.decode(), newline="")))
    assert len(rows) == 501
    _, page = stream_file(export, 123, 10, False)
    assert list(csv.reader(io.StringIO(b"".join(page).decode(), newline=""))) == rows[124:134]


def test_streaming_a_large_export_keeps_memory_flat(tmp_path: Path) -> None:
    account = SyntheticAccount(contacts=60_000, seed=1)
    body = {"distribution_method": "local", "contactlist": 101, "contact_fields": [1, 2, 3]}
    spec = ExportSpec.parse("email/getcontacts", body, account)
    tracemalloc.start()
    export = render_file(spec, account, tmp_path / "big")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert export.rows == 60_000
    assert peak < 5_000_000  # a few blocks of rows, never the whole export


def test_spec_rejects_datetimes_for_getchanges_only() -> None:
    account = SyntheticAccount(contacts=10)
    base = {"distribution_method": "local", "contact_fields": [1]}
    rng = {"time_range": ["2026-03-15 10:00", "2026-03-16 10:00"]}
    with pytest.raises(InvalidParameter):
        ExportSpec.parse(
            "contact/getchanges", {**base, **rng, "origin": "all", "origin_id": 0}, account
        )
    spec = ExportSpec.parse("contact/getregistrations", {**base, **rng}, account)
    assert spec.start == int(datetime(2026, 3, 15, 10, tzinfo=VIENNA).timestamp())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-01-01T01:01:01Z", datetime(2014, 1, 1, 1, 1, 1, tzinfo=timezone.utc)),
        ("2014-01-01T01:01:01+00:00", datetime(2014, 1, 1, 1, 1, 1, tzinfo=timezone.utc)),
        ("2014-01-01T02:01:01+0100", datetime(2014, 1, 1, 1, 1, 1, tzinfo=timezone.utc)),
        ("2014-01-01T02:01:01", datetime(2014, 1, 1, 1, 1, 1, tzinfo=timezone.utc)),
        ("2014-01-01T01:01:01.250Z", datetime(2014, 1, 1, 1, 1, 1, 250000, tzinfo=timezone.utc)),
    ],
)
def test_wsse_created_formats(text: str, expected: datetime) -> None:
    assert parse_created(text, VIENNA) == expected


def test_wsse_created_garbage() -> None:
    assert parse_created("yesterday", VIENNA) is None


def test_behavior_event_time_without_offset_is_vienna() -> None:
    parsed = parse_event_time("2026-07-01 12:00:00", VIENNA)
    assert parsed == datetime(2026, 7, 1, 10, tzinfo=timezone.utc)
    assert parse_event_time("2026-07-01", VIENNA) == datetime(2026, 6, 30, 22, tzinfo=timezone.utc)
    assert parse_event_time("2026-07-01T12:00:00+02:00", VIENNA) == parsed


def test_rate_limiter_windows() -> None:
    faults = Faults(rate_limit=2, rate_window=10.0)
    limiter = RateLimiter(faults)
    assert limiter.count("a", now=100.0)[1] is False
    assert limiter.count("a", now=101.0)[1] is False
    headers, over = limiter.count("a", now=102.0)
    assert over and headers["X-RateLimit-Reset"] == "110"
    assert limiter.count("b", now=102.0)[1] is False
    assert limiter.count("a", now=110.0)[1] is False


def test_faults_are_seeded() -> None:
    draws = []
    for _ in range(2):
        f = Faults(seed=9)
        f.update(error_rate=0.5)
        draws.append([f.draw_error() for _ in range(20)])
    assert draws[0] == draws[1]


def test_backend_contacts_and_expected_export() -> None:
    backend = SandboxBackend(contacts=20, seed=1)
    try:
        result = backend.upsert_contacts(
            {"key_id": "3", "contacts": [{"3": "x@y.zz"}, {"3": "x@y.zz", "1": "Again"}]}, True
        )
        assert result["ids"][0] == result["ids"][1] and result["errors"] == {}
        rows = backend.expected_export(
            "export/filter", {"distribution_method": "local", "filter": 203, "contact_fields": [1]}
        )
        assert rows == []
    finally:
        backend.close()


def test_faults_reset_returns_to_the_configured_settings() -> None:
    faults = Faults(rate_limit=5, export_delay=0.5)
    faults.update(rate_limit=1, export_delay=9.0, latency=1.0, burst_429=3)
    faults.reset()
    assert (faults.rate_limit, faults.export_delay, faults.latency, faults.burst_429) == (
        5,
        0.5,
        0.0,
        0,
    )
    with pytest.raises(Exception, match="Unknown fault"):
        faults.update(latencyy=1)
