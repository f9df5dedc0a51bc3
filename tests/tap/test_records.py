"""CSV typing: one converter per column, empty -> null, naive account time -> UTC across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tap_emarsys.records import (
    Column,
    RecordTyper,
    as_date,
    as_integer,
    as_number,
    as_text,
    reply_converter,
    snake_case,
    timestamp_converter,
    value_converter,
    value_schema,
)

VIENNA = ZoneInfo("Europe/Vienna")


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("Campaign title", "campaign_title"),
        ("last update", "last_update"),
        ("source", "source"),
        ("First-Name", "first_name"),
        ("Annual Revenue (in 000 EUR)", "annual_revenue_in_000_eur"),
        ("E-Mail", "e_mail"),
        ("1st", "_1st"),
        ("???", "column"),
    ],
)
def test_snake_case(label: str, name: str) -> None:
    assert snake_case(label) == name


def test_scalar_converters() -> None:
    assert as_text("") is None
    assert as_text('a "b", c') == 'a "b", c'
    assert as_integer("12") == 12
    assert as_integer("") is None
    assert as_number("12") == 12
    assert isinstance(as_number("12"), int)
    assert as_number("12.5") == 12.5
    assert as_number("") is None
    assert as_date("2026-03-29") == "2026-03-29"
    assert as_date("") is None
    with pytest.raises(ValueError):
        as_date("29.03.2026")


def test_timestamps_convert_across_the_dst_change() -> None:
    convert = timestamp_converter(VIENNA)
    # The last CET second and the first CEST second of 2026-03-29 are one second apart.
    assert convert("2026-03-29 01:59:59") == "2026-03-29T00:59:59+00:00"
    assert convert("2026-03-29 03:00:00") == "2026-03-29T01:00:00+00:00"
    assert convert("2026-03-15 12:00:00") == "2026-03-15T11:00:00+00:00"
    assert convert("2026-04-10 12:00:00") == "2026-04-10T10:00:00+00:00"
    assert convert("2026-04-10T12:00:00+00:00") == "2026-04-10T12:00:00+00:00"
    assert convert("") is None


def test_typer_types_rows_and_skips_dropped_columns() -> None:
    typer = RecordTyper(
        [
            Column("contact_id", as_integer),
            None,
            Column("loyalty", as_number),
            Column("n", as_text),
        ],
        {"contact_list_id": 7},
    )
    rows = [["1", "ignored", "3.5", ""], ["2", "x", "", "a;b"]]
    assert list(typer.records(rows)) == [
        {"contact_id": 1, "loyalty": 3.5, "n": None, "contact_list_id": 7},
        {"contact_id": 2, "loyalty": None, "n": "a;b", "contact_list_id": 7},
    ]


def test_typer_rejects_a_short_row() -> None:
    typer = RecordTyper([Column("a", as_text), Column("b", as_text)])
    with pytest.raises(ValueError, match="1 fields, the header has 2"):
        list(typer.records([["x"]]))


@pytest.mark.parametrize("zone_name", ["Europe/Vienna", "America/New_York", "Australia/Lord_Howe"])
def test_hourly_offset_cache_agrees_with_zoneinfo_around_dst_changes(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    convert = timestamp_converter(zone)
    for day in ("2026-03-28", "2026-03-29", "2026-04-04", "2026-04-05", "2026-10-04", "2026-10-25"):
        for half_hour in range(48):
            for minute_offset in (0, 17, 29):
                minutes = half_hour * 30 + minute_offset
                text = f"{day} {minutes // 60:02d}:{minutes % 60:02d}:13"
                reference = dt.datetime.fromisoformat(text).replace(tzinfo=zone)
                assert convert(text) == reference.astimezone(dt.timezone.utc).isoformat(), text


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("integer", "7555", 7555),
        ("integer", 7555, 7555),  # docs/emarsys-api.md §6.4: ids as text or as numbers
        ("integer", "", None),
        ("integer", None, None),
        ("text", 12, "12"),
        ("text", "", None),
        ("date", "2026-03-16", "2026-03-16"),
        ("timestamp", "2026-03-29 03:30:00", "2026-03-29T01:30:00+00:00"),  # CEST in Vienna
        ("timestamp", None, None),
    ],
)
def test_reply_values_read_as_the_csv_text_would(kind: str, raw: object, value: object) -> None:
    assert reply_converter(value_converter(kind, VIENNA))(raw) == value


def test_one_schema_table_for_csv_columns_and_reply_properties() -> None:
    assert value_schema("integer") == {"type": ["integer", "null"]}
    assert value_schema("integer", nullable=False) == {"type": ["integer"]}
    assert value_schema("timestamp") == {"type": ["string", "null"], "format": "date-time"}
    assert value_converter("number") is as_number
    with pytest.raises(ValueError, match="time zone"):
        value_converter("timestamp")
