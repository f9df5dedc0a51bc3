"""Export headers in every published layout (docs/emarsys-api.md §12.1-12.3), null keys, getdata.

Unit tests of one piece each: the header matcher of a real stream (built against a small
sandbox), the record typer's key guard, the member id resolver with a stand-in client, and
`EmarsysClient.contact_ids` against a tiny HTTP server.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug import Request, Response

from emarsys_api import ClientSettings, EmarsysClient
from emarsys_api.client import ContactIdsResult
from emarsys_sandbox import Sandbox
from emarsys_singer.command_errors import USER_ERRORS
from tap_emarsys.contact_fields import ContactField, field_groups
from tap_emarsys.export_runner import ExportUnit
from tap_emarsys.export_stream import CsvHeaderError, ExportDataError, ExportStream
from tap_emarsys.members import EMPTY_KEY, NOT_FOUND, SEVERAL, MemberIdResolver
from tap_emarsys.records import Column, CsvRowError, RecordTyper, as_integer, as_text
from tap_emarsys.tap import TapEmarsys

UNIT: ExportUnit[Any] = ExportUnit(1, "window test", [])


@pytest.fixture(scope="module")
def tap() -> Iterator[TapEmarsys]:
    with Sandbox(contacts=5, seed=1) as sb:
        config = sb.wsse_config(start_date="2026-03-15", end_date="2026-03-20")
        yield TapEmarsys(config=config)


def stream(tap: TapEmarsys, name: str) -> ExportStream:
    found = tap.streams[name]
    assert isinstance(found, ExportStream)
    return found


def labels(fields: list[ContactField]) -> list[str]:
    return [field.label for field in fields]


def names(columns: list[Column | None]) -> list[str | None]:
    return [column.name if column else None for column in columns]


def test_changes_with_and_without_last_update(tap: TapEmarsys) -> None:
    changes = stream(tap, "contact_changes")
    fields = changes.field_groups()[0]
    full = changes._layout(
        UNIT, 7, ["user_id", *labels(fields), "last update"], fields, primary=True
    )
    assert names(full.columns) == ["contact_id", "first_name", "last_name", "email", "last_update"]
    assert full.missing == ()
    bare = changes._layout(UNIT, 7, ["user_id", *labels(fields)], fields, primary=True)
    assert [extra.label for extra in bare.missing] == ["last update"]
    assert names(bare.columns)[-1] == "email"


def test_labels_that_differ_match_by_position(tap: TapEmarsys) -> None:
    changes = stream(tap, "contact_changes")
    fields = changes.field_groups()[0]
    header = ["USER_ID", "Vorname", "Last name", "E-mail", "Last Update"]
    layout = changes._layout(UNIT, 7, header, fields, primary=True)
    assert names(layout.columns) == [
        "contact_id",
        "first_name",
        "last_name",
        "email",
        "last_update",
    ]
    assert ("Vorname", "First Name") in layout.renamed
    assert ("Last Update", "last update") in layout.renamed


def test_extra_columns_by_normalised_label_when_the_count_does_not_fit(tap: TapEmarsys) -> None:
    responses = stream(tap, "email_responses")
    fields = responses.field_groups()[0]
    header = ["user_id", *labels(fields), "SOURCE", "campaign-id", "Time", "Something new"]
    layout = responses._layout(UNIT, 8, header, fields, primary=True)
    tail = names(layout.columns)[1 + len(fields) :]
    assert tail == ["source", "campaign_id", "time", None]
    assert layout.ignored == ("Something new",)
    assert "link_title" in {extra.property_name for extra in layout.missing}


@pytest.mark.parametrize(
    ("name", "header", "problem"),
    [
        (
            "contact_changes",
            ["First Name", "Last Name", "E-Mail"],
            "the first column must be user_id",
        ),
        ("contact_changes", ["user_id", "First Name"], "2 columns for user_id and 3"),
        (
            "contact_registrations",
            ["user_id", "First Name", "Last Name", "E-Mail"],
            "'last update'",
        ),
        ("email_responses", ["user_id", "First Name", "Last Name", "E-Mail", "Url"], "'source'"),
    ],
)
def test_a_header_that_cannot_fit_names_both_headers(
    tap: TapEmarsys, name: str, header: list[str], problem: str
) -> None:
    target = stream(tap, name)
    fields = target.field_groups()[0]
    with pytest.raises(CsvHeaderError) as caught:
        target._layout(UNIT, 9, header, fields, primary=True)
    message = str(caught.value)
    assert f"Stream '{name}', window test, export 9" in message
    assert problem in message
    assert f"received {','.join(header)!r}" in message
    assert "requested 'user_id,First Name,Last Name,E-Mail" in message
    assert "\n" not in message


def test_members_without_user_id_are_resolved_by_the_key_field(tap: TapEmarsys) -> None:
    members = stream(tap, "segment_members")
    fields = members.field_groups()[0]
    layout = members._layout(UNIT, 5, labels(fields), fields, primary=True)
    assert layout.resolver is not None and not layout.user_id
    assert layout.resolver.key_position == [f.id for f in fields].index(3)
    assert names(layout.columns)[0] == "contact_id"
    with_ids = members._layout(UNIT, 5, ["user_id", *labels(fields)], fields, primary=True)
    assert with_ids.resolver is None and with_ids.user_id


def test_a_member_export_without_user_id_or_key_field_cannot_fit(tap: TapEmarsys) -> None:
    members = stream(tap, "contact_list_members")
    fields = [field for field in members.field_groups()[0] if field.id != 3]
    with pytest.raises(CsvHeaderError, match="no column of member_key_field 3"):
        members._layout(UNIT, 5, labels(fields), fields, primary=True)


def test_member_exports_always_carry_the_key_field() -> None:
    with Sandbox(contacts=3, seed=1) as sb:
        config = sb.wsse_config(
            start_date="2026-03-15", contact_fields=[1, 2], member_key_field="first_name"
        )
        tap = TapEmarsys(config=config)
        members = stream(tap, "contact_list_members")
        assert [f.id for f in members.exported_fields] == [1, 2]
        config["member_key_field"] = 3
        members = stream(TapEmarsys(config=config), "contact_list_members")
        assert [f.id for f in members.exported_fields] == [1, 2, 3]
        assert "email" in members.schema["properties"]
        assert (
            "email" not in stream(TapEmarsys(config=config), "contact_changes").schema["properties"]
        )


def test_an_unknown_member_key_field_names_the_setting() -> None:
    with Sandbox(contacts=3, seed=1) as sb:
        config = sb.wsse_config(start_date="2026-03-15", member_key_field="nope")
        with pytest.raises(Exception, match="member_key_field") as caught:
            TapEmarsys(config=config)
        assert "nope" in str(caught.value)


def test_every_member_field_group_has_the_key_field() -> None:
    fields = [ContactField(i, f"F{i}", "shorttext", f"f{i}", f"f{i}") for i in range(1, 45)]
    key = fields[30]
    groups = field_groups(fields, 20, in_every_group=key)
    assert all(key in group and len(group) <= 20 for group in groups)
    assert groups[0][-1] == key
    flat = [field for group in groups for field in group if field != key]
    assert sorted(f.id for f in flat) == sorted(f.id for f in fields if f != key)
    assert field_groups(fields[:5], 20, in_every_group=key) == [fields[:5]]


def test_typer_refuses_a_row_without_a_key_value() -> None:
    typer = RecordTyper(
        [Column("contact_id", as_integer), Column("name", as_text), Column("stamp", as_text)],
        {"segment_id": 4},
        keys=["contact_id", "stamp", "segment_id"],
    )
    rows = [["1", "a", "x"], ["2", "", "y"], ["3", "c", ""]]
    records = typer.records(rows)
    assert next(records) == {"contact_id": 1, "name": "a", "stamp": "x", "segment_id": 4}
    assert next(records)["name"] is None
    with pytest.raises(CsvRowError) as caught:
        next(records)
    assert caught.value.row_number == 3
    assert "key property 'stamp'" in str(caught.value)


class StandInClient:
    """Answers `contact_ids` from a table, recording each batch asked."""

    def __init__(self, ids: dict[str, int], several: set[str]) -> None:
        self.ids, self.several = ids, several
        self.batches: list[list[str]] = []

    def contact_ids(self, key_id: int | str, key_values: list[str]) -> ContactIdsResult:
        assert key_id == 3
        self.batches.append(list(key_values))
        result = ContactIdsResult()
        for value in key_values:
            if value in self.several:
                result.errors[value] = ("2010", "More contacts found")
            elif value in self.ids:
                result.ids[value] = self.ids[value]
            else:
                result.errors[value] = ("2008", "No contact found")
        return result


def test_resolver_keeps_order_and_counts_rows_without_an_id() -> None:
    key = ContactField(3, "E-Mail", "longtext", "email", "email")
    client = StandInClient({"a@x": 11, "b@x": 12, "c@x": 13}, several={"d@x"})
    resolver = MemberIdResolver(client, key, 1, 2, batch_size=3)  # type: ignore[arg-type]
    rows = [["A", "a@x"], ["B", ""], ["C", "b@x"], ["D", "d@x"], ["E", "zz@x"], ["F", "c@x"]]
    rows.append(["G", "a@x"])
    assert list(resolver.rows(rows)) == [
        ["11", "A", "a@x"],
        ["12", "C", "b@x"],
        ["13", "F", "c@x"],
        ["11", "G", "a@x"],
    ]
    assert resolver.unresolved == {EMPTY_KEY: 1, SEVERAL: 1, NOT_FOUND: 1}
    assert client.batches == [["a@x", "b@x"], ["d@x", "zz@x", "c@x"], ["a@x"]]
    with pytest.raises(CsvRowError, match="data row 2: the CSV row has 1 fields"):
        list(resolver.rows([["A", "a@x"], ["B"]]))


def getdata_server(tiny_server: Callable[..., str], bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """A getdata endpoint: one contact per lower-cased address, two for `twice@x`."""
    people = {f"p{i}@x": str(100 + i) for i in range(1500)}

    def handler(request: Request) -> Response:
        body = json.loads(request.get_data())
        bodies.append(body)
        result, errors = [], []
        for value in body["keyValues"]:
            folded = value.lower()
            if folded == "twice@x":
                errors.append({"key": value, "errorCode": "2010", "errorMsg": "More contacts"})
            elif folded in people:
                result.append({"id": people[folded], "3": folded, "uid": "u"})
            else:
                errors.append({"key": value, "errorCode": "2008", "errorMsg": "No contact"})
        reply = {
            "replyCode": 0,
            "replyText": "OK",
            "data": {"errors": errors, "result": result or False},
        }
        headers = {
            "X-RateLimit-Limit": "1000",
            "X-Ratelimit-Remaining": "999",
            "X-RateLimit-Reset": str(int(time.time()) + 60),
        }
        return Response(json.dumps(reply), content_type="application/json", headers=headers)

    return {"base_url": tiny_server(handler), "username": "u", "secret": "s"}


def test_contact_ids_batches_by_1000_and_maps_folded_replies(
    tiny_server: Callable[..., str],
) -> None:
    bodies: list[dict[str, Any]] = []
    config = getdata_server(tiny_server, bodies)
    values = [f"p{i}@x" for i in range(1200)] + ["P5@X", "twice@x", "nobody@x", "p1@x"]
    with EmarsysClient(ClientSettings.from_config(config)) as client:
        result = client.contact_ids(3, values)
        assert client.contact_ids(3, ["nobody@x"]).errors == {"nobody@x": ("2008", "No contact")}
    assert [len(body["keyValues"]) for body in bodies[:2]] == [1000, 203]
    assert bodies[0]["keyId"] == "3" and bodies[0]["fields"] == ["3"]
    assert result.ids["p1199@x"] == 1299
    assert result.ids["P5@X"] == 105  # answered as p5@x by an account that folds case
    assert result.errors["twice@x"][0] == "2010"
    assert result.errors["nobody@x"][0] == "2008"
    assert len(result.ids) == 1201


def test_the_layout_is_told_once_and_label_differences_warn_once(
    tap: TapEmarsys, caplog: pytest.LogCaptureFixture
) -> None:
    changes = stream(tap, "contact_registrations")
    fields = changes.field_groups()[0]
    header = ["user_id", "Vorname", *labels(fields)[1:], "Last Update"]
    caplog.set_level(logging.INFO)
    for export_id in (1, 2):
        layout = changes._layout(UNIT, export_id, header, fields, primary=True)
        changes._tell_layout(UNIT, export_id, layout)
    infos = [r for r in caplog.records if "export layout is" in r.getMessage()]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(infos) == 1 and "with user_id; with 'last update'" in infos[0].getMessage()
    assert len(warnings) == 1
    assert "'Vorname' for 'First Name'" in warnings[0].getMessage()


class StandInRunner:
    """Hands out fixed CSV rows as if they were the export's download."""

    def __init__(self, rows: list[list[str]]) -> None:
        self._rows = rows

    def rows(self, label: str, request: object, export_id: int) -> Iterator[list[str]]:
        return iter([list(row) for row in self._rows])


