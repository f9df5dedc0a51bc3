"""`tap-emarsys --report`: a first-contact report on a real Emarsys account.

Published Emarsys material disagrees with itself in several places (docs/emarsys-api.md §12),
and a real account may answer either way. Before the first nightly run a user wants to know
which way *their* account answers and whether everything the tap needs is permitted, in a text
they can paste into a bug report. So the report calls each JSON endpoint once, starts one small
export of each of the five kinds (`distribution_method: local`), watches its status walk, reads
two small pages of each file, and prints what it saw. It prints labels, counts and codes, never
contact data, credentials or tokens.

The probing is written here, against `emarsys_api` alone, on purpose: it describes what the
account does, independent of how the streams handle it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from typing_extensions import override

from emarsys_api import (
    AuthenticationError,
    ClientSettings,
    ConfigurationError,
    EmarsysClient,
    EmarsysError,
    ExportType,
    NotFoundError,
    PermissionDeniedError,
)
from emarsys_api.pacing import RatePacer
from emarsys_api.permissions import permission_for
from emarsys_singer.command_errors import one_line
from tap_emarsys.contact_fields import DEFAULT_CONTACT_FIELDS, EXPORT_FIELD_LIMIT
from tap_emarsys.sdk_overrides import config_input_settings
from tap_emarsys.streams import RESPONSE_SOURCES

if TYPE_CHECKING:
    from singer_sdk import Tap

#: Seconds each report export may take to build when `export_timeout` is not set: the tap's
#: default (an hour) is meant for year-long windows, not for the report's tiny ones.
REPORT_EXPORT_TIMEOUT = 180.0
#: Seconds an export may sit at `ready` before the report tries its download (docs/emarsys-api.md
#: §12.4), when `export_ready_grace` is not set.
REPORT_READY_GRACE = 30.0
#: Emarsys's documented default zone for export timestamps (docs/emarsys-api.md §12.7).
DEFAULT_ZONE = "Europe/Vienna"
#: At most this much of a paged download is read; more means `limit` was not honoured.
PAGE_BYTES = 1 << 16
#: Data rows asked for on the first page (`offset=0`): the header and two rows to compare the
#: `offset=1` page with (docs/emarsys-api.md §12.5).
FIRST_PAGE_ROWS = 2
# Every response source (the tap's own), and two analysis fields (Time, Campaign ID): a small
# body the tap's own response exports are a superset of.
RESPONSE_ANALYSIS_FIELDS = (8, 12)
LAST_UPDATE = "last update"
USER_ID = "user_id"
TIME_RANGED = frozenset(
    {ExportType.CONTACT_CHANGES, ExportType.CONTACT_REGISTRATIONS, ExportType.EMAIL_RESPONSES}
)
#: Settings the report reads only when the user gave them, not as the schema's defaults.
SET_BY_USER_ONLY = ("export_timeout", "export_ready_grace", "timezone")

OK = "ok"
DENIED = "denied"
FAILED = "failed"
NOT_CHECKED = "not checked"
TIMED_OUT = "timed out"


class RateLimitHeaders(RatePacer):
    """The client's pacer, also noting the rate-limit headers of every reply it learns from.

    The client hides reply headers; its pacer sees every one, so the report swaps this in to
    say which limit the account announces (docs/emarsys-api.md §12.11).
    """

    def __init__(self, max_wait: float) -> None:
        super().__init__(max_wait)
        self._lock = threading.Lock()
        self.replies = 0
        self.limits: set[str] = set()
        self.with_limit = 0
        self.lowest_remaining: int | None = None

    @override
    def release(self, headers: Mapping[str, str] | None) -> None:
        if headers is not None:
            with self._lock:
                self.replies += 1
                limit = headers.get("X-RateLimit-Limit")
                if limit:
                    self.with_limit += 1
                    self.limits.add(limit.strip())
                left = headers.get("X-Ratelimit-Remaining")
                if left and left.strip().isdigit():
                    value = int(left)
                    if self.lowest_remaining is None or value < self.lowest_remaining:
                        self.lowest_remaining = value
        super().release(headers)


@dataclass
class StreamCheck:
    """Whether one stream's endpoints answered, and which permission they need.

    Attributes:
        stream: the tap's stream name.
        permission: the API credential permission the endpoint needs (docs/emarsys-api.md §12.8).
        endpoint: what was called (method and path).
        outcome: `ok`, `denied` (HTTP 403), `failed` (another error) or `not checked`.
        detail: the error line, or why it was not checked.
    """

    stream: str
    permission: str
    endpoint: str
    outcome: str = NOT_CHECKED
    detail: str = ""

    @classmethod
    def of(cls, stream: str, endpoint: str) -> StreamCheck:
        """The check of `stream` calling `endpoint`, with the permission the client maps it to."""
        return cls(stream, permission_for(endpoint) or "unknown", endpoint)

    @property
    def missing(self) -> bool:
        """True when the stream is not shown to work (a timeout proves nothing either way)."""
        return self.outcome in (DENIED, FAILED, TIMED_OUT)

    def record(self, error: EmarsysError) -> None:
        """Note a failed call: a 403 is a missing permission, anything else a failure."""
        self.outcome = DENIED if is_denied(error) else FAILED
        self.endpoint = error.endpoint or self.endpoint
        if isinstance(error, PermissionDeniedError) and error.permission:
            self.permission = error.permission
        # The reply as Emarsys gave it (status, replyCode, text): the endpoint is shown apart.
        self.detail = " ".join(error.summary.split())
        if error.reply_code is None and error.status is not None:
            self.detail += " (no replyCode)"


@dataclass
class Page:
    """One `GET /export/{id}/data?offset=&limit=` reply, as CSV rows.

    Attributes:
        rows: the rows read (the last one dropped when the page was cut at `PAGE_BYTES`).
        json_reply: the reply was JSON, not CSV (docs/emarsys-api.md §12.5).
        cut: the page was longer than `PAGE_BYTES`, so `limit` was not honoured.
    """

    rows: list[list[str]]
    json_reply: bool = False
    cut: bool = False


@dataclass
class Paging:
    """What two small pages showed about `offset`/`limit` (docs/emarsys-api.md §12.5).

    Attributes:
        header_repeats: whether the `offset=1` page starts with the header (None: unknown).
        offset_counts: `data rows` or `lines` (the header being line 0); None: unknown.
        limit_honoured: whether `limit=2` gave at most two data rows.
        json_reply: whether a paged reply was JSON instead of CSV.
        note: why something could not be told.
    """

    header_repeats: bool | None = None
    offset_counts: str | None = None
    limit_honoured: bool = True
    json_reply: bool = False
    note: str = ""


@dataclass
class ExportCheck:
    """One small export of a stream: its request, status walk, header and paging.

    Attributes:
        check: the stream's check; its outcome is the whole export's.
        export_type: the export endpoint.
        scope: what the export covers, in words (`time_range [..]`, `contact list 101`).
        body: the export's JSON body.
        export_id: the id Emarsys gave.
        started: monotonic time the export was requested.
        statuses: each status seen first, with seconds since `started`.
        built: seconds until the file could be downloaded.
        ready_since: seconds at which `ready` was first seen.
        next_ready_try: monotonic time of the next download try at `ready`.
        stayed_ready: the file was downloaded while the export said `ready`.
        ready_tries: the downloads tried at `ready` that answered "not yet".
        header: the header row of the `offset=0` page.
        first_row: the first data row there (compared, never printed: it is contact data).
        paging: what the paged downloads showed.
    """

    check: StreamCheck
    export_type: ExportType
    scope: str
    body: dict[str, Any] = field(default_factory=dict)
    export_id: int | None = None
    started: float = 0.0
    statuses: list[tuple[str, float]] = field(default_factory=list)
    built: float | None = None
    ready_since: float | None = None
    next_ready_try: float = 0.0
    stayed_ready: bool = False
    ready_tries: list[str] = field(default_factory=list)
    header: list[str] | None = None
    first_row: list[str] | None = None
    paging: Paging | None = None

    @property
    def status_walk(self) -> str:
        """`scheduled 0.0 s -> in progress 1.2 s -> done 3.1 s`."""
        return " -> ".join(f"{state} {seconds:.1f} s" for state, seconds in self.statuses)

    @property
    def last_status(self) -> str | None:
        """The latest status seen."""
        return self.statuses[-1][0] if self.statuses else None


@dataclass(frozen=True)
class Variant:
    """One docs/emarsys-api.md §12 item and what the report saw of it.

    Attributes:
        section: `12.N`.
        topic: a few words naming the item.
        applies: True when the account shows the form the item warns about.
        seen: what was seen, in words.
    """

    section: str
    topic: str
    applies: bool
    seen: str


@dataclass
class AccountReport:
    """The report's text and whether everything the tap needs works.

    Attributes:
        lines: the report, line by line.
        ok: False when a credential, permission or export the tap needs is missing.
    """

    lines: list[str]
    ok: bool

    @property
    def text(self) -> str:
        """The report as printed."""
        return "\n".join(self.lines)


def is_denied(error: EmarsysError) -> bool:
    """A missing permission: HTTP 403, often without a replyCode (docs/emarsys-api.md §12.8)."""
    return isinstance(error, AuthenticationError) and error.status == 403


class FirstContact:
    """Runs the report's probes against one account and renders what they saw."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        export_timeout: float = REPORT_EXPORT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Check the settings the report needs; no request is sent yet.

        Args:
            config: the tap settings (validated by the SDK).
            export_timeout: seconds each export may take to build.
            clock: monotonic seconds (tests may pass their own).
            sleep: how to wait between polls.

        Raises:
            ConfigurationError: a setting is unusable (names the setting).
        """
        self.config = config
        self.settings = ClientSettings.from_config(config)
        self.export_timeout = _number(config, "export_timeout", export_timeout)
        self.poll_interval = _number(config, "export_poll_interval", 5.0)
        self.ready_grace = _number(config, "export_ready_grace", REPORT_READY_GRACE)
        self.zone_setting = _zone_setting(config)
        self.start_text = str(config.get("start_date") or "")
        if not self.start_text:
            raise ConfigurationError("is required (ISO 8601)", setting="start_date")
        self._start_instant(ZoneInfo(DEFAULT_ZONE))  # format errors before any request
        self.clock = clock
        self.sleep = sleep
        self.client = EmarsysClient(self.settings)
        self.rates = RateLimitHeaders(self.settings.max_wait)
        self.client.transport.pacer = self.rates
        self.api = self.client.api
        self.credentials = ""
        self.credentials_ok = False
        self.account_zone: str | None = None
        self.settings_check = StreamCheck.of("the account's time zone", f"GET {self.api}/settings")
        self.field_names: dict[int, str] = {}
        self.contact_fields: list[int] = list(DEFAULT_CONTACT_FIELDS)
        self.streams: list[StreamCheck] = []
        self.listings: dict[str, list[dict[str, Any]]] = {}
        self.exports: list[ExportCheck] = []

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> AccountReport:
        """Probe the account and render the report (the client is closed afterwards)."""
        try:
            if self.check_credentials():
                self.check_json_streams()
                self.check_exports()
        finally:
            self.client.close()
        return self.render()

    def check_credentials(self) -> bool:
        """One request (`GET /settings`): are the credentials accepted, and the account's zone.

        A 403 still means the credentials were accepted; only the `settings` permission is
        missing, and the tap then falls back to the `timezone` setting.
        """
        scheme = "OAuth2 (API v3)" if self.settings.auth_scheme == "oauth2" else "WSSE (API v2)"
        try:
            data = self.client.settings()
        except AuthenticationError as error:
            # A 403 from the token endpoint is a refused credential, not a missing permission.
            if not (is_denied(error) and error.endpoint == self.settings_check.endpoint):
                self.credentials = f"refused, {scheme}: {one_line(error)}"
                return False
            self.settings_check.record(error)
            data = None
        self.credentials_ok = True
        self.credentials = f"accepted, {scheme}"
        if data is not None:
            self.settings_check.outcome = OK
            zone = data.get("timezone")
            self.account_zone = str(zone) if zone else None
        return True

    def check_json_streams(self) -> None:
        """Call each JSON endpoint once; campaigns lead to one launch and its delivery status."""
        fields = self._json_check("contact_fields", "/field/translate/en")
        raw_fields = self._call(fields, lambda: self.client.fields(language="en"))
        if raw_fields is not None:
            self.field_names = {int(f["id"]): str(f.get("name") or "") for f in raw_fields}
            self.contact_fields = self._wanted_fields(raw_fields)
        for stream, path, call in (
            ("contact_lists", "/contactlist", self.client.contact_lists),
            ("segments", "/filter", self.client.segments),
        ):
            listing = self._call(self._json_check(stream, path), call)
            if listing is not None:
                self.listings[stream] = listing
        campaigns_check = self._json_check("email_campaigns", "/email/")
        campaigns = self._call(campaigns_check, self.client.email_campaigns)
        launches_check = self._json_check(
            "email_launches", "/email/getlaunchesofemail", method="POST"
        )
        status_check = self._json_check(
            "email_delivery_status", "/email/getdeliverystatus", method="POST"
        )
        if not campaigns:
            why = "no campaign to ask for" if campaigns == [] else "campaigns unreadable"
            launches_check.detail = status_check.detail = why
            return
        email_id = int(campaigns[0]["id"])
        launches = self._call(launches_check, lambda: self.client.email_launches(email_id))
        finished = [launch for launch in launches or [] if launch.get("done") == "y"]
        if not finished:
            status_check.detail = f"campaign {email_id} has no finished launch"
            return
        launch_id = int(finished[0]["id"])
        self._call(
            status_check,
            lambda: next(iter(self.client.delivery_status(email_id, launch_id)), []),
        )

    def check_exports(self) -> None:
        """Start one small export per export stream, wait for all, read two pages of each."""
        zone = self._zone()
        start = self._start_instant(zone)
        day = start.astimezone(zone).date()
        hour_range = [
            (start - dt.timedelta(hours=1)).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            start.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        ]
        day_range = [(day - dt.timedelta(days=1)).isoformat(), day.isoformat()]
        fields = self.contact_fields
        response_fields = fields[: EXPORT_FIELD_LIMIT - len(RESPONSE_ANALYSIS_FIELDS)]
        self.exports = [
            self._export(
                "contact_changes",
                ExportType.CONTACT_CHANGES,
                f"time_range {day_range} (the last whole day before start_date)",
                {"time_range": day_range, "origin": "all", "origin_id": 0},
            ),
            self._export(
                "contact_registrations",
                ExportType.CONTACT_REGISTRATIONS,
                f"time_range {hour_range} (the hour before start_date)",
                {"time_range": hour_range, "with_timestamp": 1},
            ),
            self._export(
                "email_responses",
                ExportType.EMAIL_RESPONSES,
                f"time_range {hour_range} (the hour before start_date)",
                {
                    "time_range": hour_range,
                    "sources": list(RESPONSE_SOURCES),
                    "analysis_fields": list(RESPONSE_ANALYSIS_FIELDS),
                    "contact_fields": response_fields,
                },
            ),
            self._audience_export(
                "contact_list_members",
                ExportType.CONTACT_LIST_MEMBERS,
                "contact_lists",
                "contactlist",
                "contact list",
            ),
            self._audience_export(
                "segment_members", ExportType.SEGMENT_MEMBERS, "segments", "filter", "segment"
            ),
        ]
        for export in self.exports:
            self.streams.append(export.check)
            if export.body:
                self._start(export)
        self._wait([e for e in self.exports if e.export_id is not None])
        for export in self.exports:
            if export.built is not None and not export.check.missing:
                self._read_pages(export)
                self._check_row_key(export)

    # -- JSON streams ------------------------------------------------------------------------

    def _json_check(self, stream: str, path: str, *, method: str = "GET") -> StreamCheck:
        check = StreamCheck.of(stream, f"{method} {self.api}{path}")
        self.streams.append(check)
        return check

    def _call(self, check: StreamCheck, call: Callable[[], Any]) -> Any:
        """Run `call` for `check`; its result, or None after noting the error."""
        try:
            result = call()
        except EmarsysError as error:
            check.record(error)
            return None
        check.outcome = OK
        return result

    def _wanted_fields(self, raw_fields: Sequence[Mapping[str, Any]]) -> list[int]:
        """The first export group of the `contact_fields` setting (ids or string ids)."""
        wanted = self.config.get("contact_fields") or DEFAULT_CONTACT_FIELDS
        by_text = {str(f.get("string_id")): int(f["id"]) for f in raw_fields if f.get("string_id")}
        ids: list[int] = []
        for item in wanted:
            text = str(item).strip()
            found = int(text) if text.isdigit() else by_text.get(text)
            if found is not None and found in self.field_names and found not in ids:
                ids.append(found)
        return ids[:EXPORT_FIELD_LIMIT] or list(DEFAULT_CONTACT_FIELDS)

    # -- exports -----------------------------------------------------------------------------

    def _export(
        self, stream: str, export_type: ExportType, scope: str, extras: Mapping[str, Any]
    ) -> ExportCheck:
        body = {
            "distribution_method": "local",
            "contact_fields": self.contact_fields,
            "language": "en",
            "add_field_names_header": 1,
            "delimiter": ",",
            **extras,
        }
        check = StreamCheck.of(stream, f"POST {self.api}/{export_type.value}")
        return ExportCheck(check, export_type, scope, body)

    def _audience_export(
        self, stream: str, export_type: ExportType, listing: str, body_key: str, kind: str
    ) -> ExportCheck:
        """The member export of the first list or segment (their listing needs its own right)."""
        audiences = self.listings.get(listing)
        if audiences is None:
            listed = next(check for check in self.streams if check.stream == listing)
            check = StreamCheck(stream, listed.permission, listed.endpoint, listed.outcome)
            check.detail = listed.detail or f"{listing} unreadable"
            return ExportCheck(check, export_type, f"the first {kind}")
        if not audiences:
            check = StreamCheck.of(stream, f"POST {self.api}/{export_type.value}")
            check.detail = f"the account has no {kind}"
            return ExportCheck(check, export_type, f"the first {kind}")
        audience_id = int(audiences[0]["id"])
        return self._export(stream, export_type, f"{kind} {audience_id}", {body_key: audience_id})

    def _start(self, export: ExportCheck) -> None:
        export.started = self.clock()
        try:
            export.export_id = self.client.start_export(export.export_type, export.body)
        except EmarsysError as error:
            export.check.record(error)

    def _wait(self, exports: list[ExportCheck]) -> None:
        """Poll every export until its file can be read, it fails, or its time is up."""
        pending = list(exports)
        while pending:
            for export in list(pending):
                if self._poll(export):
                    pending.remove(export)
            if pending:
                now = self.clock()
                deadline = min(e.started + self.export_timeout for e in pending)
                self.sleep(max(0.0, min(self.poll_interval, deadline - now)))

    def _poll(self, export: ExportCheck) -> bool:
        """One status check; True when the export needs no more polling."""
        assert export.export_id is not None
        try:
            state = str(self.client.export_status(export.export_id).get("status"))
        except EmarsysError as error:
            export.check.record(error)
            return True
        elapsed = self.clock() - export.started
        if state != export.last_status:
            export.statuses.append((state, elapsed))
        if state == "done":
            export.built = elapsed
            return True
        if state == "error":
            export.check.outcome = FAILED
            export.check.detail = f"export {export.export_id} ended in status error"
            return True
        if state == "ready":
            if export.ready_since is None:
                export.ready_since = elapsed
            waited = elapsed - export.ready_since >= self.ready_grace
            due = waited and self.clock() >= export.next_ready_try
            if due and self._download_at_ready(export, elapsed):
                return True
        if elapsed >= self.export_timeout:
            export.check.outcome = TIMED_OUT
            export.check.detail = (
                f"export {export.export_id} still {state!r} after {elapsed:.1f} s "
                f"(export_timeout {self.export_timeout:g} s)"
            )
            return True
        return False

    def _download_at_ready(self, export: ExportCheck, elapsed: float) -> bool:
        """Try the download of an export at `ready`; 404 (4005) means not yet."""
        assert export.export_id is not None
        try:
            page = self.download_page(export.export_id, 0, FIRST_PAGE_ROWS)
        except NotFoundError as error:
            code = f"/{error.reply_code}" if error.reply_code is not None else ""
            export.ready_tries.append(f"{error.status}{code} at {elapsed:.1f} s")
            export.next_ready_try = self.clock() + self.poll_interval
            return False
        except EmarsysError as error:
            export.check.record(error)
            return True
        export.stayed_ready = True
        export.built = elapsed
        self._first_page(export, page)
        return True

    def _read_pages(self, export: ExportCheck) -> None:
        """The header and first rows from `offset=0&limit=2`, then what `offset=1&limit=1` shows.

        The `offset=1` page starts with the header again or not, and with the first data row
        (offset counts lines, the header being line 0) or the second (offset counts data rows).
        Two rows on the first page tell the two apart even when `limit` counts lines too.
        """
        assert export.export_id is not None
        try:
            if export.paging is None:
                self._first_page(export, self.download_page(export.export_id, 0, FIRST_PAGE_ROWS))
            later = self.download_page(export.export_id, 1, 1)
        except EmarsysError as error:
            export.check.record(error)
            return
        export.check.outcome = OK
        assert export.paging is not None
        paging = export.paging
        paging.json_reply = paging.json_reply or later.json_reply
        if later.json_reply or export.header is None:
            return
        rows = later.rows
        if not rows:
            paging.note = "the offset=1 page was empty"
            return
        paging.header_repeats = rows[0] == export.header
        data = rows[1:] if paging.header_repeats else rows
        if export.first_row is None:
            paging.note = "the file has no data row"
        elif not data:
            paging.note = "the file has a single data row"
        else:
            paging.offset_counts = "lines" if data[0] == export.first_row else "data rows"

    def _check_row_key(self, export: ExportCheck) -> None:
        """Changes, registrations and responses rows are keyed by `user_id`: it must be there.

        Every published example of these three has it (docs/emarsys-api.md §12.1); unlike list
        and segment members, nothing else can stand in for it.
        """
        if (
            export.export_type in TIME_RANGED
            and export.header is not None
            and USER_ID not in _lower(export.header)
        ):
            export.check.outcome = FAILED
            export.check.detail = "the header has no user_id column, which keys these records"

    def _first_page(self, export: ExportCheck, page: Page) -> None:
        export.check.outcome = OK
        export.paging = Paging(json_reply=page.json_reply)
        if page.json_reply or not page.rows:
            return
        export.header = page.rows[0]
        export.first_row = page.rows[1] if len(page.rows) > 1 else None
        export.paging.limit_honoured = not page.cut and len(page.rows) <= 1 + FIRST_PAGE_ROWS

    def download_page(self, export_id: int, offset: int, limit: int) -> Page:
        """One page of the file, read up to `PAGE_BYTES` (a page ignoring `limit` is cut)."""
        path = f"{self.api}/export/{int(export_id)}/data"
        response = self.client.transport.open_stream(
            "GET", path, params={"offset": offset, "limit": limit}
        )
        try:
            response.raw.decode_content = True
            body = response.raw.read(PAGE_BYTES + 1)
        finally:
            response.close()
        cut = len(body) > PAGE_BYTES
        text = body[:PAGE_BYTES].decode("utf-8-sig", errors="replace")
        if "json" in response.headers.get("Content-Type", "") or text.lstrip().startswith("{"):
            return Page([], json_reply=True, cut=cut)
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if cut and rows:
            rows.pop()
        return Page(rows, cut=cut)

    # -- time zone ---------------------------------------------------------------------------

    def _zone(self) -> ZoneInfo:
        """The zone windows are read in: the setting, else the account's, else Vienna."""
        for name in (self.zone_setting, self.account_zone):
            if name:
                try:
                    return ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    continue
        return ZoneInfo(DEFAULT_ZONE)

    def _start_instant(self, zone: ZoneInfo) -> dt.datetime:
        text = self.start_text
        try:
            parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            msg = f"{text!r} is not an ISO 8601 date or timestamp"
            raise ConfigurationError(msg, setting="start_date") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)

    def time_zone_line(self) -> str:
        """The time zone finding: the account's zone next to the `timezone` setting."""
        setting = self.zone_setting
        if self.account_zone is None:
            why = "denied" if self.settings_check.outcome == DENIED else "not in GET /settings"
            return (
                f"account zone unknown ({why}); timezone setting: {setting or 'not set'} "
                f"(the tap falls back to {setting or DEFAULT_ZONE})"
            )
        text = f"account {self.account_zone} (GET /settings)"
        if setting is None:
            return f"{text}; timezone setting not set (the tap uses the account's)"
        if setting != self.account_zone:
            return (
                f"{text}; timezone setting {setting} DIFFERS: windows and timestamps would "
                f"be read in {setting}; remove the setting or set it to {self.account_zone}"
            )
        return f"{text}; timezone setting {setting} (same)"

    # -- findings ----------------------------------------------------------------------------

    def _export_of(self, stream: str) -> ExportCheck | None:
        return next((e for e in self.exports if e.check.stream == stream), None)

    def label_differences(self, export: ExportCheck) -> list[str]:
        """Contact-field labels of the header that differ from their `GET /field` name."""
        if export.header is None:
            return []
        fields = [int(f) for f in export.body.get("contact_fields", [])]
        first = 1 if export.header and export.header[0].lower() == USER_ID else 0
        found: list[str] = []
        for field_id, label in zip(fields, export.header[first:], strict=False):
            name = self.field_names.get(field_id)
            if name is not None and label != name:
                found.append(f"field {field_id}: {label!r} in the export, {name!r} in GET /field")
        for label in export.header:
            if label.lower() == LAST_UPDATE and label != LAST_UPDATE:
                found.append(f"{label!r} instead of {LAST_UPDATE!r}")
        return found

    def variants(self) -> tuple[list[Variant], list[str]]:
        """The §12 items the report could tell, and why it could not tell the others."""
        seen: list[Variant] = []
        unknown: list[str] = []
        for finding in (
            self._user_id_variant,
            self._last_update_variant,
            self._labels_variant,
            self._ready_variant,
            self._paging_variant,
            self._zone_variant,
            self._permissions_variant,
            self._rate_limit_variant,
        ):
            found = finding()
            if isinstance(found, Variant):
                seen.append(found)
            else:
                unknown.append(found)
        return seen, unknown

    def _user_id_variant(self) -> Variant | str:
        with_header = [e for e in self.exports if e.header is not None]
        members = [e for e in with_header if e.export_type not in TIME_RANGED]
        if not members:
            return "§12.1: no list or segment export header was read"
        lacking = [e.check.stream for e in members if USER_ID not in _lower(e.header)]
        if lacking:
            seen = f"no user_id column in {', '.join(lacking)}"
        else:
            seen = "user_id present in " + ", ".join(e.check.stream for e in members)
        unkeyed = [
            e.check.stream
            for e in with_header
            if e.export_type in TIME_RANGED and USER_ID not in _lower(e.header)
        ]
        if unkeyed:
            seen += f"; none in {', '.join(unkeyed)} either (its records cannot be keyed)"
        applies = bool(lacking or unkeyed)
        return Variant("12.1", "user_id in list and segment exports", applies, seen)

    def _last_update_variant(self) -> Variant | str:
        changes = self._export_of("contact_changes")
        if changes is None or changes.header is None:
            return "§12.2: no getchanges header was read"
        if LAST_UPDATE in _lower(changes.header):
            return Variant("12.2", "last update in getchanges", False, "present")
        return Variant("12.2", "last update in getchanges", True, "no 'last update' column")

    def _labels_variant(self) -> Variant | str:
        with_header = [e for e in self.exports if e.header is not None]
        if not with_header or not self.field_names:
            return "§12.3: no header was read, or GET /field was unreadable"
        where: dict[str, list[str]] = {}
        for export in with_header:
            for difference in self.label_differences(export):
                where.setdefault(difference, []).append(export.check.stream)
        every = len(with_header)
        seen = "; ".join(
            f"{difference} ({'every export' if len(streams) == every else ', '.join(streams)})"
            for difference, streams in where.items()
        )
        return Variant("12.3", "header labels", bool(where), seen or "every label as in GET /field")

    def _ready_variant(self) -> Variant | str:
        finished = [e for e in self.exports if e.built is not None]
        if not finished:
            return "§12.4: no export finished"
        stayed = [e.check.stream for e in finished if e.stayed_ready]
        if stayed:
            seen = f"stayed at ready, the file downloads there: {', '.join(stayed)}"
        else:
            seen = "every export reached done"
        return Variant("12.4", "ready vs done", bool(stayed), seen)

    def _paging_variant(self) -> Variant | str:
        paging = [(e.check.stream, e.paging) for e in self.exports if e.paging is not None]
        repeats = {p.header_repeats for _, p in paging if p.header_repeats is not None}
        counts = {p.offset_counts for _, p in paging if p.offset_counts is not None}
        odd = [stream for stream, p in paging if p.json_reply or not p.limit_honoured]
        if not (repeats or counts or odd):
            return "§12.5: no export file had two data rows to page through"
        facts = []
        if repeats == {True}:
            facts.append("header repeats on later pages")
        elif repeats == {False}:
            facts.append("header only on the first page")
        elif repeats:
            facts.append("header repeats on the later pages of some exports only")
        if counts:
            facts.append("offset counts " + " / ".join(sorted(c for c in counts if c)))
        else:
            facts.append("offset counting not told (no export had two data rows)")
        if odd:
            facts.append(f"limit not honoured or a JSON reply: {', '.join(odd)}")
        applies = repeats == {False} or len(repeats) > 1 or "lines" in counts or bool(odd)
        return Variant("12.5", "download paging", applies, "; ".join(facts))

    def _zone_variant(self) -> Variant | str:
        if self.account_zone is None:
            return "§12.7: GET /settings gave no timezone"
        differs = self.account_zone != DEFAULT_ZONE or (
            self.zone_setting is not None and self.zone_setting != self.account_zone
        )
        seen = f"account zone {self.account_zone}"
        if self.zone_setting:
            seen += f", timezone setting {self.zone_setting}"
        return Variant("12.7", "time zone", differs, seen)

    def _permissions_variant(self) -> Variant:
        denied: dict[str, list[str]] = {}
        for check in (self.settings_check, *self.streams):
            if check.outcome == DENIED:
                denied.setdefault(check.permission, []).append(check.stream)
        seen = "; ".join(
            f"`{permission}` denied ({', '.join(streams)})"
            for permission, streams in denied.items()
        )
        return Variant("12.8", "permissions", bool(denied), seen or "every call was permitted")

    def _rate_limit_variant(self) -> Variant | str:
        rates = self.rates
        if not rates.replies:
            return "§12.11: no reply was seen"
        if not rates.with_limit:
            seen = f"no X-RateLimit-Limit header on {rates.replies} replies (pacing only on 429)"
            return Variant("12.11", "rate limit", True, seen)
        seen = (
            f"X-RateLimit-Limit {', '.join(sorted(rates.limits))} on {rates.with_limit} of "
            f"{rates.replies} replies"
        )
        if rates.lowest_remaining is not None:
            seen += f", lowest X-Ratelimit-Remaining {rates.lowest_remaining}"
        return Variant("12.11", "rate limit", True, seen)

    # -- text --------------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """Everything the tap needs works: credentials, every stream's calls and exports."""
        return self.credentials_ok and not any(check.missing for check in self.streams)

    def render(self) -> AccountReport:
        """The report's lines (redacted once more as a last guard)."""
        lines = ["tap-emarsys first-contact report", f"API: {self.settings.base_url}{self.api}"]
        lines.append(f"Credentials: {self.credentials}")
        if not self.credentials_ok:
            lines.append("Result: the credentials were refused; nothing else was checked.")
            return self._finish(lines)
        lines.append(f"Time zone: {self.time_zone_line()}")
        delivery = str(self.config.get("delivery") or "api")
        if delivery != "api":
            lines.append(
                f"File delivery: `delivery` {delivery} is not checked here (the report's exports "
                "are local, read through GET /export/{id}/data); --test runs it."
            )
        if self.settings_check.outcome == DENIED:
            lines.append(
                f"  {self.settings_check.endpoint}: denied (permission `settings`): "
                f"{self.settings_check.detail}"
            )
        lines.append("")
        lines.append("Streams (one call each: outcome, the permission it needs, the call):")
        width = max(len(check.stream) for check in self.streams)
        permission_width = max(len(check.permission) for check in self.streams) + 2
        for check in self.streams:
            permission = f"`{check.permission}`"
            lines.append(
                f"  {check.stream:<{width}}  {check.outcome:<11}  "
                f"{permission:<{permission_width}}  {check.endpoint}"
            )
            if check.detail:
                lines.append(f"  {'':<{width}}  {check.detail}")
        lines.append("")
        fields = ", ".join(str(f) for f in self.contact_fields)
        lines.append(f"Exports (distribution_method local, contact fields {fields}):")
        for export in self.exports:
            lines.extend(self._export_lines(export))
        lines.append("")
        seen, unknown = self.variants()
        lines.append("Variants that apply to this account (docs/emarsys-api.md §12):")
        applying = [v for v in seen if v.applies]
        for variant in applying:
            lines.append(f"  §{variant.section} {variant.topic}: {variant.seen}")
        if not applying:
            lines.append("  none")
        others = [v for v in seen if not v.applies]
        if others:
            lines.append("Checked, not seen:")
            for variant in others:
                lines.append(f"  §{variant.section} {variant.topic}: {variant.seen}")
        if unknown:
            lines.append("Could not tell:")
            lines.extend(f"  {reason}" for reason in unknown)
        lines.append("")
        lines.append(self._result())
        return self._finish(lines)

    def _result(self) -> str:
        """The last line: everything works, or what is missing and what to do."""
        if self.ok:
            return "Result: everything the tap needs works."
        denied: dict[str, list[str]] = {}
        for check in self.streams:
            if check.outcome == DENIED:
                denied.setdefault(check.permission, []).append(check.stream)
        failed = [check.stream for check in self.streams if check.outcome == FAILED]
        late = [check.stream for check in self.streams if check.outcome == TIMED_OUT]
        parts = [
            f"permission `{permission}` ({', '.join(streams)})"
            for permission, streams in denied.items()
        ]
        if failed:
            parts.append(f"failed: {', '.join(failed)}")
        if late:
            parts.append(
                f"not built within export_timeout {self.export_timeout:g} s: {', '.join(late)} "
                "(rerun with a larger export_timeout)"
            )
        text = f"Result: something the tap needs is missing or unproven: {'; '.join(parts)}."
        if any(c.stream == "contact_fields" and c.missing for c in self.streams):
            text += " Every export stream needs GET /field too (its schema has the fields)."
        if denied:
            text += (
                " Grant the permissions to the API credential (Emarsys: Management > Security "
                "Settings > API credentials) or deselect those streams."
            )
        return text

    def _export_lines(self, export: ExportCheck) -> list[str]:
        check = export.check
        head = f"  {check.stream}: {export.export_type.value}, {export.scope}"
        if export.export_id is None:
            if check.outcome == NOT_CHECKED:
                return [head, f"    not started: {check.detail}"]
            return [head, f"    not started: {check.outcome} (`{check.permission}`, see above)"]
        if not export.statuses:
            return [head, f"    export {export.export_id}: {check.outcome}: {check.detail}"]
        lines = [head, f"    export {export.export_id}: {export.status_walk}"]
        if export.ready_tries:
            lines.append(f"    download at ready answered not yet: {', '.join(export.ready_tries)}")
        if export.built is not None:
            how = " (downloaded at ready)" if export.stayed_ready else ""
            lines.append(f"    built in {export.built:.1f} s{how}")
        if check.missing:
            lines.append(f"    {check.outcome}: {check.detail}")
        if export.header is not None:
            header = export.header
            lines.append(f"    header: {' | '.join(header)}")
            facts = [f"user_id {'present' if USER_ID in _lower(header) else 'ABSENT'}"]
            if export.export_type is ExportType.CONTACT_CHANGES:
                has = LAST_UPDATE in _lower(header)
                facts.append(f"last update {'present' if has else 'ABSENT'}")
            lines.append(f"    {'; '.join(facts)}")
            if self.field_names:
                differences = "; ".join(self.label_differences(export)) or "all equal"
            else:
                differences = "not compared (GET /field unreadable)"
            lines.append(f"    labels vs GET /field: {differences}")
        if export.paging is not None:
            lines.append(f"    paging: {_paging_text(export.paging)}")
        return lines

    def _finish(self, lines: list[str]) -> AccountReport:
        redact = self.client.transport.redact
        return AccountReport([redact(line) for line in lines], self.ok)


