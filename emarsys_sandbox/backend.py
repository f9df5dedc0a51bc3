"""Everything one sandbox holds, behind plain method calls (moto's "backend"; no HTTP here)."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emarsys_sandbox import synthetic
from emarsys_sandbox.auth import ApiUser, OAuthClient, TokenIssuer, WsseVerifier
from emarsys_sandbox.behavior import parse_events
from emarsys_sandbox.distribution import Storage
from emarsys_sandbox.exceptions import (
    EmailError,
    InvalidParameter,
    InvalidParams,
    NoSuchJob,
    QueryTooFrequent,
    TooManyContacts,
)
from emarsys_sandbox.export_jobs import ExportStore
from emarsys_sandbox.export_specs import (
    EXPORT_TYPES,
    VARIANT_FIELD_NAMES,
    ExportSpec,
    account_moment,
)
from emarsys_sandbox.faults import Faults, RateLimiter
from emarsys_sandbox.models import SyntheticAccount
from emarsys_sandbox.options import SandboxOptions
from emarsys_sandbox.rds import RelationalStore
from emarsys_sandbox.synthetic import VIENNA

DELIVERY_PAGE_SIZE = 1000
RESPONSE_QUERY_INTERVAL = 60.0
RESPONSE_QUERY_TYPES = (
    "opened",
    "not_opened",
    "received",
    "clicked",
    "not_clicked",
    "bounced",
    "hard_bounced",
    "soft_bounced",
    "block_bounced",
)
MAX_CONTACTS_PER_REQUEST = 1000
MAX_CONTACT_PAYLOAD_BYTES = 8 * 1024 * 1024  # docs/emarsys-api.md §12.9
MAX_KEYS_PER_GETDATA = 1000  # docs/emarsys-api.md §6.4


@dataclass(frozen=True)
class Credentials:
    """The sandbox's API user (WSSE) and OAuth client."""

    username: str
    secret: str
    client_id: str
    client_secret: str
    webdav_username: str = "sandbox_webdav"
    webdav_password: str = "sandbox-webdav-secret"


