"""Contact upserts with a recording client: which contacts go into which request, in what order.

Over real HTTP against the sandbox: test_contacts_sandbox.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
import pytest

from emarsys_api import ContactsResult, ValidationError
from target_emarsys.errors import DestinationConfigError, InvalidRowError
from tests.helpers.recording_client import RecordingClient
from tests.helpers.target_run import record, schema

CONTACT = {
    "email": {"type": ["string", "null"]},
    "first_name": {"type": ["string", "null"]},
}
PEOPLE = {"people": {"type": "contacts", "key_field": "email"}}


def contacts_run(run_target: Any, client: RecordingClient | None = None, **config: Any) -> Any:
    return run_target({"stream_destinations": PEOPLE, **config}, client)


def person(email: str, name: str) -> dict[str, Any]:
    return record("people", email=email, first_name=name)


def sent_requests(client: RecordingClient) -> list[list[tuple[str, str]]]:
    """Each upsert request as (e-mail, first name) pairs."""
    return [[(c["3"], c["1"]) for c in contacts] for _, contacts in client.named("upsert_contacts")]


class OverlapClient(RecordingClient):
    """Notes every time two requests naming one folded e-mail are in flight together."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: dict[str, int] = {}
        self.overlaps: list[str] = []

    def upsert_contacts(
        self, key_id: str, contacts: list[dict[str, Any]], *, create_if_not_exists: bool = True
    ) -> ContactsResult:
        keys = [str(c["3"]).casefold() for c in contacts]
        with self.lock:
            for key in keys:
                if self.in_flight.get(key):
                    self.overlaps.append(key)
                self.in_flight[key] = self.in_flight.get(key, 0) + 1
        time.sleep(0.005)  # widens the window two racing requests would share
        try:
            return super().upsert_contacts(key_id, contacts)
        finally:
            with self.lock:
                for key in keys:
                    self.in_flight[key] -= 1


def test_identical_keys_merge_and_spellings_go_in_consecutive_requests(run_target: Any) -> None:
    run = contacts_run(run_target)
    run.feed(
        [
            schema("people", CONTACT, ["email"]),
            person("Ann@example.com", "v1"),
            person("ann@example.com", "v2"),
            person("bob@example.com", "v3"),
            person("Ann@example.com", "v4"),
            person("ANN@example.com", "v5"),
            person("ann@example.com", "v6"),
        ]
    )
    # Identical keys merge (last wins); the three spellings of Ann go in three requests, ordered
    # by their last records, so the very last record (v6) is written last.
    assert sent_requests(run.client) == [
        [("bob@example.com", "v3"), ("Ann@example.com", "v4")],
        [("ANN@example.com", "v5")],
        [("ann@example.com", "v6")],
    ]


def test_other_key_fields_are_compared_exactly(run_target: Any) -> None:
    props = {"first_name": {"type": "string"}, "email": {"type": ["string", "null"]}}
    destinations = {"people": {"type": "contacts", "key_field": "first_name"}}
    run = run_target({"stream_destinations": destinations})
    run.feed(
        [
            schema("people", props, ["first_name"]),
            record("people", first_name="Ann", email="a@example.com"),
            record("people", first_name="ANN", email="b@example.com"),
        ]
    )
    ((key_id, contacts),) = run.client.named("upsert_contacts")
    assert key_id == "1" and [c["1"] for c in contacts] == ["Ann", "ANN"]


