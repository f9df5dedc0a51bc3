"""Windows: day alignment in the account zone, DST days, no lost day for date-only exports."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from tap_emarsys.windows import parse_instant, time_range_windows

VIENNA = ZoneInfo("Europe/Vienna")
UTC = dt.timezone.utc


def vienna(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=VIENNA)  # type: ignore[misc]


def test_windows_cover_range_without_gaps_or_overlap() -> None:
    windows = time_range_windows(
        vienna(2026, 3, 15), vienna(2026, 4, 13), days=7, zone=VIENNA, whole_days=False
    )
    assert windows[0].start == vienna(2026, 3, 15)
    assert windows[0].start.tzinfo is UTC
    assert windows[-1].end == vienna(2026, 4, 13)
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start
    assert [w.time_range(dates_only=True) for w in windows[:2]] == [
        ["2026-03-15", "2026-03-22"],
        ["2026-03-22", "2026-03-29"],
    ]


def test_window_across_dst_is_seven_local_days_and_167_hours() -> None:
    (window,) = time_range_windows(
        vienna(2026, 3, 29), vienna(2026, 4, 5), days=7, zone=VIENNA, whole_days=True
    )
    assert window.end - window.start == dt.timedelta(hours=7 * 24 - 1)
    assert window.time_range(dates_only=False) == ["2026-03-29 00:00:00", "2026-04-05 00:00:00"]


def test_precise_windows_keep_exact_ends() -> None:
    start = dt.datetime(2026, 3, 15, 9, 30, tzinfo=UTC)
    end = dt.datetime(2026, 3, 17, 12, 0, tzinfo=UTC)
    windows = time_range_windows(start, end, days=1, zone=VIENNA, whole_days=False)
    assert [w.time_range(dates_only=False) for w in windows] == [
        ["2026-03-15 10:30:00", "2026-03-16 00:00:00"],
        ["2026-03-16 00:00:00", "2026-03-17 00:00:00"],
        ["2026-03-17 00:00:00", "2026-03-17 13:00:00"],
    ]


def test_date_only_windows_stop_before_an_incomplete_day() -> None:
    # Today (2026-03-17, 13:00 local) is not over: it is exported by a later run, not skipped.
    windows = time_range_windows(
        vienna(2026, 3, 15, 10), vienna(2026, 3, 17, 13), days=7, zone=VIENNA, whole_days=True
    )
    assert [w.time_range(dates_only=True) for w in windows] == [["2026-03-15", "2026-03-17"]]
    assert (
        time_range_windows(
            windows[-1].end, vienna(2026, 3, 17, 23), days=7, zone=VIENNA, whole_days=True
        )
        == []
    )
    (next_day,) = time_range_windows(
        windows[-1].end, vienna(2026, 3, 18, 0, 5), days=7, zone=VIENNA, whole_days=True
    )
    assert next_day.time_range(dates_only=True) == ["2026-03-17", "2026-03-18"]


def test_empty_range_has_no_windows() -> None:
    moment = vienna(2026, 3, 20)
    assert time_range_windows(moment, moment, days=7, zone=VIENNA, whole_days=False) == []


def test_window_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        time_range_windows(
            vienna(2026, 3, 1), vienna(2026, 3, 2), days=0, zone=VIENNA, whole_days=False
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-15", vienna(2026, 3, 15)),
        ("2026-03-15T10:00:00", vienna(2026, 3, 15, 10)),
        ("2026-03-15T09:00:00Z", dt.datetime(2026, 3, 15, 9, tzinfo=UTC)),
        ("2026-03-15T09:00:00+02:00", dt.datetime(2026, 3, 15, 7, tzinfo=UTC)),
    ],
)
def test_parse_instant(text: str, expected: dt.datetime) -> None:
    assert parse_instant(text, VIENNA) == expected