def _paging_text(paging: Paging) -> str:
    if paging.json_reply:
        return "a paged download answered JSON, not CSV"
    parts = []
    if paging.header_repeats is not None:
        parts.append(f"header repeats on later pages: {'yes' if paging.header_repeats else 'no'}")
    if paging.offset_counts is not None:
        parts.append(f"offset counts {paging.offset_counts}")
    if not paging.limit_honoured:
        parts.append("limit=1 was not honoured")
    if paging.note:
        parts.append(f"offset counting not told: {paging.note}")
    return "; ".join(parts) or "not told"


def _lower(labels: Sequence[str] | None) -> list[str]:
    return [label.strip().lower() for label in labels or []]


def _number(config: Mapping[str, Any], setting: str, default: float) -> float:
    """A seconds setting (0 or more); the SDK reads JSON floats as Decimal."""
    value = config.get(setting)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not number >= 0:
        msg = f"must be a number of at least 0, got {value!r}"
        raise ConfigurationError(msg, setting=setting)
    return number


def _zone_setting(config: Mapping[str, Any]) -> str | None:
    name = config.get("timezone")
    if not name:
        return None
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {name!r} (use an IANA name such as {DEFAULT_ZONE})"
        raise ConfigurationError(msg, setting="timezone") from None
    return str(name)


