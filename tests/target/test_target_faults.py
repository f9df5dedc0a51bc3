"""target-emarsys writing through faults: the destination equals the source, nothing twice.

A 5xx or 429 answer means nothing was stored, and the client resends. A connection reset after
the sandbox stored a batch (`reset_after_store_every`) is the hard case: the client cannot know
the batch arrived and resends it. Upserts and contact upserts are idempotent, so the resend is
harmless; an insert (`append-only`) is insert-ignore on the table's key, so the resent rows are
skipped (and counted as skipped); behavior events have no key and are stored twice (the README
says so). The SIGKILL-and-rerun cell is test_target_kill.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emarsys_api import ClientSettings, EmarsysClient, NetworkError
from emarsys_sandbox import Sandbox
from target_emarsys.target import TargetEmarsys
from tests.helpers.target_run import (
    PURCHASE,
    lines,
    purchase,
    purchases_sandbox,
    record,
    schema,
    state,
)

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

TOTAL = 1500
#: written rows compared with the source over the module (reported in the README)
COMPARED = {"records": 0, "scenarios": 0}
CONTACT = {"email": {"type": "string"}, "first_name": {"type": ["string", "null"]}}
EVENT = {
    "campaign_id": {"type": "integer"},
    "message_id": {"type": "integer"},
    "contact_id": {"type": "integer"},
    "event_time": {"type": "string"},
}


@pytest.fixture
def sb(shm_dir: Path) -> Iterator[Sandbox]:
    with purchases_sandbox(shm_dir, contacts=10, seed=4) as sandbox:
        yield sandbox


@pytest.fixture
def shm_dir(tmp_path: Path) -> Iterator[Path]:
    """tmpfs when there is one: the sandbox commits every RDS write (see tests/target)."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(dir=shm))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_target(sb: Sandbox, auth: str, config: dict[str, Any], messages: list[Any]) -> list[Any]:
    """Run the target in-process; returns the STATE values it emitted."""
    settings = {
        "rds_connection": "demo",
        "batch_size_rows": 100,
        "customer_id": "123",
        "stream_destinations": {
            "people": {"type": "contacts", "key_field": "email"},
            "opens": {
                "type": "behavior",
                "provider": "p",
                "channel": "email",
                "campaign_type": "txn",
                "event_type": "open",
            },
        },
        **config,
    }
    full = sb.oauth_config(**settings) if auth == "oauth2" else sb.wsse_config(**settings)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TargetEmarsys(config=full).listen(io.StringIO(lines(messages)))
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def purchases_input() -> list[Any]:
    out: list[Any] = [schema("purchases", PURCHASE, ["order_id"])]
    for i in range(TOTAL):
        out.append(record("purchases", **purchase(i)))
        if i % 250 == 249:
            out.append(state({"through": i}))
    return out


def assert_purchases_exact(sb: Sandbox) -> None:
    rows = sb.rds_rows("demo", "purchases")
    assert sorted(row["order_id"] for row in rows) == list(range(TOTAL))  # none lost, none twice
    for row in rows:
        expected = purchase(row["order_id"])
        assert row["note"] == expected["note"]
        assert row["contact_id"] == expected["contact_id"]
    COMPARED["records"] += TOTAL
    COMPARED["scenarios"] += 1


FAULTS = [
    pytest.param({"error_rate": 0.1}, id="5xx-10pct"),
    pytest.param({"burst_429": 3}, id="429-burst"),
    pytest.param({"reset_after_store_every": 3}, id="reset-after-store"),
    pytest.param(
        {"error_rate": 0.05, "burst_429": 2, "reset_after_store_every": 4, "latency": 0.002},
        id="all-at-once",
    ),
]


@pytest.mark.parametrize("faults", FAULTS)
@pytest.mark.parametrize(("load_method", "auth"), [("upsert", "oauth2"), ("append-only", "wsse")])
def test_relational_writes_survive(
    sb: Sandbox, faults: dict[str, Any], load_method: str, auth: str
) -> None:
    sb.faults.update(**faults)
    states = run_target(sb, auth, {"load_method": load_method}, purchases_input())
    sb.faults.reset()
    assert states[-1] == {"through": TOTAL - 1}
    assert_purchases_exact(sb)
    log = sb.request_log()
    if faults.get("reset_after_store_every"):
        # the same batch reached the sandbox twice (stored, reply lost, resent)
        writes = [e for e in log if e["method"] == "POST" and "/records" in e["path"]]
        assert len(writes) > TOTAL // 100