def test_a_null_key_stops_the_stream_naming_row_and_property(tap: TapEmarsys) -> None:
    registrations = stream(tap, "contact_registrations")
    groups = registrations.field_groups()
    header = ["user_id", *labels(groups[0]), "last update"]
    rows = [header, ["1", "a", "b", "c", "2026-03-15 10:00:00"], ["2", "a", "b", "c", ""]]
    window = next(iter(registrations.units(None, groups)))
    records = registrations._unit_records(StandInRunner(rows), window, [42], groups)  # type: ignore[arg-type]
    assert next(records)["contact_id"] == 1
    with pytest.raises(ExportDataError) as caught:
        next(records)
    assert isinstance(caught.value, USER_ERRORS)  # the command prints it as one line, exit 1
    assert str(caught.value) == (
        f"Stream 'contact_registrations', {window.label}, export 42: data row 2: no value for "
        "key property 'last_update'; the export cannot be read"
    )


def test_changes_without_last_update_carry_a_null_last_update(tap: TapEmarsys) -> None:
    changes = stream(tap, "contact_changes")
    groups = changes.field_groups()
    rows = [["user_id", *labels(groups[0])], ["1", "a", "b", "c"]]
    window = next(iter(changes.units(None, groups)))
    records = list(changes._unit_records(StandInRunner(rows), window, [3], groups))  # type: ignore[arg-type]
    assert records == [
        {
            "contact_id": 1,
            "first_name": "a",
            "last_name": "b",
            "email": "c",
            "last_update": None,
            "window_start": "2026-03-14T23:00:00+00:00",
        }
    ]
