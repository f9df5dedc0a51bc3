"""Export windows: the slices of `[start, end)` that one export each covers.

Windows are aligned to local midnights in the account's time zone, so a bookmark always falls on
a boundary Emarsys can express, and a run resumed from a bookmark cuts the same windows again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

UTC = dt.timezone.utc


@dataclass(frozen=True)
class ExportWindow:
    """One half-open slice `[start, end)` of the sync range, as aware datetimes.

    Attributes:
        start: first instant covered.
        end: first instant not covered; the stream's bookmark after this window is written.
        zone: the account's time zone, in which Emarsys reads `time_range` values.
    """

    start: dt.datetime
    end: dt.datetime
    zone: ZoneInfo

    def time_range(self, *, dates_only: bool) -> list[str]:
        """Render the window as an Emarsys `time_range` in the account's local time.

        Args:
            dates_only: render `YYYY-MM-DD` (getchanges accepts dates only,
                docs/emarsys-api.md §4.2);
                only valid for windows on local midnights, which `time_range_windows` ensures.

        Returns:
            `[start, end]`, read by Emarsys as a half-open range.
        """
        fmt = "%Y-%m-%d" if dates_only else "%Y-%m-%d %H:%M:%S"
        return [
            self.start.astimezone(self.zone).strftime(fmt),
            self.end.astimezone(self.zone).strftime(fmt),
        ]

    @property
    def label(self) -> str:
        """A short human name for logs and errors, in UTC."""
        return f"[{self.start.astimezone(UTC).isoformat()}, {self.end.astimezone(UTC).isoformat()})"


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The first instant of `day` in `zone`, as an aware UTC datetime.

    UTC, because Python compares and subtracts datetimes sharing one tzinfo by wall clock.
    """
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(UTC)


def time_range_windows(
    start: dt.datetime,
    end: dt.datetime,
    *,
    days: int,
    zone: ZoneInfo,
    whole_days: bool,
) -> list[ExportWindow]:
    """Cut `[start, end)` into windows of at most `days` local calendar days.

    Inner boundaries sit on local midnights (a DST day is 23 or 25 hours long, as the account
    sees it). With `whole_days`, the range itself is widened at the start to the local midnight
    and narrowed at the end to the last local midnight: a day is only exported once it is
    complete, so a later run still gets the rest of today instead of losing it.

    Args:
        start: aware start of the range (bookmark or `start_date`).
        end: aware exclusive end of the range (`end_date` or now).
        days: window length in days (`export_window_days`), at least 1.
        zone: the account's time zone.
        whole_days: whether the export only takes dates (getchanges).

    Returns:
        The windows in order; empty when nothing (complete) is left to export.
    """
    if days < 1:
        msg = f"export_window_days must be at least 1, got {days}"
        raise ValueError(msg)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    local_start = start.astimezone(zone)
    local_end = end.astimezone(zone)
    day = local_start.date()
    if whole_days:
        start = local_midnight(day, zone)
        end = local_midnight(local_end.date(), zone)
    windows: list[ExportWindow] = []
    lower = start
    last_day = local_end.date()
    while lower < end:
        # Never step past the day after the end: a huge `days` is one window, not a date
        # beyond year 9999 (OverflowError).
        day += dt.timedelta(days=min(days, (last_day - day).days + 1))
        upper = min(local_midnight(day, zone), end)
        windows.append(ExportWindow(lower, upper, zone))
        lower = upper
    return windows


def parse_instant(value: str, zone: ZoneInfo) -> dt.datetime:
    """Read an ISO 8601 setting or bookmark as an aware datetime (naive = account time).

    Args:
        value: `2026-03-15`, `2026-03-15T10:00:00`, `2026-03-15T09:00:00Z`, ...
        zone: the zone a value without offset is read in.

    Returns:
        The aware datetime.
    """
    parsed = read_iso(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed


class OutOfCalendarError(ValueError):
    """An ISO 8601 value too close to either end of the calendar to cut windows at."""


#: The years a date, setting or bookmark, may fall in: converting an instant of year 1 or 9999
#: to the account's zone, or stepping to the day after the end, leaves the calendar
#: (OverflowError).
YEARS = range(2, 9999)


def read_iso(value: str) -> dt.datetime:
    """Read an ISO 8601 date or timestamp as is: aware with an offset (or `Z`), else naive.

    Raises:
        ValueError: not ISO 8601 (`OutOfCalendarError`: of a year outside `YEARS`).
    """
    parsed = dt.datetime.fromisoformat(
        value.replace("Z", "+00:00") if value.endswith("Z") else value
    )
    if parsed.year not in YEARS:
        msg = f"{value!r} is outside the years {YEARS[0]} to {YEARS[-1]} the tap can export"
        raise OutOfCalendarError(msg)
    return parsed