def test_contacts_survive_a_reset_after_store(sb: Sandbox) -> None:
    sb.faults.update(reset_after_store_every=2, error_rate=0.05)
    people = [schema("people", CONTACT, ["email"])]
    people += [
        record("people", email=f"p{i}@example.com", first_name=f"Zoë {i}") for i in range(300)
    ]
    people.append(state({"people": 299}))
    assert run_target(sb, "wsse", {}, people)[-1] == {"people": 299}
    created = sorted(w["key_value"] for w in sb.contacts_written() if w["created"])
    assert created == sorted(f"p{i}@example.com" for i in range(300))  # each created once
    COMPARED["records"] += 300
    COMPARED["scenarios"] += 1


def test_contact_spellings_under_faults_end_with_the_last_record() -> None:
    """A case-folding account, each person written in two spellings, replies lost and 5xx:
    resends and retries never let the earlier spelling's write land after the later one."""
    messages: list[Any] = [schema("people", CONTACT, ["email"])]
    for block in range(26):
        for k in range(block * 10, min(250, block * 10 + 10)):
            messages.append(record("people", email=f"q-{k}@example.net", first_name="first"))
        for k in range(max(0, block * 10 - 10), min(250, block * 10)):
            messages.append(record("people", email=f"Q-{k}@Example.NET", first_name="second"))
    with Sandbox(contacts=5, seed=4, email_keys_fold_case=True) as folding:
        folding.faults.update(reset_after_store_every=3, error_rate=0.05, latency=0.002)
        run_target(folding, "wsse", {"batch_size_rows": 20}, messages)
        folding.faults.reset()
        state = folding.contact_state()
    assert len(state) == 250
    assert {fields["3"]: fields["1"] for fields in state.values()} == {
        f"Q-{k}@Example.NET": "second" for k in range(250)
    }
    COMPARED["records"] += 500
    COMPARED["scenarios"] += 1


def test_behavior_events_are_stored_twice_after_a_reset(sb: Sandbox) -> None:
    """The documented risk: behavior events carry no key, so a resent batch is stored again."""
    sb.faults.update(reset_after_store_every=2)
    events = [schema("opens", EVENT)]
    events += [
        record(
            "opens", campaign_id=1, message_id=i, contact_id=i, event_time="2026-04-01T10:00:00Z"
        )
        for i in range(250)
    ]
    run_target(sb, "wsse", {}, events)
    stored = [int(e["message_id"]) for e in sb.behavior_events()]
    assert set(stored) == set(range(250))  # nothing lost
    assert len(stored) > 250  # but the batch whose reply was lost is there twice
    COMPARED["scenarios"] += 1


def test_why_a_resent_insert_is_safe(sb: Sandbox) -> None:
    """Insert-ignore, step by step: the lost reply's batch is stored once, the resend inserts 0."""
    client = EmarsysClient(ClientSettings.from_config(sb.wsse_config()))
    sb.faults.update(reset_after_store_every=1)
    rows = [purchase(i) for i in range(5)]
    with pytest.raises(NetworkError):  # every attempt stored, every reply lost
        EmarsysClient(ClientSettings.from_config(sb.wsse_config(max_retries=0))).rds_insert(
            "demo", "purchases", rows
        )
    sb.faults.reset()
    assert sorted(r["order_id"] for r in sb.rds_rows("demo", "purchases")) == list(range(5))
    assert client.rds_insert("demo", "purchases", rows) == 0  # the resend: all 5 skipped
    assert client.rds_insert("demo", "purchases", [*rows, purchase(5)]) == 1
    assert sorted(r["order_id"] for r in sb.rds_rows("demo", "purchases")) == list(range(6))


def test_report_counts() -> None:
    """Prints the module's totals for the README table (runs last in file order)."""
    print(f"\ntarget fault matrix: {COMPARED['scenarios']} scenarios, {COMPARED['records']} rows")
