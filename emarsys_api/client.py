"""`EmarsysClient`: the one facade the tap and the target call.

It picks the API generation from the settings (OAuth2 -> `/api/v3` and `/api/rds/v1`, WSSE ->
`/api/v2` and `/api/rds`), and turns each Emarsys operation into one method with plain Python
arguments and results. HTTP details stay in `transport`, export mechanics in `exports`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

from requests.auth import AuthBase

from emarsys_api import exports
from emarsys_api.auth import OAuth2ClientCredentials, WsseAuth
from emarsys_api.errors import ResponseFormatError, RowError, ValidationError
from emarsys_api.exports import ExportType
from emarsys_api.settings import ClientSettings
from emarsys_api.transport import Reply, Transport

logger = logging.getLogger("emarsys_api")

_ROW_COUNT = re.compile(r"(\d+)")
# docs/emarsys-api.md §6.1: these replies mean "no (more) rows" rather than a failure.
_NO_MORE_DELIVERY_ROWS = {6012}
# docs/emarsys-api.md §6.4: contact/getdata takes at most 1000 key values per request.
CONTACT_DATA_BATCH = 1000


@dataclass(frozen=True)
class ContactsResult:
    """The outcome of a contacts upsert: accepted ids and per-item errors (inside HTTP 200).

    Attributes:
        ids: internal contact ids of the accepted contacts, in reply order.
        errors: key value -> list of (error code, error text) for each rejected contact.
    """

    ids: list[int] = field(default_factory=list)
    errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def row_errors(self) -> list[RowError]:
        """The per-item errors as `RowError`s (raise or log them)."""
        return [
            RowError(key, code, text, "PUT contact")
            for key, items in self.errors.items()
            for code, text in items
        ]


@dataclass(frozen=True)
class ContactIdsResult:
    """Internal contact ids looked up by a key field (`contact/getdata`).

    Attributes:
        ids: key value as asked -> internal contact id, for the values that name one contact.
        errors: key value as asked -> (error code, error text) for the others: `2008` no
            contact has the value, `2010` several contacts have it (docs/emarsys-api.md §3.1).
    """

    ids: dict[str, int] = field(default_factory=dict)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)


class EmarsysClient:
    """One Emarsys account, authenticated per the settings; safe to share between threads."""

    def __init__(self, settings: ClientSettings) -> None:
        self.client_settings = settings
        auth: AuthBase
        if settings.auth_scheme == "oauth2":
            oauth = OAuth2ClientCredentials.from_settings(settings)
            self._oauth: OAuth2ClientCredentials | None = oauth
            auth = oauth
            self.api = "/api/v3"
            self.rds = "/api/rds/v1"
            secrets = oauth.secrets
        else:
            assert settings.username and settings.secret
            self._oauth = None
            auth = WsseAuth(settings.username, settings.secret)
            self.api = "/api/v2"
            self.rds = "/api/rds"
            secret = settings.secret

            def secrets() -> list[str]:
                return [secret]

        self.transport = Transport(settings, auth, secrets=secrets)
        # What resumed downloads showed about the server's paging (docs/emarsys-api.md §12.5),
        # kept so that later resumes in the same run start at the right offset at once.
        self.download_paging = exports.DownloadPaging()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def downloaded_bytes(self) -> int:
        """Export file bytes read through `export_rows` so far."""
        return self.transport.downloaded_bytes

    def close(self) -> None:
        """Release connections."""
        self.transport.close()
        if self._oauth is not None:
            self._oauth.close()

    def __enter__(self) -> EmarsysClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EmarsysClient({self.client_settings!r})"

    # -- JSON reads (docs/emarsys-api.md §6) --------------------------------------------------

    def fields(self, language: str = "en") -> list[dict[str, Any]]:
        """Contact fields with labels in `language` (`id`, `name`, `application_type`, ...)."""
        return _as_list(*self._get(f"/field/translate/{quote(language, safe='')}"))

    def settings(self) -> dict[str, Any]:
        """Account settings."""
        return _as_dict(*self._get("/settings"))

    def email_campaigns(self, show_deleted: bool = True) -> list[dict[str, Any]]:
        """Email campaigns (deleted ones too by default, so a warehouse keeps their history)."""
        params = {"showdeleted": 1} if show_deleted else None
        return _as_list(*self._get("/email/", params=params))

    def email_launches(self, email_id: int) -> list[dict[str, Any]]:
        """Launches of one campaign."""
        path = f"{self.api}/email/getlaunchesofemail"
        reply = self.transport.request("POST", path, json={"emailId": int(email_id)})
        return _as_list(reply.data, f"POST {path}")

    def delivery_status(self, email_id: int, launch_id: int) -> Iterator[list[dict[str, Any]]]:
        """Delivery status of one launch, one page (`resultSet`) at a time, paged by `lastId`."""
        path = f"{self.api}/email/getdeliverystatus"
        body: dict[str, Any] = {"emailId": int(email_id), "launchId": int(launch_id)}
        while True:
            try:
                reply = self.transport.request("POST", path, json=body)
            except ValidationError as error:
                if error.reply_code in _NO_MORE_DELIVERY_ROWS:
                    return
                raise
            data = _as_dict(reply.data, f"POST {path}")
            page = data.get("resultSet") or []
            if not isinstance(page, list):
                raise ResponseFormatError(
                    reply.status, 0, "resultSet is not a list", f"POST {path}"
                )
            if page:
                yield page
            last_id = data.get("lastId")
            if not page or last_id in (None, "", body.get("lastId")):
                return
            body["lastId"] = last_id

    def contact_lists(self) -> list[dict[str, Any]]:
        """Contact lists."""
        return _as_list(*self._get("/contactlist"))

    def segments(self) -> list[dict[str, Any]]:
        """Segments (called filters in the API)."""
        return _as_list(*self._get("/filter"))

    def contact_ids(self, key_id: int | str, key_values: Sequence[str]) -> ContactIdsResult:
        """Internal ids of the contacts whose field `key_id` has each of `key_values`.

        Member exports may come without a `user_id` column (docs/emarsys-api.md §12.1); this
        is how their rows get their contact id back. Values are sent in batches of 1000 (the
        endpoint's limit, §6.4); an account that matches e-mail addresses without regard to
        case may answer with another spelling, which is mapped back to the value asked.

        Args:
            key_id: the field id the values belong to (`3` for e-mail).
            key_values: the values to look up (duplicates are asked once).

        Returns:
            The ids found and, per value not resolved to one contact, the error Emarsys gave.
        """
        path = f"{self.api}/contact/getdata"
        wanted = list(dict.fromkeys(key_values))
        result = ContactIdsResult()
        for start in range(0, len(wanted), CONTACT_DATA_BATCH):
            batch = wanted[start : start + CONTACT_DATA_BATCH]
            reply = self.transport.request(
                "POST",
                path,
                json={"keyId": str(key_id), "keyValues": batch, "fields": [str(key_id)]},
            )
            _collect_contact_ids(reply.data, str(key_id), batch, result, f"POST {path}")
        return result

    # -- exports (docs/emarsys-api.md §4 and §5) ---------------------------------------------

    def start_export(self, export_type: ExportType | str, body: dict[str, Any]) -> int:
        """Start an export; returns its id. See `exports.start_export`."""
        return exports.start_export(self.transport, self.api, export_type, body)

    def export_status(self, export_id: int) -> dict[str, Any]:
        """The export's status object. See `exports.export_status`."""
        return exports.export_status(self.transport, self.api, export_id)

    def wait_for_export(
        self,
        export_id: int,
        *,
        poll_interval: float,
        timeout: float,
        label: str = "",
        ready_grace: float | None = None,
    ) -> dict[str, Any]:
        """Poll until done (or `ready` with a downloadable file after `ready_grace` seconds).

        See `exports.poll_export`.
        """
        return exports.wait_for_export(
            self.transport,
            self.api,
            export_id,
            poll_interval=poll_interval,
            timeout=timeout,
            label=label,
            ready_grace=ready_grace,
        )

    def export_data_available(self, export_id: int) -> bool:
        """Whether a local export's file can be downloaded. See `exports.export_data_available`."""
        return exports.export_data_available(self.transport, self.api, export_id)

    def export_rows(
        self, export_id: int, *, delimiter: str = ",", has_header: bool = True
    ) -> Iterator[list[str]]:
        """Stream the export's CSV rows, resuming cut downloads. See `exports.export_rows`."""
        return exports.export_rows(
            self.transport,
            self.api,
            export_id,
            delimiter=delimiter,
            has_header=has_header,
            paging=self.download_paging,
        )

    # -- Relational Data (docs/emarsys-api.md §8) -----------------------------------------------

    def rds_insert(self, connection: str, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Append rows (insert-ignore: duplicates are skipped); returns rows inserted."""
        return _row_count(self._rds("POST", connection, table, "", rows))

    def rds_replace(self, connection: str, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Delete every row of the table, then insert `rows`; returns rows inserted."""
        return _row_count(self._rds("PUT", connection, table, "", rows))

    def rds_upsert(self, connection: str, table: str, rows: Sequence[Mapping[str, Any]]) -> str:
        """Insert or update by primary key (each row carries it); returns Emarsys's reply text."""
        return self._rds("POST", connection, table, "/upsert", rows)[0].reply_text

    def rds_update(self, connection: str, table: str, items: Sequence[Mapping[str, Any]]) -> str:
        """Update rows: each item is ``{"search": {...}, "update": {...}}``; returns reply text."""
        return self._rds("PATCH", connection, table, "", items)[0].reply_text

    def rds_remove(self, connection: str, table: str, criteria: Sequence[Mapping[str, Any]]) -> int:
        """Delete rows matching any criteria object (AND inside one); returns rows deleted."""
        return _row_count(self._rds("POST", connection, table, "/remove", criteria))

    def rds_query(self, connection: str, table: str, **criteria: Any) -> list[dict[str, Any]]:
        """Rows whose columns equal `criteria` (exact match, indexed columns, at most 1000)."""
        path = self._rds_path(connection, table, "")
        reply = self.transport.request("GET", path, params=criteria, envelope=False)
        data = reply.data
        if isinstance(data, dict):
            data = [data]
        return _as_list(data, f"GET {path}")

    # -- writes ------------------------------------------------------------------------------

    def behavior_events(
        self,
        customer_id: str | int,
        provider: str,
        channel: str,
        campaign_type: str,
        event_type: str,
        csv_body: bytes,
    ) -> None:
        """Store behavior events: a CSV body with a header row (docs/emarsys-api.md §7)."""
        segments = {
            "customers": customer_id,
            "events/providers": provider,
            "channels": channel,
            "campaign_types": campaign_type,
            "event_types": event_type,
        }
        path = "/api/hds/events" + "".join(
            f"/{name}/{quote(str(value), safe='')}" for name, value in segments.items()
        )
        self.transport.request(
            "POST", path, data=csv_body, headers={"Content-Type": "text/csv; charset=utf-8"}
        )

    def upsert_contacts(
        self,
        key_id: str,
        contacts: Sequence[Mapping[str, Any]],
        *,
        create_if_not_exists: bool = True,
    ) -> ContactsResult:
        """Create or update contacts identified by field `key_id` (e.g. ``"3"`` for email).

        Rejected items do not fail the call: Emarsys reports them inside HTTP 200 and they come
        back in `ContactsResult.errors`.
        """
        reply = self.transport.request(
            "PUT",
            f"{self.api}/contact",
            params={"create_if_not_exists": 1 if create_if_not_exists else 0},
            json={"key_id": key_id, "contacts": _json_array(contacts)},
        )
        return _contacts_result(reply)

    # -- helpers -----------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, str]:
        """GET below the API version; returns the envelope's data and the endpoint."""
        reply = self.transport.request("GET", self.api + path, params=params)
        return reply.data, f"GET {self.api}{path}"

    def _rds_path(self, connection: str, table: str, suffix: str) -> str:
        return (
            f"{self.rds}/connections/{quote(connection, safe='')}"
            f"/tables/{quote(table, safe='')}/records{suffix}"
        )

    def _rds(
        self,
        method: str,
        connection: str,
        table: str,
        suffix: str,
        body: Sequence[Mapping[str, Any]],
    ) -> tuple[Reply, str]:
        path = self._rds_path(connection, table, suffix)
        return self.transport.request(method, path, json=_json_array(body)), f"{method} {path}"


def _json_array(items: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """`items` as a JSON array: a list or tuple as it is (the rows are not copied; mappings
    that are no dict are turned into one as they are encoded), any other sequence listed."""
    return items if isinstance(items, list | tuple) else list(items)


def _row_count(reply_and_endpoint: tuple[Reply, str]) -> int:
    """Rows affected, from replies like ``Rows inserted: 3`` (docs/emarsys-api.md §8)."""
    reply, endpoint = reply_and_endpoint
    match = _ROW_COUNT.search(reply.reply_text)
    if match is None:
        raise ResponseFormatError(
            reply.status, 0, f"no row count in reply text {reply.reply_text!r}", endpoint
        )
    return int(match.group(1))


def _contacts_result(reply: Reply) -> ContactsResult:
    data = reply.data if isinstance(reply.data, dict) else {}
    ids = [int(i) for i in data.get("ids") or [] if str(i).strip().isdigit()]
    errors: dict[str, list[tuple[str, str]]] = {}
    raw = data.get("errors") or {}
    if isinstance(raw, dict):
        for key, codes in raw.items():
            if isinstance(codes, dict):
                errors[str(key)] = [(str(code), str(text)) for code, text in codes.items()]
            else:
                errors[str(key)] = [("", str(codes))]
    elif isinstance(raw, list):
        # Older batch shape (docs/emarsys-api.md §3.1):
        # [{"key": ..., "errorCode": "2008", "errorMsg": ...}]
        for item in raw:
            if isinstance(item, dict):
                errors.setdefault(str(item.get("key", "")), []).append(
                    (str(item.get("errorCode", "")), str(item.get("errorMsg", "")))
                )
    return ContactsResult(ids=ids, errors=errors)


def _collect_contact_ids(
    data: Any, key_id: str, asked: Sequence[str], result: ContactIdsResult, endpoint: str
) -> None:
    """Add one `contact/getdata` reply to `result`, keyed by the values as they were asked."""
    reply = _as_dict(data, endpoint)
    by_value = {value: value for value in asked}
    folded: dict[str, str | None] = {}
    for value in asked:
        key = value.casefold()
        folded[key] = None if key in folded else value  # None: two asked values fold alike
    errors = reply.get("errors") or []
    if isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict):
                value = str(item.get("key", ""))
                code, text = str(item.get("errorCode", "")), str(item.get("errorMsg", ""))
                result.errors[by_value.get(value) or folded.get(value.casefold()) or value] = (
                    code,
                    text,
                )
    contacts = reply.get("result") or []  # `false` when every key failed (§6.4)
    if not isinstance(contacts, list):
        raise ResponseFormatError(None, 0, "result is not a list", endpoint)
    for contact in contacts:
        if not isinstance(contact, dict):
            continue
        value = str(contact.get(key_id) or "")
        asked_as = by_value.get(value) or folded.get(value.casefold())
        contact_id = str(contact.get("id") or "").strip()
        if asked_as is None or not contact_id.isdigit():
            continue
        if asked_as in result.ids and result.ids[asked_as] != int(contact_id):
            # Two contacts answer for one value: the value names no single contact.
            del result.ids[asked_as]
            result.errors[asked_as] = ("2010", "More contacts found with the same value")
        elif asked_as not in result.errors:
            result.ids[asked_as] = int(contact_id)


def _as_list(data: Any, endpoint: str) -> list[dict[str, Any]]:
    if data is None or data == "":
        return []
    if not isinstance(data, list):
        raise ResponseFormatError(None, 0, f"data is {type(data).__name__}, not a list", endpoint)
    return data


def _as_dict(data: Any, endpoint: str) -> dict[str, Any]:
    if data is None or data == "":
        return {}
    if not isinstance(data, dict):
        raise ResponseFormatError(
            None, 0, f"data is {type(data).__name__}, not an object", endpoint
        )
    return data