def account_report(
    config: Mapping[str, Any],
    *,
    export_timeout: float = REPORT_EXPORT_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> AccountReport:
    """Probe the account the settings name and return the report.

    Args:
        config: the tap settings.
        export_timeout: seconds each export may take (the `export_timeout` setting wins).
        clock: monotonic seconds.
        sleep: how to wait between status polls.

    Returns:
        The report; `ok` is False when something the tap needs is missing.

    Raises:
        ConfigurationError: a setting is unusable (one line through the command).
        EmarsysError: the account could not be reached at all (network, TLS, base_url).
    """
    return FirstContact(config, export_timeout=export_timeout, clock=clock, sleep=sleep).run()


def report_option(tap_class: type[Tap]) -> click.Option:
    """`--report`: print the first-contact report for the `--config` account and exit.

    Not eager: click processes eager options first, so `--config` (eager) is always parsed
    before this callback runs, whichever comes first on the command line.

    Args:
        tap_class: the tap whose settings schema validates the config.

    Returns:
        The click option to add to the tap's command.
    """

    def report(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if not value:
            return
        config_input = ctx.params.get("config")
        raw, parse_env = config_input_settings(config_input)
        tap = tap_class(
            config=raw, parse_env_config=parse_env, validate_config=True, setup_mapper=False
        )
        config = dict(tap.config)
        # The SDK fills in the schema's defaults. The report needs to know whether these were
        # set: the tap's waits are sized for real runs, and a default zone is no setting.
        for setting in SET_BY_USER_ONLY:
            from_env = parse_env and f"TAP_EMARSYS_{setting.upper()}" in os.environ
            if setting not in raw and not from_env:
                config.pop(setting, None)
        result = account_report(config)
        click.echo(result.text)
        ctx.exit(0 if result.ok else 1)

    return click.Option(
        ["--report"],
        is_flag=True,
        expose_value=False,
        callback=report,
        help=(
            "Check the account before the first run: credentials, permissions, time zone and "
            "one small export of each kind; prints a report (no secrets) and exits 1 when "
            "something the tap needs is missing."
        ),
    )
