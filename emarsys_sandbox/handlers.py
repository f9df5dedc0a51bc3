"""Handlers: parse the request, call the backend, render the reply (envelope or CSV)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from emarsys_sandbox.auth import OAuthError
from emarsys_sandbox.backend import SandboxBackend
from emarsys_sandbox.exceptions import InvalidParameter, InvalidParams, InvalidPayload, RdsError
from emarsys_sandbox.export_files import DownloadPage, middle_of_a_row, stream_file

CSV_TYPE = "text/csv;charset=UTF-8"
USER_KEY = "emarsys_sandbox.user"
# docs/emarsys-api.md §5.2 (the current docs; the old ones say 1,000,000)
MAX_DOWNLOAD_LIMIT = 10_000_000


class DownloadCut(ConnectionAbortedError):
    """Raised inside a download body: the server drops the connection mid-chunk.

    A ConnectionError subclass so werkzeug treats it as a dropped connection and never writes
    the terminating chunk: the client sees a broken chunked stream, not a clean EOF.
    """


def json_default(value: Any) -> Any:
    """JSON for dates and datetimes (ISO 8601)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON reply with `application/json` (docs/emarsys-api.md §1: the emulator's choice)."""
    return Response(
        json.dumps(body, ensure_ascii=False, default=json_default),
        status=status,
        content_type="application/json",
    )


def envelope(data: Any) -> Response:
    """The success envelope of docs/emarsys-api.md §3.1."""
    return json_response({"replyCode": 0, "replyText": "OK", "data": data})


def read_json(request: Request, rds: bool = False) -> Any:
    """The JSON body, or 400/1010 (RDS: 400/15005)."""
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError as exc:
        if rds:
            raise RdsError(400, 15005, "Invalid JSON format") from exc
        raise InvalidPayload() from exc


def _int_arg(request: Request, name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit():
        raise InvalidParameter(f"Invalid value for {name}: {raw}")
    return int(raw)


class EmarsysHandlers:
    """One method per route endpoint (see `urls`)."""

    def __init__(self, backend: SandboxBackend) -> None:
        self.backend = backend

    # --- auth -----------------------------------------------------------------------------

    def oauth_token(self, request: Request) -> Response:
        """`POST /oauth2/token` (docs/emarsys-api.md §2.2)."""
        try:
            token = self.backend.tokens.issue(
                request.headers.get("Authorization"), request.form.get("grant_type")
            )
        except OAuthError as exc:
            return json_response(
                {"error": exc.error, "error_description": exc.description}, exc.status
            )
        response = json_response(token)
        response.headers["Cache-Control"] = "no-store"
        return response

    # --- JSON reads -----------------------------------------------------------------------

    def fields(self, request: Request, version: str, language: str = "en") -> Response:
        """`GET /field` and `/field/translate/{language}`."""
        return envelope(self.backend.fields(language))

    def settings(self, request: Request, version: str) -> Response:
        """`GET /settings`."""
        return envelope(self.backend.settings())

    def campaigns(self, request: Request, version: str) -> Response:
        """`GET /email/?showdeleted=1`."""
        return envelope(self.backend.campaigns(request.args.get("showdeleted") == "1"))

    def launches(self, request: Request, version: str) -> Response:
        """`POST /email/getlaunchesofemail`."""
        body = read_json(request)
        email_id = body.get("emailId") if isinstance(body, dict) else None
        return envelope(self.backend.launches(email_id))

    def delivery_status(self, request: Request, version: str) -> Response:
        """`POST /email/getdeliverystatus`."""
        body = read_json(request)
        if not isinstance(body, dict):
            raise InvalidParameter("Missing parameter: emailId")
        return envelope(self.backend.delivery_status(body))

    def start_response_query(self, request: Request, version: str) -> Response:
        """`POST /email/responses` (1 per minute per API user, else 423/6028)."""
        user = str(request.environ.get(USER_KEY, ""))
        return envelope({"id": self.backend.start_response_query(user, read_json(request))})

    def response_query(self, request: Request, version: str, query_id: str) -> Response:
        """`GET /email/{id}/responses`."""
        return envelope(self.backend.response_query(query_id))

    def contact_lists(self, request: Request, version: str) -> Response:
        """`GET /contactlist`."""
        return envelope(self.backend.audiences("contactlist"))

    def segments(self, request: Request, version: str) -> Response:
        """`GET /filter`."""
        return envelope(self.backend.audiences("filter"))

    # --- exports --------------------------------------------------------------------------

    def start_export(self, request: Request, version: str, export_type: str) -> Response:
        """The five export POSTs: `data.id` is an integer (docs/emarsys-api.md §4)."""
        export_id = self.backend.start_export(export_type, read_json(request))
        return envelope({"id": export_id})

    def export_status(self, request: Request, version: str, export_id: str) -> Response:
        """`GET /export/{id}` (docs/emarsys-api.md §5.1)."""
        exports = self.backend.exports
        return envelope(exports.describe(exports.get(export_id)))

    def export_data(self, request: Request, version: str, export_id: str) -> Response:
        """`GET /export/{id}/data?offset=&limit=` streamed as chunked CSV (docs/emarsys-api.md
        §5.2).
        """
        backend = self.backend
        job = backend.exports.get(export_id)
        offset = _int_arg(request, "offset") or 0
        limit = _int_arg(request, "limit")
        if limit is not None and not 1 <= limit <= MAX_DOWNLOAD_LIMIT:
            raise InvalidParameter(f"Invalid value for limit: {limit}")
        export = backend.exports.file_for_download(job, backend.faults.expire_files)
        page = DownloadPage.of(job.spec, offset, limit)
        size, chunks = stream_file(export, page.first_row, page.row_limit, page.with_header)
        # Only fresh downloads count for `cut_download_every`; a resumed one (offset > 0)
        # always completes, so a client that resumes correctly always finishes.
        if size and not offset and backend.faults.next_download_cut():
            cut_at = middle_of_a_row(export, page.first_row, page.row_limit, page.with_header)
            chunks = _cut(chunks, cut_at)
        return Response(chunks, content_type=CSV_TYPE, direct_passthrough=True)

    # --- writes ---------------------------------------------------------------------------

    def contacts(self, request: Request, version: str) -> Response:
        """`PUT /contact?create_if_not_exists=1`: per-item errors inside HTTP 200."""
        create = request.args.get("create_if_not_exists") in ("1", "true")
        self.backend.check_contact_payload(len(request.get_data()))
        return envelope(self.backend.upsert_contacts(read_json(request), create))

    def contact_data(self, request: Request, version: str) -> Response:
        """`POST /contact/getdata`: per-key errors and the contacts found, inside HTTP 200."""
        return envelope(self.backend.contact_data(read_json(request)))

    def rds_records(self, request: Request, connection: str, table: str) -> Response:
        """RDS query (GET), insert (POST), replace (PUT), update (PATCH)."""
        rds = self.backend.rds
        if request.method == "GET":
            return json_response(rds.query(connection, table, dict(request.args.items())))
        body = read_json(request, rds=True)
        operation = {"POST": rds.insert, "PUT": rds.replace, "PATCH": rds.update}[request.method]
        return json_response({"replyCode": 0, "replyText": operation(connection, table, body)})

    def rds_upsert(self, request: Request, connection: str, table: str) -> Response:
        """RDS upsert keyed on the primary key."""
        text = self.backend.rds.upsert(connection, table, read_json(request, rds=True))
        return json_response({"replyCode": 0, "replyText": text})

    def rds_remove(self, request: Request, connection: str, table: str) -> Response:
        """RDS delete by criteria."""
        text = self.backend.rds.remove(connection, table, read_json(request, rds=True))
        return json_response({"replyCode": 0, "replyText": text})

    def behavior(self, request: Request, customer_id: str, **path: str) -> Response:
        """HDS behavior events (docs/emarsys-api.md §7)."""
        self.backend.store_events(customer_id, path, request.get_data())
        return json_response({"replyCode": 0, "replyText": "OK"})

    # --- /_sandbox control ----------------------------------------------------------------

    def sandbox_expected(self, request: Request) -> Response:
        """Ground truth of an export body."""
        export_type = request.args.get("export_type", "")
        try:
            body = json.loads(request.args.get("body", "{}"))
        except ValueError as exc:
            raise InvalidPayload() from exc
        return json_response(self.backend.expected_export(export_type, body))

    def sandbox_faults(self, request: Request) -> Response:
        """Read (GET) or change (POST JSON; `{"reset": true}` clears) the faults."""
        faults = self.backend.faults
        if request.method == "POST":
            body = read_json(request)
            if not isinstance(body, dict):
                raise InvalidParams("A JSON object of faults is expected")
            if body.pop("reset", False):
                faults.reset()
            faults.update(**body)
        return json_response(faults.snapshot())

    def sandbox_activity(self, request: Request) -> Response:
        """Append activity: `{"at": iso, "contacts": n}`."""
        body = read_json(request)
        try:
            at = datetime.fromisoformat(str(body["at"]).replace("Z", "+00:00"))
            count = int(body.get("contacts", 1))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidParams('Expected {"at": ISO 8601, "contacts": n}') from exc
        self.backend.account.add_activity(at, count)
        return json_response({"total_contacts": self.backend.account.total_contacts})

    def sandbox_rds(self, request: Request, connection: str, table: str) -> Response:
        """Rows of an RDS table."""
        return json_response(self.backend.rds.rows(connection, table))

    def sandbox_behavior(self, request: Request) -> Response:
        """Behavior events received."""
        return json_response(self.backend.events)

    def sandbox_contacts(self, request: Request) -> Response:
        """Contact writes received."""
        return json_response(self.backend.contacts_written())

    def sandbox_contact_state(self, request: Request) -> Response:
        """Every contact written to: `{contact id: fields as written, merged}`."""
        return json_response({str(k): v for k, v in self.backend.contact_state().items()})

    def sandbox_membership(self, request: Request) -> Response:
        """`{"audience_id": 101, "contact_id": 1000123, "member": false}`: join or leave."""
        body = read_json(request)
        if not isinstance(body, dict):
            raise InvalidParams('Expected {"audience_id": n, "contact_id": n, "member": bool}')
        self.backend.set_membership(
            body.get("audience_id"), body.get("contact_id"), body.get("member", False)
        )
        return json_response(body)

    def sandbox_requests(self, request: Request) -> Response:
        """The request log."""
        return json_response(self.backend.requests)


def _cut(chunks: Iterator[bytes], cut_at: int) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        if sent + len(chunk) >= cut_at:
            yield chunk[: cut_at - sent]
            raise DownloadCut("download cut by the sandbox fault")
        sent += len(chunk)
        yield chunk
