"""Contact upserts over real HTTP against the sandbox, compared with its final contact state.

Covers the documented contact limits and the undocumented e-mail case question
(docs/emarsys-api.md §12.9): whichever way the account matches e-mail keys, the last record
per contact wins and nothing is lost.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

import emarsys_sandbox.backend
from emarsys_sandbox import Sandbox
from tests.helpers.target_run import contacts_config, record, run, schema, writes

CONTACT = {"email": {"type": "string"}, "first_name": {"type": ["string", "null"]}}


@pytest.fixture(params=[True, False], ids=["folds-case", "exact-case"])
def sb(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A sandbox whose e-mail keys match without regard to case, or exactly."""
    with Sandbox(contacts=5, seed=11, email_keys_fold_case=request.param) as sandbox:
        yield sandbox


def spellings(k: int) -> list[str]:
    return [f"person-{k}@example.net", f"Person-{k}@Example.net", f"PERSON-{k}@EXAMPLE.NET"]


def puts(sb: Sandbox) -> list[dict[str, Any]]:
    return [r for r in writes(sb) if r["path"].endswith("/contact")]


def test_the_last_record_per_contact_wins_under_either_reading(sb: Sandbox) -> None:
    """600 people, each written twice in two spellings of one e-mail, 4 requests in flight.

    Each batch holds the first spelling of 12 people and the second spelling of the 12
    before them, so no two neighbouring batches share an exact key: with each request holding
    only exact keys, the second write raced the first, and on a case-folding account about
    one update in ten was lost (the run exited 0).
    """
    rng = random.Random(5)
    people = 600
    first = {k: rng.randrange(3) for k in range(people)}
    sent: list[tuple[str, str]] = []
    for block in range(people // 12 + 1):
        for k in range(block * 12, min(people, block * 12 + 12)):
            sent.append((spellings(k)[first[k]], f"{k}: first"))
        for k in range(max(0, block * 12 - 12), min(people, block * 12)):
            sent.append((spellings(k)[(first[k] + 1) % 3], f"{k}: second"))
    sb.faults.update(latency=0.002)  # a little time in flight, as on a real network
    run(
        sb,
        contacts_config(batch_size_rows=24),
        [
            schema("people", CONTACT, ["email"]),
            *[record("people", email=e, first_name=n) for e, n in sent],
        ],
    )
    state = sb.contact_state()
    last: dict[str, Any]
    got: dict[str, Any]
    if sb.backend.account.email_keys_fold_case:
        last = {email.casefold(): (email, name) for email, name in sent}
        got = {fields["3"].casefold(): (fields["3"], fields["1"]) for fields in state.values()}
    else:
        last = {email: name for email, name in sent}
        got = {fields["3"]: fields["1"] for fields in state.values()}
    assert len(state) == len(last)  # one contact per person (folding) or per spelling (exact)
    assert got == last
    assert all(r["status"] == 200 for r in puts(sb))


def test_opt_in_values_arrive_as_choice_ids(sb: Sandbox) -> None:
    """The sandbox refuses opt-in values other than 1, 2 or empty, as Emarsys does."""
    forms = [True, "true", "True", 1, "1", False, "false", "False", 0, "0", 2, "2", None, ""]
    want = [1] * 5 + [2] * 7 + [None] * 2
    props = {**CONTACT, "optin": {"type": ["boolean", "integer", "string", "null"]}}
    messages = [
        record("people", email=f"p-{i}@example.net", optin=value) for i, value in enumerate(forms)
    ]
    run(sb, contacts_config(), [schema("people", props, ["email"]), *messages])
    by_email = {fields["3"]: fields.get("31") for fields in sb.contact_state().values()}
    assert by_email == {f"p-{i}@example.net": value for i, value in enumerate(want)}


def test_contacts_over_8_mb_go_in_several_requests(sb: Sandbox) -> None:
    names = [f"{i}-" + "ü" * 150_000 for i in range(40)]  # 300 kB each as UTF-8: 12 MB in all
    run(
        sb,
        contacts_config(),
        [
            schema("people", CONTACT, ["email"]),
            *[
                record("people", email=f"big-{i}@example.net", first_name=n)
                for i, n in enumerate(names)
            ],
        ],
    )
    state = sb.contact_state()
    assert sorted(fields["1"] for fields in state.values()) == sorted(names)
    requests = puts(sb)
    assert len(requests) >= 2 and all(r["status"] == 200 for r in requests)


def test_too_many_contacts_is_split_until_emarsys_takes_it(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account counting its limit lower than documented: 400/1000 halves the request."""
    monkeypatch.setattr(emarsys_sandbox.backend, "MAX_CONTACTS_PER_REQUEST", 150)
    emails = [f"many-{i}@example.net" for i in range(1000)]
    run(
        sb,
        contacts_config(),
        [
            schema("people", CONTACT, ["email"]),
            *[record("people", email=e, first_name=e) for e in emails],
        ],
    )
    state = sb.contact_state()
    assert sorted(fields["3"] for fields in state.values()) == sorted(emails)
    assert all(fields["1"] == fields["3"] for fields in state.values())
    statuses = [r["status"] for r in puts(sb)]
    assert statuses.count(400) == 1 + 2 + 4  # 1000, then 500 twice, then 250 four times
    assert statuses.count(200) == 8  # eight requests of 125