def test_spellings_of_one_email_are_never_in_flight_at_once(run_target: Any) -> None:
    client = OverlapClient()
    run = contacts_run(run_target, client, batch_size_rows=1, max_parallel_requests=8)
    messages = [schema("people", CONTACT, ["email"])]
    for i in range(200):  # four people, their spelling changing every round
        spelling = f"user{i % 4}@example.com"
        messages.append(person(spelling.upper() if (i // 4) % 2 else spelling, f"v{i}"))
    run.feed(messages)
    assert client.overlaps == []
    last: dict[str, str] = {}
    for request in sent_requests(client):
        for email, name in request:
            last[email.casefold()] = name
    assert last == {f"user{k}@example.com": f"v{196 + k}" for k in range(4)}


def test_item_error_in_the_accounts_spelling_rejects_the_row(
    run_target: Any, tmp_path: Any
) -> None:
    client = RecordingClient()
    client.contact_errors = {"ann@example.com": [("2011", "Invalid email address.")]}
    path = tmp_path / "r.jsonl"
    run = contacts_run(run_target, client, on_record_error="log", rejected_rows_path=str(path))
    run.feed([schema("people", CONTACT, ["email"]), person("Ann@Example.com", "x")])
    assert "email='Ann@Example.com'" in path.read_text()


# Opt-in (field 31): only 1, 2 or null reach Emarsys

OPT_IN_FIELDS = [
    {"id": 1, "string_id": "first_name"},
    {"id": 3, "string_id": "email"},
    {"id": 31, "string_id": "optin"},
]
OPT_IN_CONTACT = {
    "email": {"type": "string"},
    "optin": {"type": ["boolean", "integer", "number", "string", "null"]},
}
OPTED_IN = [True, "true", "True", 1, "1"]
OPTED_OUT = [False, "false", "False", 2, "2", 0, "0"]
NOT_SET = [None, ""]
NOT_OPT_IN = ["yes", "TRUE", " 1", 1.0, 3, -1, "opted in"]


def test_opt_in_values_become_choice_ids(run_target: Any) -> None:
    values = OPTED_IN + OPTED_OUT + NOT_SET
    run = contacts_run(run_target, RecordingClient(OPT_IN_FIELDS))
    run.feed(
        [
            schema("people", OPT_IN_CONTACT, ["email"]),
            *[record("people", email=f"p{i}@example.com", optin=v) for i, v in enumerate(values)],
        ]
    )
    ((_, contacts),) = run.client.named("upsert_contacts")
    assert [c["31"] for c in contacts] == (
        [1] * len(OPTED_IN) + [2] * len(OPTED_OUT) + [None] * len(NOT_SET)
    )
    assert all(type(c["31"]) in (int, type(None)) for c in contacts)


@pytest.mark.parametrize("value", NOT_OPT_IN)
def test_other_opt_in_values_fail_naming_field_value_and_forms(run_target: Any, value: Any) -> None:
    run = contacts_run(run_target, RecordingClient(OPT_IN_FIELDS))
    with pytest.raises(InvalidRowError) as caught:
        run.feed(
            [
                schema("people", OPT_IN_CONTACT, ["email"]),
                record("people", email="a@example.com", optin=value),
            ]
        )
    message = str(caught.value)
    assert "email='a@example.com'" in message and "optin (31)" in message
    assert repr(value) in message and '"True"' in message and '"2"' in message
    assert run.client.named("upsert_contacts") == []


def test_other_opt_in_values_are_logged_and_the_rest_sent(run_target: Any, tmp_path: Any) -> None:
    path = tmp_path / "r.jsonl"
    client = RecordingClient(OPT_IN_FIELDS)
    run = contacts_run(run_target, client, on_record_error="log", rejected_rows_path=str(path))
    run.feed(
        [
            schema("people", OPT_IN_CONTACT, ["email"]),
            record("people", email="a@example.com", optin="yes"),
            record("people", email="b@example.com", optin="1"),
        ]
    )
    (kept,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert kept["key"] == "email='a@example.com'" and "'yes'" in kept["reason"]
    assert client.named("upsert_contacts") == [("3", [{"3": "b@example.com", "31": 1}])]


# Request size: at most 1000 contacts and under 8 MB per request; "too many" splits the request

BODY_LIMIT = 8_000_000  # the lower of the two readings of "8 MB"


class SmallLimitClient(RecordingClient):
    """Answers 400/1000 ("too many contacts") to requests of more than `most` contacts."""

    def __init__(self, most: int) -> None:
        super().__init__()
        self.most = most
        self.refused: list[int] = []

    def upsert_contacts(
        self, key_id: str, contacts: list[dict[str, Any]], *, create_if_not_exists: bool = True
    ) -> ContactsResult:
        if len(contacts) > self.most:
            with self.lock:
                self.refused.append(len(contacts))
            raise ValidationError(400, 1000, "Too many contacts", "PUT /api/v2/contact")
        return super().upsert_contacts(key_id, contacts)


def body_size(contacts: list[dict[str, Any]]) -> int:
    return len(msgspec.json.encode({"key_id": "3", "contacts": contacts}))


def test_requests_stay_under_8_mb(run_target: Any) -> None:
    names = [f"{i}ü" + "x" * 300_000 for i in range(40)]  # 12 MB in all
    run = contacts_run(run_target, max_parallel_requests=4)
    run.feed(
        [
            schema("people", CONTACT, ["email"]),
            *[person(f"p{i}@example.com", name) for i, name in enumerate(names)],
        ]
    )
    requests = run.client.named("upsert_contacts")
    assert len(requests) > 1
    assert all(body_size(contacts) < BODY_LIMIT for _, contacts in requests)
    assert [c["1"] for _, contacts in requests for c in contacts] == names


def test_a_contact_over_8_mb_alone_is_a_rejected_row(run_target: Any, tmp_path: Any) -> None:
    messages = [
        schema("people", CONTACT, ["email"]),
        person("a@example.com", "small"),
        person("big@example.com", "x" * 8_400_000),
        person("c@example.com", "small too"),
    ]
    with pytest.raises(InvalidRowError, match=r"email='big@example.com'.*at most 8 MB"):
        contacts_run(run_target).feed(messages)
    path = tmp_path / "r.jsonl"
    run = contacts_run(run_target, on_record_error="log", rejected_rows_path=str(path))
    run.feed(messages)
    assert [c["3"] for _, cs in run.client.named("upsert_contacts") for c in cs] == [
        "a@example.com",
        "c@example.com",
    ]
    assert json.loads(path.read_text())["key"] == "email='big@example.com'"


def test_too_many_contacts_splits_the_request_in_halves(run_target: Any) -> None:
    client = SmallLimitClient(most=300)
    run = contacts_run(run_target, client)
    emails = [f"p{i}@example.com" for i in range(1000)]
    run.feed([schema("people", CONTACT, ["email"]), *[person(e, "n") for e in emails]])
    assert client.refused == [1000, 500, 500]
    requests = client.named("upsert_contacts")
    assert [len(contacts) for _, contacts in requests] == [250, 250, 250, 250]
    assert [c["3"] for _, contacts in requests for c in contacts] == emails


@pytest.mark.parametrize(("name", "known"), [("3", True), ("١٢", False), ("²", False)])
def test_a_numeric_field_id_is_ascii_digits(run_target: Any, name: str, known: bool) -> None:
    """`str.isdigit` alone took "١٢" for a field id and sent it to Emarsys as one."""
    run = contacts_run(run_target, RecordingClient(OPT_IN_FIELDS))
    messages = [
        schema("people", {"email": {"type": "string"}, name: {"type": "string"}}, ["email"]),
        record("people", email="p@example.com", **{name: "x"}),
    ]
    if known:
        run.feed(messages)
        ((_, contacts),) = run.client.named("upsert_contacts")
        assert contacts[0][name] == "x"
        return
    with pytest.raises(DestinationConfigError, match=f"propert.* {name} match no contact field"):
        run.feed(messages)