class SandboxBackend:
    """The account, its exports, RDS tables, received events, faults and the request log."""

    def __init__(
        self,
        options: SandboxOptions | None = None,
        *,
        credentials: Credentials | None = None,
        **keywords: Any,
    ) -> None:
        """Build the account from `options`, or from the keywords of `SandboxOptions.of`.

        `options.port` is the server's (`Sandbox`); the backend has no socket.
        """
        if options is None:
            options = SandboxOptions.of(**keywords)
        elif keywords:
            raise TypeError("SandboxBackend takes options or keywords, not both")
        self.options = options
        seed = options.seed
        # the forms this account shows where published sources disagree (docs/emarsys-api.md §12)
        self.variants = options.variants
        self.account = SyntheticAccount(
            contacts=options.contacts,
            seed=seed,
            responses=options.responses,
            timezone=options.timezone,
            email_keys_fold_case=options.email_keys_fold_case,
        )
        self.denied_permissions = options.denied_permissions
        self.credentials = credentials or Credentials(
            username="sandbox_user",
            secret=f"sandbox-secret-{seed}",
            client_id="sandbox_client",
            client_secret=f"sandbox-client-secret-{seed}",
            webdav_password=f"sandbox-webdav-secret-{seed}",
        )
        self.faults = Faults(
            seed=seed,
            export_delay=options.export_delay,
            rate_limit=options.rate_limit,
            rate_window=options.rate_window,
        )
        self.rate_limiter = RateLimiter(self.faults)
        self.wsse = WsseVerifier(
            # a Created without zone is read in the server's zone, Vienna (docs/emarsys-api.md §2.1)
            [ApiUser(self.credentials.username, self.credentials.secret)],
            VIENNA,
        )
        self.tokens = TokenIssuer(
            [OAuthClient(self.credentials.client_id, self.credentials.client_secret)],
            options.token_ttl,
        )
        self._directory = Path(tempfile.mkdtemp(prefix="emarsys-sandbox-"))
        self.storage = Storage(
            self._directory / "storage",
            self.credentials.webdav_username,
            self.credentials.webdav_password,
        )
        self.exports = ExportStore(
            self.account,
            self._directory,
            self.storage,
            sftp_retry_interval=options.sftp_retry_interval,
            notification_retry_delay=options.notification_retry_delay,
            drop_notifications=lambda: bool(self.faults.drop_notifications),
        )
        self.rds = RelationalStore(
            options.db_path or str(self._directory / "rds.sqlite3"),
            options.rds_tables or {},
            options.rds_autocreate,
        )
        self.events: list[dict[str, Any]] = []
        self.response_queries: list[tuple[str, int, int, int | None]] = []
        self._last_query: dict[str, float] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    # --- exports --------------------------------------------------------------------------

    def start_export(self, export_type: str, body: Any) -> int:
        """Validate and start an export (docs/emarsys-api.md §4): its integer id."""
        spec = ExportSpec.parse(export_type, body, self.account, self.variants)
        fails = self.faults.next_export_fails(
            export_type + json.dumps(body, sort_keys=True, default=str)
        )
        return self.exports.start(spec, body, self.faults.delay_for(export_type), fails)

    def expected_export(self, export_type: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Ground truth rows for an export body (typed, keyed by English labels)."""
        export_type = export_type.strip("/")
        if export_type not in EXPORT_TYPES:
            raise InvalidParams(f"Unknown export type: {export_type}")
        spec = ExportSpec.parse(export_type, body, self.account, self.variants)
        return list(spec.typed_rows(self.account))

    # --- JSON reads -----------------------------------------------------------------------

    def fields(self, language: str) -> list[dict[str, Any]]:
        """`GET /field` (docs/emarsys-api.md §6.4); `header_labels="variant"` renames field 1000
        (§12.3).
        """
        renamed = VARIANT_FIELD_NAMES if self.variants.header_labels == "variant" else {}
        return [
            {
                "id": f.id,
                "name": f.label(language) if language == "de" else renamed.get(f.id, f.name),
                "application_type": f.application_type,
                "string_id": f.string_id,
            }
            for f in synthetic.FIELDS
        ]

    def settings(self) -> dict[str, Any]:
        """`GET /settings`: account id (= HDS customer id), zone and environment."""
        return {
            "id": synthetic.CUSTOMER_ID,
            "environment": "sandbox.emarsys.local",
            "timezone": self.account.timezone,
            "name": "Emarsys Sandbox",
            "language": "en",
            "country": "AT",
            "totalContacts": self.account.total_contacts,
        }

    def campaigns(self, show_deleted: bool) -> list[dict[str, Any]]:
        """`GET /email/` (deleted campaigns only with `showdeleted=1`)."""
        return [
            {
                "id": str(c.id),
                "name": c.name,
                "language": "en",
                "created": "2026-03-01 10:00:00",
                "deleted": "2026-03-19 12:00:00" if c.deleted else "",
                "fromemail": "news@example.com",
                "fromname": "Sandbox, Inc.",
                "subject": c.name,
                "email_category": c.category,
                "status": "3" if c.launches else "1",
                "api_status": "3",
                "content_type": "html",
                "source": "api",
                "root_campaign_id": str(c.id),
            }
            for c in synthetic.CAMPAIGNS
            if show_deleted or not c.deleted
        ]

    def _campaign(self, email_id: Any) -> synthetic.Campaign:
        if email_id in (None, ""):
            raise InvalidParameter("Missing parameter: emailId")
        try:
            campaign = synthetic.CAMPAIGNS_BY_ID.get(int(email_id))
        except (TypeError, ValueError):
            campaign = None
        if campaign is None:
            raise EmailError(6004, "Invalid email ID")
        return campaign

    def launches(self, email_id: Any) -> list[dict[str, Any]]:
        """`POST /email/getlaunchesofemail` (docs/emarsys-api.md §6.2)."""
        campaign = self._campaign(email_id)
        return [
            {"id": str(lid), "done": done, "launch_date": d} for lid, done, d in campaign.launches
        ]

    def delivery_status(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /email/getdeliverystatus`, pages of 1000 after `lastId` (docs/emarsys-api.md
        §6.1).
        """
        campaign = self._campaign(body.get("emailId"))
        if not campaign.launches:
            raise EmailError(6013, "Launch not found")
        launch_id = body.get("launchId")
        if launch_id in (None, ""):
            if len(campaign.launches) > 1:
                raise EmailError(6014, "Launch ambiguous")
            launch = campaign.launches[0]
        else:
            matches = [la for la in campaign.launches if str(la[0]) == str(launch_id)]
            if not matches:
                raise EmailError(6013, "Launch not found")
            launch = matches[0]
        if launch[1] != "y" and not body.get("allowNotFinished"):
            raise EmailError(6011, "Launch not finished")
        try:
            last_id = int(body.get("lastId") or 0)
        except (TypeError, ValueError) as exc:
            raise InvalidParameter("Invalid data format for lastId. Integer expected") from exc
        # Recipients of campaign c: contacts i = 4 k + c; entry id = k + 1.
        c = synthetic.CAMPAIGNS.index(campaign) % 4
        total = self.account.total_contacts
        result: list[dict[str, Any]] = []
        k = max(last_id, 0)
        while len(result) < DELIVERY_PAGE_SIZE and 4 * k + c < total:
            i = 4 * k + c
            h = self.account.contact_hash(i)
            bounce = ("", "", "", "", "", "", "soft", "hard", "", "block")[(h >> 5) % 10]
            result.append(
                {
                    "id": k + 1,
                    "user_id": self.account.contact_id(i),
                    "bounce_reason": bounce,
                    "status": "bounced" if bounce else "launched",
                    "mail_type": "html",
                }
            )
            k += 1
        return {"resultSet": result, "lastId": result[-1]["id"] if result else last_id}

    def start_response_query(self, user: str, body: Any) -> int:
        """`POST /email/responses`: at most once a minute per API user (docs/emarsys-api.md
        §6.3).
        """
        if not isinstance(body, dict):
            raise InvalidParameter("Missing parameter: type")
        kind = body.get("type")
        if not kind:
            raise InvalidParameter("Missing parameter: type")
        if kind not in RESPONSE_QUERY_TYPES:
            raise InvalidParameter(f"Invalid value for type: {kind}")
        bounds = []
        for name in ("start_date", "end_date"):
            moment = account_moment(body.get(name), self.account)
            if moment is None:
                raise InvalidParameter("Valid start_date and end_date is required")
            bounds.append(moment)
        if bounds[1] < bounds[0]:
            raise InvalidParameter(
                "Invalid value for end_date: end_date is earlier than the start_date"
            )
        campaign = body.get("campaign_id")
        campaign_id = self._campaign(campaign).id if campaign not in (None, "") else None
        now = time.time()
        with self._lock:
            if now - self._last_query.get(user, -RESPONSE_QUERY_INTERVAL) < RESPONSE_QUERY_INTERVAL:
                raise QueryTooFrequent()
            self._last_query[user] = now
            self.response_queries.append((kind, bounds[0], bounds[1], campaign_id))
            return len(self.response_queries)

    def response_query(self, query_id: str) -> dict[str, Any]:
        """`GET /email/{id}/responses`: contact ids; an empty result is `[""]` (docs/emarsys-api.md
        §6.3).
        """
        if not query_id.isdigit() or not 1 <= int(query_id) <= len(self.response_queries):
            raise NoSuchJob()
        kind, start, end, campaign_id = self.response_queries[int(query_id) - 1]
        opened: dict[int, None] = {}
        clicked: dict[int, None] = {}
        for i, _h, _ts, info in self.account.email_responses(start, end):
            assert info is not None
            if campaign_id is not None and info[1].id != campaign_id:
                continue
            (opened if info[0] == "open" else clicked)[self.account.contact_id(i)] = None
        received = {**opened, **clicked}
        found = {
            "opened": opened,
            "clicked": clicked,
            "received": received,
            "not_opened": {c: None for c in received if c not in opened},
            "not_clicked": {c: None for c in received if c not in clicked},
        }.get(kind, {})
        return {"contact_ids": [str(c) for c in found] or [""]}

    def audiences(self, kind: str) -> list[dict[str, Any]]:
        """`GET /contactlist` or `GET /filter`."""
        source = synthetic.CONTACT_LISTS if kind == "contactlist" else synthetic.SEGMENTS
        return [{"id": str(a.id), "name": a.name, "created": a.created} for a in source]

    # --- writes ---------------------------------------------------------------------------

    def check_contact_payload(self, size: int) -> None:
        """`PUT /contact` bodies are at most 8 MB (docs/emarsys-api.md §12.9): 400/1000 if not."""
        if size > MAX_CONTACT_PAYLOAD_BYTES:
            raise TooManyContacts(
                f"Payload too large: {size} bytes, at most {MAX_CONTACT_PAYLOAD_BYTES} per request"
            )

    def upsert_contacts(self, body: Any, create: bool) -> dict[str, Any]:
        """`PUT /contact`: ids and per-item errors (HTTP 200, docs/emarsys-api.md §3.1)."""
        if not isinstance(body, dict):
            raise InvalidParameter("Invalid payload: a JSON object is expected")
        key_id = str(body.get("key_id", "3"))
        contacts = _bounded_list(body, "contacts", MAX_CONTACTS_PER_REQUEST)
        if not key_id.isdigit() or int(key_id) not in synthetic.FIELDS_BY_ID:
            raise InvalidParameter(f"Invalid key_id: {key_id}")
        ids, errors = self.account.upsert_contacts(key_id, contacts, create)
        return {"ids": ids, "errors": errors}

    def contact_data(self, body: Any) -> dict[str, Any]:
        """`POST /contact/getdata` (docs/emarsys-api.md §6.4): `result` is false if no key hit."""
        if not isinstance(body, dict):
            raise InvalidParameter("Invalid payload: a JSON object is expected")
        key_id = str(body.get("keyId", "")).strip()
        if not key_id:
            raise InvalidParameter("Missing parameter: keyId")
        if not key_id.isdigit() or int(key_id) not in synthetic.FIELDS_BY_ID:
            raise InvalidParameter(f"Invalid keyId: {key_id}")
        key_values = _bounded_list(body, "keyValues", MAX_KEYS_PER_GETDATA)
        requested = body.get("fields")
        if requested is None:
            fields = [f.id for f in synthetic.FIELDS]
        elif isinstance(requested, list):
            fields = [_field_id(raw) for raw in requested]
        else:
            raise InvalidParameter("Invalid data format for fields. Array expected")
        data = self.account.contact_data(key_id, key_values, fields)
        return {"errors": data.errors, "result": data.result or False}

    def set_membership(self, audience_id: Any, contact_id: Any, member: Any) -> None:
        """Control: a synthetic contact joins or leaves a contact list or segment."""
        if not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (audience_id, contact_id)
        ):
            raise InvalidParams('Expected {"audience_id": n, "contact_id": n, "member": bool}')
        if not isinstance(member, bool):
            raise InvalidParams('Expected {"audience_id": n, "contact_id": n, "member": bool}')
        try:
            self.account.set_membership(audience_id, contact_id, member)
        except KeyError as exc:
            raise InvalidParams(str(exc.args[0])) from exc

    def store_events(self, customer_id: str, path: dict[str, str], body: bytes) -> None:
        """Validate and keep behavior events (docs/emarsys-api.md §7)."""
        events = parse_events(body, VIENNA)
        with self._lock:
            for event in events:
                self.events.append({"customer_id": customer_id, **path, **event})

    def contacts_written(self) -> list[dict[str, Any]]:
        """Every contact write, in order."""
        return [
            {
                "id": w.id,
                "key_id": w.key_id,
                "key_value": w.key_value,
                "fields": w.fields,
                "created": w.created,
            }
            for w in self.account.written
        ]

    def contact_state(self) -> dict[int, dict[str, Any]]:
        """Every contact written to, by contact id: its fields as written, merged."""
        return self.account.contact_state()

    def log_request(self, entry: dict[str, Any]) -> None:
        """Append to the request log."""
        entry["time"] = datetime.now(timezone.utc).isoformat()
        with self._lock:
            self.requests.append(entry)

    def close(self) -> None:
        """Drop files and the database connection."""
        self.exports.close()
        self.rds.close()
        shutil.rmtree(self._directory, ignore_errors=True)


def _field_id(raw: Any) -> int:
    """A `fields` entry of `contact/getdata`: a known field id (int or digit string)."""
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit() or int(text) not in synthetic.FIELDS_BY_ID:
        raise InvalidParameter(f"Invalid field id: {raw}")
    return int(text)


def _bounded_list(body: dict[str, Any], name: str, limit: int) -> list[Any]:
    """`body[name]`: a JSON array (else 400/10001) of at most `limit` items (else 400/1000)."""
    value = body.get(name)
    if not isinstance(value, list):
        raise InvalidParameter(f"Invalid data format for {name}. Array expected")
    if len(value) > limit:
        raise TooManyContacts(f"Too many {name}: {len(value)}, at most {limit} per request")
    return value
