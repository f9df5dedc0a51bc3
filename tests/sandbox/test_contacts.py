"""Contacts over HTTP: getdata (§6.4), write limits (§12.9), e-mail case, memberships, exports.

Each test speaks HTTP to a sandbox with the test-only client of `conftest` and compares what
the API answers with the sandbox's ground truth (`expected_export`, `contact_state`).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from emarsys_sandbox import Sandbox
from tests.helpers.sandbox_http import Api, parse_csv

MEMBERS = {"distribution_method": "local", "contactlist": 101, "contact_fields": [1, 3, 14, 31]}


def put_contacts(api: Api, contacts: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    reply = api.request("PUT", "contact", params=params, json={"key_id": "3", "contacts": contacts})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["replyCode"] == 0
    data: dict[str, Any] = body["data"]
    return data


def getdata(api: Api, keys: list[Any], fields: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"keyId": "3", "keyValues": keys}
    if fields is not None:
        body["fields"] = fields
    reply = api.post("contact/getdata", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["replyCode"] == 0
    data: dict[str, Any] = reply.json()["data"]
    return data


def export_rows(api: Api, export_type: str, body: dict[str, Any]) -> list[dict[str, str]]:
    """A downloaded export as dicts keyed by its header labels."""
    rows = parse_csv(api.download(api.export(export_type, body)).text)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def emails(sb: Sandbox, count: int, *, where: Any = None) -> list[tuple[int, str]]:
    """(contact id, e-mail) of the first `count` synthetic contacts with an e-mail."""
    account = sb.backend.account
    found: list[tuple[int, str]] = []
    for i in range(account.total_contacts):
        email = account.contact_value(3, i)
        if email and (where is None or where(i)):
            found.append((account.contact_id(i), email))
        if len(found) == count:
            break
    return found


# --- contact/getdata ---------------------------------------------------------------------


@pytest.mark.parametrize("oauth", [False, True])
def test_getdata_finds_synthetic_and_written_contacts(sandbox: Sandbox, oauth: bool) -> None:
    api = Api(sandbox, oauth=oauth)
    (first, email_a), (second, email_b) = emails(sandbox, 2)
    written = put_contacts(
        api, [{"3": "new.person@example.net", "1": "Neu", "31": 1}], create_if_not_exists=1
    )["ids"][0]
    data = getdata(
        api, [email_a, "new.person@example.net", "nobody@example.com", email_b], [1, 3, 31]
    )
    truth = {r["user_id"]: r for r in sandbox.expected_export("email/getcontacts", MEMBERS)}
    opt_in = {"True": "1", "False": "2", None: None}
    assert [r["id"] for r in data["result"]] == [str(first), written, str(second)]
    synthetic = [r for r in data["result"] if r["id"] != written]
    for record in synthetic:
        row = truth[int(record["id"])]
        assert record["1"] == row["First Name"] and record["3"] == row["E-Mail"]
        assert record["31"] == opt_in[row["Opt-In"]]
        assert isinstance(record["uid"], str) and record["uid"]
    new = next(r for r in data["result"] if r["id"] == written)
    assert (new["1"], new["3"], new["31"]) == ("Neu", "new.person@example.net", "1")
    assert data["errors"] == [
        {
            "key": "nobody@example.com",
            "errorCode": "2008",
            "errorMsg": "No contact found with the external id: 3",
        }
    ]


def test_getdata_result_is_false_when_every_key_fails(api: Api) -> None:
    data = getdata(api, ["ghost@example.com", ""])
    assert data["result"] is False
    assert [e["errorCode"] for e in data["errors"]] == ["2008", "2005"]
    assert all(isinstance(e["errorCode"], str) for e in data["errors"])


def test_getdata_two_contacts_with_one_email_is_2010(sandbox: Sandbox, api: Api) -> None:
    ((_, email),) = emails(sandbox, 1)
    # a second contact, keyed by first name, carrying the synthetic contact's e-mail
    reply = api.request(
        "PUT",
        "contact",
        params={"create_if_not_exists": 1},
        json={"key_id": "1", "contacts": [{"1": "Doppel", "3": email}]},
    )
    assert reply.json()["data"]["errors"] == {}
    data = getdata(api, [email])
    assert data["result"] is False
    assert data["errors"] == [
        {
            "key": email,
            "errorCode": "2010",
            "errorMsg": "More contacts found with the external id: 3",
        }
    ]
    written = put_contacts(api, [{"3": email, "2": "Wer?"}])
    assert written["ids"] == [] and list(written["errors"][email]) == ["2010"]


def test_getdata_limits_and_bad_bodies(api: Api) -> None:
    too_many = api.post(
        "contact/getdata", json={"keyId": "3", "keyValues": [f"k{i}@x.at" for i in range(1001)]}
    )
    assert too_many.status_code == 400 and too_many.json()["replyCode"] == 1000
    for body, text in [
        ({"keyValues": []}, "Missing parameter: keyId"),
        ({"keyId": "3", "keyValues": "a@b.cd"}, "keyValues"),
        ({"keyId": "3", "keyValues": [], "fields": [99999]}, "Invalid field id: 99999"),
    ]:
        reply = api.post("contact/getdata", json=body)
        assert reply.status_code == 400 and text in reply.json()["replyText"], reply.text
    assert getdata(api, [f"k{i}@x.at" for i in range(1000)])["result"] is False


# --- e-mail keys and case --------------------------------------------------------------------


def test_email_keys_match_exactly_by_default(sandbox: Sandbox, api: Api) -> None:
    ((cid, email),) = emails(sandbox, 1)
    shouted = email.upper()
    assert getdata(api, [shouted])["errors"][0]["errorCode"] == "2008"
    missing = put_contacts(api, [{"3": shouted, "1": "Laut"}])
    assert list(missing["errors"][shouted]) == ["2008"]
    created = put_contacts(api, [{"3": shouted, "1": "Laut"}], create_if_not_exists=1)
    assert created["ids"] and created["ids"][0] != str(cid)
    assert sandbox.contacts_written()[-1]["created"] is True
    assert cid not in sandbox.contact_state()


def test_email_keys_fold_case_updates_the_existing_contact(make_sandbox: Any) -> None:
    sb = make_sandbox(contacts=50, email_keys_fold_case=True)
    api = Api(sb)
    ((cid, email),) = emails(sb, 1)
    local, domain = email.split("@")
    mixed = f"{local.capitalize()}@{domain.upper()}"
    assert mixed != email
    written = put_contacts(api, [{"3": mixed, "1": "Gefaltet"}], create_if_not_exists=1)
    assert written == {"ids": [str(cid)], "errors": {}}
    assert sb.contacts_written()[-1] | {"fields": None} == {
        "id": cid,
        "key_id": "3",
        "key_value": mixed,
        "fields": None,
        "created": False,
    }
    assert sb.contact_state() == {cid: {"3": mixed, "1": "Gefaltet"}}
    (record,) = getdata(api, [email.upper()], [1, 3])["result"]
    assert record == {"id": str(cid), "uid": record["uid"], "1": "Gefaltet", "3": mixed}
    # a new contact written in one case is found in another
    new_id = put_contacts(api, [{"3": "Neu@Example.NET"}], create_if_not_exists=1)["ids"][0]
    again = put_contacts(api, [{"3": "neu@example.net", "2": "Zwei"}])
    assert again["ids"] == [new_id]
    assert sb.contact_state()[int(new_id)] == {"3": "neu@example.net", "2": "Zwei"}
    row = next(
        r for r in export_rows(api, "email/getcontacts", MEMBERS) if r["user_id"] == str(cid)
    )
    assert (row["First Name"], row["E-Mail"]) == ("Gefaltet", mixed)


def test_contact_state_keeps_the_last_write_per_field(sandbox: Sandbox, api: Api) -> None:
    ((cid, email),) = emails(sandbox, 1)
    put_contacts(api, [{"3": email, "1": "Erst", "2": "Eins"}, {"3": email, "1": "Dann"}])
    put_contacts(api, [{"3": email, "2": None}])
    assert sandbox.contact_state()[cid] == {"3": email, "1": "Dann", "2": None}
    assert [w["id"] for w in sandbox.contacts_written()] == [cid, cid, cid]
    over_http = requests.get(sandbox.base_url + "/_sandbox/contact_state", timeout=10).json()
    assert over_http[str(cid)] == {"3": email, "1": "Dann", "2": None}


# --- documented limits of PUT /contact ---------------------------------------------------


def test_more_than_1000_contacts_is_400_1000(api: Api, sandbox: Sandbox) -> None:
    body = {"key_id": "3", "contacts": [{"3": f"a{i}@b.cd"} for i in range(1001)]}
    reply = api.request("PUT", "contact", params={"create_if_not_exists": 1}, json=body)
    assert reply.status_code == 400
    assert reply.json()["replyCode"] == 1000 and "1001" in reply.json()["replyText"]
    body["contacts"] = body["contacts"][:1000]
    accepted = api.request("PUT", "contact", params={"create_if_not_exists": 1}, json=body)
    assert accepted.status_code == 200 and len(accepted.json()["data"]["ids"]) == 1000


def test_a_body_over_8_mb_is_400_and_stores_nothing(api: Api, sandbox: Sandbox) -> None:
    note = "x" * 9000
    body = {"key_id": "3", "contacts": [{"3": f"n{i}@b.cd", "1003": note} for i in range(1000)]}
    reply = api.request("PUT", "contact", params={"create_if_not_exists": 1}, json=body)
    assert reply.status_code == 400
    assert reply.json()["replyCode"] == 1000 and "8388608" in reply.json()["replyText"]
    assert sandbox.contacts_written() == []
    body["contacts"] = body["contacts"][:900]  # ~8.1 MB decimal, under 8 MiB
    assert api.request("PUT", "contact", params={"create_if_not_exists": 1}, json=body).ok


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        *[(v, True) for v in (1, 2, "1", "2", None, "")],
        *[(v, False) for v in (3, 0, "true", True, "True", 1.5)],
    ],
)
def test_opt_in_takes_1_2_or_empty(api: Api, sandbox: Sandbox, value: Any, accepted: bool) -> None:
    data = put_contacts(api, [{"3": "opt@example.com", "31": value}], create_if_not_exists=1)
    if accepted:
        assert data["errors"] == {} and len(data["ids"]) == 1
        return
    assert data["ids"] == []
    ((code, text),) = data["errors"]["opt@example.com"].items()
    assert code == "2012" and "31" in text and repr(value) in text
    assert sandbox.contacts_written() == []


# --- memberships and segments follow writes ------------------------------------------------


def test_removed_member_leaves_later_exports(sandbox: Sandbox, api: Api) -> None:
    list_body = {"distribution_method": "local", "contactlist": 102, "contact_fields": [1]}
    before = [r["user_id"] for r in export_rows(api, "email/getcontacts", list_body)]
    gone = int(before[3])
    sandbox.remove_member(102, gone)
    after = [r["user_id"] for r in export_rows(api, "email/getcontacts", list_body)]
    assert after == [u for u in before if u != str(gone)]
    assert [
        str(r["user_id"]) for r in sandbox.expected_export("email/getcontacts", list_body)
    ] == after
    # over HTTP: out of segment 201, into the empty segment 203
    segment = {"distribution_method": "local", "filter": 201, "contact_fields": [3]}
    opted = [r["user_id"] for r in export_rows(api, "export/filter", segment)]
    target = int(opted[0])
    control = sandbox.base_url + "/_sandbox/membership"
    for change in (
        {"audience_id": 201, "contact_id": target, "member": False},
        {"audience_id": 203, "contact_id": target, "member": True},
    ):
        assert requests.post(control, json=change, timeout=10).status_code == 200
    assert [r["user_id"] for r in export_rows(api, "export/filter", segment)] == opted[1:]
    nobody = {**segment, "filter": 203}
    assert [r["user_id"] for r in export_rows(api, "export/filter", nobody)] == [str(target)]
    assert sandbox.expected_export("export/filter", nobody)[0]["user_id"] == target
    # registrations filtered by a contact list follow it too
    regs = {
        "distribution_method": "local",
        "time_range": ["2026-03-15", "2026-04-13"],
        "contact_fields": [1],
        "contactlist": 102,
    }
    assert str(gone) not in {
        r["user_id"] for r in export_rows(api, "contact/getregistrations", regs)
    }


def test_membership_control_refuses_unknown_audiences_and_contacts(sandbox: Sandbox) -> None:
    control = sandbox.base_url + "/_sandbox/membership"
    for body, text in [
        ({"audience_id": 999, "contact_id": 1_000_001}, "999"),
        ({"audience_id": 101, "contact_id": 5}, "5"),
        ({"audience_id": "101", "contact_id": 1_000_001}, "audience_id"),
    ]:
        reply = requests.post(control, json=body, timeout=10)
        assert reply.status_code == 400 and text in reply.json()["replyText"], reply.text


def test_writes_change_exports_and_segment_membership(sandbox: Sandbox, api: Api) -> None:
    account = sandbox.backend.account
    segment = {"distribution_method": "local", "filter": 201, "contact_fields": [3, 31]}
    austria = {"distribution_method": "local", "filter": 202, "contact_fields": [3, 14]}
    opted = export_rows(api, "export/filter", segment)
    leaving = next(r for r in opted if r["E-Mail"])
    (joining,) = emails(
        sandbox,
        1,
        where=lambda i: (
            account.contact_value(14, i) not in ("Austria", None)
            and account.contact_value(31, i) != "True"
        ),
    )
    written = put_contacts(
        api,
        [
            {"3": leaving["E-Mail"], "31": 2, "1": "Jetzt; abgemeldet"},
            {"3": joining[1], "14": "Austria", "31": "1"},
        ],
    )
    assert written["errors"] == {}
    after = export_rows(api, "export/filter", segment)
    assert leaving["user_id"] not in {r["user_id"] for r in after}
    assert str(joining[0]) in {r["user_id"] for r in after}
    assert len(after) == len(opted)
    austrians = {r["user_id"]: r for r in export_rows(api, "export/filter", austria)}
    assert austrians[str(joining[0])]["Country"] == "Austria"
    everyone = {r["user_id"]: r for r in export_rows(api, "email/getcontacts", MEMBERS)}
    assert everyone[leaving["user_id"]]["Opt-In"] == "False"
    assert everyone[leaving["user_id"]]["First Name"] == "Jetzt; abgemeldet"
    truth = {str(r["user_id"]): r for r in sandbox.expected_export("email/getcontacts", MEMBERS)}
    assert truth[leaving["user_id"]]["Opt-In"] == "False"
    assert {str(r["user_id"]) for r in sandbox.expected_export("export/filter", segment)} == {
        r["user_id"] for r in after
    }
    assert [
        {k: v or None for k, v in everyone[u].items() if k != "user_id"} for u in sorted(everyone)
    ] == [{k: v for k, v in truth[u].items() if k != "user_id"} for u in sorted(truth)]


def test_written_values_are_typed_like_the_field(sandbox: Sandbox, api: Api) -> None:
    ((cid, email),) = emails(sandbox, 1)
    bad = put_contacts(api, [{"3": email, "1000": "viele"}, {"3": "x@y.at", "4": "1.2.1990"}])
    assert [list(e) for e in bad["errors"].values()] == [["2012"], ["2012"]]
    put_contacts(api, [{"3": email, "1000": "12.5", "4": "1990-02-01", "1001": None}])
    body = {"distribution_method": "local", "contactlist": 101, "contact_fields": [4, 1000, 1001]}
    row = next(r for r in export_rows(api, "email/getcontacts", body) if r["user_id"] == str(cid))
    assert (row["Date of Birth"], row["Loyalty Points"], row["Last Purchase"]) == (
        "1990-02-01",
        "12.5",
        "",
    )


# --- permissions (OAuth2) ------------------------------------------------------------------

EXPORT = {"distribution_method": "local", "contactlist": 101, "contact_fields": [1]}
HDS = (
    "/api/hds/events/customers/987654321/events/providers/sendkit/channels/email"
    "/campaign_types/txn/event_types/send"
)
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("settings", "GET", "settings", None),
    ("fields", "GET", "field", None),
    ("fields", "GET", "field/translate/de", None),
    ("contacts", "PUT", "contact", {"key_id": "3", "contacts": []}),
    ("contacts", "POST", "contact/getdata", {"keyId": "3", "keyValues": []}),
    ("contact_lists", "GET", "contactlist", None),
    ("segments", "GET", "filter", None),
    ("email_campaigns", "GET", "email/", None),
    ("email_campaigns", "POST", "email/getlaunchesofemail", {"emailId": 5001}),
    ("email_campaigns", "POST", "email/getdeliverystatus", {"emailId": 5001}),
    ("email_campaigns", "GET", "email/1/responses", None),
    ("exports", "POST", "email/getcontacts", EXPORT),
    ("exports", "GET", "export/1", None),
    ("exports", "GET", "export/1/data", None),
    ("relational_data", "GET", "/api/rds/connections/demo/tables/t/records", None),
    ("relational_data", "POST", "/api/rds/v1/connections/demo/tables/t/records/upsert", []),
    ("behavior_data", "POST", HDS, None),
]


def test_denied_permissions_answer_403_without_reply_code(make_sandbox: Any) -> None:
    everything = {permission for permission, *_ in ENDPOINTS}
    sb = make_sandbox(contacts=20, denied_permissions=frozenset(everything))
    oauth, wsse = Api(sb, oauth=True), Api(sb)
    for permission, method, path, body in ENDPOINTS:
        reply = oauth.request(method, path, json=body)
        assert reply.status_code == 403, (path, reply.text)
        assert "replyCode" not in reply.json() and reply.json()["error"] == "forbidden"
        assert permission in reply.json()["error_description"]
        assert wsse.request(method, path, json=body).status_code != 403, path


@pytest.mark.parametrize("denied", ["exports", "segments"])
def test_one_denied_permission_leaves_the_others(make_sandbox: Any, denied: str) -> None:
    sb = make_sandbox(contacts=20, denied_permissions=(denied,))
    oauth = Api(sb, oauth=True)
    for permission, method, path, body in ENDPOINTS:
        reply = oauth.request(method, path, json=body)
        assert (reply.status_code == 403) == (permission == denied), (path, reply.text)


def test_unknown_permission_names_fail_at_start() -> None:
    with pytest.raises(ValueError, match="exportz"):
        Sandbox(contacts=5, denied_permissions=("exportz",))
