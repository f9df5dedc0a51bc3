"""`emarsys-sandbox serve` flags for contacts, permissions and typed RDS tables, over HTTP."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emarsys_sandbox.cli import build_parser
from emarsys_sandbox.options import parse_rds_table, serve_keywords
from emarsys_sandbox.process import SandboxProcess
from tests.helpers.sandbox_http import wsse_header


def test_rds_table_flag_declares_column_types() -> None:
    spec = "shop.orders:id*:int,amount:decimal(10,2),at:DateTime,note,vip:tinyint"
    assert parse_rds_table(spec) == (
        "shop",
        "orders",
        {
            "columns": ["id", "amount", "at", "note", "vip"],
            "primary_key": ["id"],
            "types": {"id": "int", "amount": "decimal(10,2)", "at": "datetime", "vip": "tinyint"},
        },
    )
    assert "types" not in parse_rds_table("shop.plain:id*,name")[2]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown RDS column type 'blob'"):
        parse_rds_table("shop.t:id*:blob")


def test_contact_and_permission_flags_parse() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--email-keys-fold-case",
            "--deny-permission",
            "exports",
            "--deny-permission",
            "behavior_data",
        ]
    )
    chosen = serve_keywords(args)
    assert chosen["email_keys_fold_case"] is True
    assert chosen["denied_permissions"] == frozenset({"exports", "behavior_data"})
    defaults = serve_keywords(build_parser().parse_args(["serve"]))
    assert defaults["email_keys_fold_case"] is False
    assert defaults["denied_permissions"] == frozenset()


@pytest.fixture
def served() -> Iterator[dict[str, Any]]:
    with SandboxProcess(
        *["--contacts", "30", "--email-keys-fold-case", "--deny-permission", "settings"],
        *["--rds-table", "shop.t:id*:int,at:datetime"],
    ) as process:
        yield process.credentials
    assert process.returncode == 0


def test_served_sandbox_plays_the_flags(served: dict[str, Any]) -> None:
    base = served["base_url"]

    def wsse() -> dict[str, str]:
        return {"X-WSSE": wsse_header(served["username"], served["secret"])}

    token = requests.post(
        served["token_url"],
        auth=(served["client_id"], served["client_secret"]),
        data={"grant_type": "client_credentials"},
        timeout=10,
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    denied = requests.get(f"{base}/api/v3/settings", headers=bearer, timeout=10)
    assert denied.status_code == 403 and "replyCode" not in denied.json()
    assert requests.get(f"{base}/api/v3/field", headers=bearer, timeout=10).status_code == 200
    assert requests.get(f"{base}/api/v2/settings", headers=wsse(), timeout=10).status_code == 200
    body = {"distribution_method": "local", "contactlist": 101, "contact_fields": [3]}
    rows = requests.get(
        f"{base}/_sandbox/expected",
        params={"export_type": "email/getcontacts", "body": json.dumps(body)},
        timeout=10,
    ).json()
    first = next(r for r in rows if r["E-Mail"])
    written = requests.put(
        f"{base}/api/v2/contact",
        headers=wsse(),
        json={"key_id": "3", "contacts": [{"3": first["E-Mail"].upper(), "1": "Gross"}]},
        timeout=10,
    ).json()["data"]
    assert written == {"ids": [str(first["user_id"])], "errors": {}}
    state = requests.get(f"{base}/_sandbox/contact_state", timeout=10).json()
    assert state == {str(first["user_id"]): {"3": first["E-Mail"].upper(), "1": "Gross"}}
    refused = requests.post(
        f"{base}/api/rds/connections/shop/tables/t/records",
        headers=wsse(),
        json=[{"id": 1, "at": "2026-03-01T10:00:00Z"}],
        timeout=10,
    )
    assert (refused.status_code, refused.json()["replyCode"]) == (400, 15014)
    assert requests.get(f"{base}/_sandbox/rds/shop/t", timeout=10).json() == []
