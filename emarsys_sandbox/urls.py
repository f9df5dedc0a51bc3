"""The routes: every path the sandbox answers, mapped to a handler name in `handlers`.

Contact & email paths exist under `/api/v2` (WSSE) and `/api/v3` (OAuth2 bearer); RDS under both
path generations of docs/emarsys-api.md §8; HDS as in §7; `/_sandbox/...` is unauthenticated
control for a CLI-started sandbox.
"""

from __future__ import annotations

from werkzeug.routing import Map, Rule

_API = "/api/<any(v2, v3):version>"
_RDS = ("/api/rds/connections", "/api/rds/v1/connections")
_HDS = (
    "/api/hds/events/customers/<customer_id>/events/providers/<provider>/channels/<channel>"
    "/campaign_types/<campaign_type>/event_types/<event_type>"
)
EXPORT_PATHS = (
    "contact/getchanges",
    "contact/getregistrations",
    "email/getresponses",
    "email/getcontacts",
    "export/filter",
)

url_map = Map(
    [
        Rule("/oauth2/token", endpoint="oauth_token", methods=["POST"]),
        Rule(f"{_API}/field", endpoint="fields", methods=["GET"]),
        Rule(f"{_API}/field/translate/<language>", endpoint="fields", methods=["GET"]),
        Rule(f"{_API}/settings", endpoint="settings", methods=["GET"]),
        Rule(f"{_API}/email/", endpoint="campaigns", methods=["GET"], strict_slashes=False),
        Rule(f"{_API}/email/getlaunchesofemail", endpoint="launches", methods=["POST"]),
        Rule(f"{_API}/email/getdeliverystatus", endpoint="delivery_status", methods=["POST"]),
        Rule(f"{_API}/email/responses", endpoint="start_response_query", methods=["POST"]),
        Rule(f"{_API}/email/<query_id>/responses", endpoint="response_query", methods=["GET"]),
        Rule(f"{_API}/contactlist", endpoint="contact_lists", methods=["GET"]),
        Rule(f"{_API}/filter", endpoint="segments", methods=["GET"]),
        Rule(f"{_API}/contact", endpoint="contacts", methods=["PUT"], strict_slashes=False),
        Rule(f"{_API}/contact/getdata", endpoint="contact_data", methods=["POST"]),
        *(
            Rule(
                f"{_API}/{path}",
                endpoint="start_export",
                methods=["POST"],
                defaults={"export_type": path},
            )
            for path in EXPORT_PATHS
        ),
        Rule(f"{_API}/export/<export_id>", endpoint="export_status", methods=["GET"]),
        Rule(f"{_API}/export/<export_id>/data", endpoint="export_data", methods=["GET"]),
        *(
            rule
            for base in _RDS
            for rule in (
                Rule(
                    f"{base}/<connection>/tables/<table>/records",
                    endpoint="rds_records",
                    methods=["GET", "POST", "PUT", "PATCH"],
                ),
                Rule(
                    f"{base}/<connection>/tables/<table>/records/upsert",
                    endpoint="rds_upsert",
                    methods=["POST"],
                ),
                Rule(
                    f"{base}/<connection>/tables/<table>/records/remove",
                    endpoint="rds_remove",
                    methods=["POST"],
                ),
            )
        ),
        Rule(_HDS, endpoint="behavior", methods=["POST"]),
        Rule("/_sandbox/expected", endpoint="sandbox_expected", methods=["GET"]),
        Rule("/_sandbox/faults", endpoint="sandbox_faults", methods=["GET", "POST"]),
        Rule("/_sandbox/activity", endpoint="sandbox_activity", methods=["POST"]),
        Rule("/_sandbox/rds/<connection>/<table>", endpoint="sandbox_rds", methods=["GET"]),
        Rule("/_sandbox/behavior", endpoint="sandbox_behavior", methods=["GET"]),
        Rule("/_sandbox/contacts", endpoint="sandbox_contacts", methods=["GET"]),
        Rule("/_sandbox/contact_state", endpoint="sandbox_contact_state", methods=["GET"]),
        Rule("/_sandbox/membership", endpoint="sandbox_membership", methods=["POST"]),
        Rule("/_sandbox/requests", endpoint="sandbox_requests", methods=["GET"]),
    ]
)

#: the permission (`auth.PERMISSIONS`) each API endpoint needs; an OAuth2 API user denied it
#: gets 403 (docs/emarsys-api.md §12.8)
ENDPOINT_PERMISSIONS = {
    "settings": "settings",
    "fields": "fields",
    "contacts": "contacts",
    "contact_data": "contacts",
    "contact_lists": "contact_lists",
    "segments": "segments",
    "campaigns": "email_campaigns",
    "launches": "email_campaigns",
    "delivery_status": "email_campaigns",
    "start_response_query": "email_campaigns",
    "response_query": "email_campaigns",
    "start_export": "exports",
    "export_status": "exports",
    "export_data": "exports",
    "rds_records": "relational_data",
    "rds_upsert": "relational_data",
    "rds_remove": "relational_data",
    "behavior": "behavior_data",
}
