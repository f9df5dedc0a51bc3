"""A missing permission (HTTP 403, often without replyCode) names endpoint, permission, remedy."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from emarsys_api import AuthenticationError, ExportType, PermissionDeniedError
from emarsys_api.permissions import PERMISSIONS, permission_denied, permission_for
from emarsys_sandbox import Sandbox
from tests.helpers.clients import oauth_client, secrets_of, wsse_client


@pytest.mark.parametrize(
    ("endpoint", "permission"),
    [
        ("GET /api/v3/settings", "settings"),
        ("GET /api/v2/field/translate/en", "fields"),
        ("GET /api/v3/contactlist", "contact_lists"),
        ("GET /api/v3/filter", "segments"),
        ("GET /api/v3/email/", "email_campaigns"),
        ("POST /api/v3/email/getlaunchesofemail", "email_campaigns"),
        ("POST /api/v3/email/getdeliverystatus", "email_campaigns"),
        ("POST /api/v3/email/responses", "email_campaigns"),
        ("POST /api/v3/contact/getchanges", "exports"),
        ("POST /api/v3/contact/getregistrations", "exports"),
        ("POST /api/v3/email/getresponses", "exports"),
        ("POST /api/v3/email/getcontacts", "exports"),
        ("POST /api/v3/export/filter", "exports"),
        ("GET /api/v3/export/12", "exports"),
        ("GET /api/v3/export/12/data", "exports"),
        ("PUT /api/v3/contact", "contacts"),
        ("POST /api/v3/contact/getdata", "contacts"),
        ("POST /api/rds/v1/connections/c/tables/t/records/upsert", "relational_data"),
        ("GET /api/rds/connections/c/tables/t/records", "relational_data"),
        ("POST /api/hds/events/customers/1/events/providers/p", "behavior_data"),
        ("GET /api/v3/something/new", None),
    ],
)
def test_each_endpoint_names_its_permission(endpoint: str, permission: str | None) -> None:
    assert permission_for(endpoint) == permission
    assert permission is None or permission in PERMISSIONS


def test_the_error_says_what_and_where_in_one_line() -> None:
    error = permission_denied(403, None, "forbidden", "POST /api/v3/contact/getchanges")
    assert isinstance(error, AuthenticationError)
    assert error.permission == "exports"
    text = str(error)
    assert "\n" not in text
    assert "POST /api/v3/contact/getchanges" in text
    assert "`exports` permission" in text
    assert "Management > Security Settings > API credentials" in text
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.permission) == (type(error), text, "exports")


CALLS: dict[str, Callable[[Any], Any]] = {
    "settings": lambda client: client.settings(),
    "fields": lambda client: client.fields(),
    "contact_lists": lambda client: client.contact_lists(),
    "segments": lambda client: client.segments(),
    "email_campaigns": lambda client: client.email_campaigns(),
    "exports": lambda client: client.start_export(
        ExportType.CONTACT_LIST_MEMBERS,
        {"distribution_method": "local", "contactlist": 101, "contact_fields": [1]},
    ),
    "contacts": lambda client: client.contact_ids(3, ["nobody@example.org"]),
    "relational_data": lambda client: client.rds_query("demo", "t", id=1),
}


@pytest.fixture(scope="module")
def denying() -> Any:
    with Sandbox(contacts=5, seed=3, denied_permissions=frozenset(CALLS)) as sb:
        yield sb


@pytest.mark.parametrize("permission", sorted(CALLS))
def test_a_denied_oauth2_call_names_the_permission(denying: Sandbox, permission: str) -> None:
    with oauth_client(denying) as client, pytest.raises(PermissionDeniedError) as caught:
        CALLS[permission](client)
    error = caught.value
    assert error.status == 403 and error.reply_code is None
    assert error.permission == permission
    text = str(error)
    assert f"`{permission}` permission" in text and "API credentials" in text
    assert "\n" not in text
    for secret in secrets_of(denying):
        assert secret not in text


def test_wsse_calls_are_not_affected(denying: Sandbox) -> None:
    with wsse_client(denying) as client:
        assert client.settings()
