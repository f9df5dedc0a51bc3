"""The >20-field join: secondary field values looked up by contact id from a temp SQLite file."""

from __future__ import annotations

from tap_emarsys.join import ContactFieldJoin
from tap_emarsys.records import Column, as_number, as_text


def test_join_completes_records_and_nulls_missing_contacts() -> None:
    with ContactFieldJoin() as join:
        join.add_part(
            [Column("city", as_text), Column("points", as_number)],
            [(1, ["Wien", "3"]), (2, ["", "2.5"]), (1, ["ignored", "9"])],
        )
        join.add_part([Column("notes", as_text)], [(2, ["a;b"])])
        records = [{"contact_id": 1, "x": 1}, {"contact_id": 2, "x": 2}, {"contact_id": 3, "x": 3}]
        assert list(join.complete(records)) == [
            {"contact_id": 1, "x": 1, "city": "Wien", "points": 3, "notes": None},
            {"contact_id": 2, "x": 2, "city": None, "points": 2.5, "notes": "a;b"},
            {"contact_id": 3, "x": 3, "city": None, "points": None, "notes": None},
        ]
