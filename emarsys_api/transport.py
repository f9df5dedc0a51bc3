"""The wire: sessions, the reply envelope, typed errors, retries and rate-limit pacing.

Everything HTTP goes through `Transport.request` (JSON replies) or `Transport.open_stream`
(export downloads), so retries and pacing (`pacing.RatePacer`) apply in exactly one place.

Thread safety: each thread gets its own `requests.Session` (sessions are not documented as
thread-safe), while the rate-limit budget and the OAuth2 token are shared under locks. The target
can therefore call one client from several threads at once.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import http.client
import io
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import backoff
import msgspec
import requests
import urllib3
from requests.auth import AuthBase
from typing_extensions import override

from emarsys_api.errors import (
    AuthenticationError,
    EmarsysError,
    ExportAlreadyRunningError,
    ExportExpiredError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ResponseFormatError,
    ServerError,
    ValidationError,
)
from emarsys_api.pacing import RatePacer, reset_time
from emarsys_api.permissions import permission_denied
from emarsys_api.settings import ClientSettings

logger = logging.getLogger("emarsys_api")


def _json_base_value(value: Any) -> Any:
    """What msgspec cannot encode by itself, in a form it can (what `json.dumps` took too).

    Subclasses of str, int and float (a `SecretText` password) go as their base type, any
    other mapping as a dict. So a caller's rows go into the body as they are: copying every
    row first cost a write request more than encoding it.
    """
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise NotImplementedError


_JSON_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_json_base_value)

T = TypeVar("T")

USER_AGENT = "emarsys-singer/0.1 (emarsys_api; python-requests)"
READ_CHUNK = 1 << 16
EXCERPT_CHARS = 160
RETRYABLE = (RateLimitedError, ServerError, NetworkError)
_SECRET_SHAPES = re.compile(
    r'(Bearer\s+|(?:PasswordDigest|Nonce|access_token|secret)"?\s*[:=]\s*"?)[A-Za-z0-9+/=._~-]{6,}',
    re.IGNORECASE,
)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)


# docs/emarsys-api.md §5.2: the download's 404s say different things.
_NOT_FOUND_HINTS = {
    4004: "Only exports with distribution_method 'local' can be downloaded through the API.",
    4005: "Wait until the export is done (export status 'done') before downloading it.",
    4006: "Emarsys lost the export file; start the export again.",
}


@dataclass(frozen=True)
class Reply:
    """An Emarsys envelope with `replyCode` 0.

    Attributes:
        status: HTTP status code.
        reply_code: always 0 for a returned reply (non-zero codes raise).
        reply_text: the envelope's `replyText`.
        data: the envelope's `data`, or None when absent (RDS and HDS replies have none).
    """

    status: int
    reply_code: int
    reply_text: str
    data: Any


def classify(status: int, reply_code: int | None, reply_text: str, endpoint: str) -> EmarsysError:
    """Turn an unsuccessful reply into the matching typed error (keyed on status + replyCode).

    docs/emarsys-api.md §3.1/§3.2: the same replyCode is reused across statuses, so both are
    looked at.
    """
    args = (status, reply_code, reply_text, endpoint)
    if status == 401:
        return AuthenticationError(*args)
    if status == 403:
        # docs/emarsys-api.md §12.8: a missing permission, often without a replyCode.
        return permission_denied(*args)
    if status == 429:
        return RateLimitedError(*args)
    if status == 410 or (status >= 400 and reply_code == 4003):
        return ExportExpiredError(*args)
    if status == 400 and reply_code == 4001:
        return ExportAlreadyRunningError(*args)
    if status == 404:
        return NotFoundError(*args, hint=_NOT_FOUND_HINTS.get(reply_code or 0))
    if status >= 500:
        return ServerError(*args)
    if status >= 400:
        return ValidationError(*args)
    return EmarsysError(*args)


def retry_wait(error: BaseException, attempt: int, *, base: float, max_wait: float) -> float:
    """Seconds to wait before retry number `attempt` (0-based) after `error`.

    A wait the server asked for (`Retry-After`, `X-RateLimit-Reset`) is honoured, capped at
    `max_wait`; otherwise the wait grows exponentially with jitter.
    """
    hinted = error.retry_after if isinstance(error, EmarsysError) else None
    if hinted is not None:
        return float(min(max(hinted, 0.05), max_wait))
    return float(min(max_wait, base * 2**attempt) * random.uniform(0.5, 1.0))


def server_wait(headers: Mapping[str, str], now: float) -> float | None:
    """The wait a 429/503 reply asks for: `Retry-After`, else `X-RateLimit-Reset` minus now."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, email.utils.parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = reset_time(headers, now)
    return None if reset is None else max(0.0, reset - now)


def _retry_waits(*, base: float, max_wait: float) -> Generator[float, Any, None]:
    """A `backoff` wait generator that reads each failure's `retry_after`."""
    attempt = 0
    error = yield 0.0
    while True:
        wait = retry_wait(error, attempt, base=base, max_wait=max_wait)
        attempt += 1
        error = yield wait


class Transport:
    """One Emarsys host: authenticated requests with envelope checks, retries and pacing."""

    retry_base = 0.5
    #: seconds of reading over which an export download must reach `min_download_rate`
    rate_window = 10.0

    def __init__(
        self,
        settings: ClientSettings,
        auth: AuthBase,
        *,
        secrets: Callable[[], list[str]] = list,
    ) -> None:
        self.settings = settings
        self._auth = auth
        self._secrets = secrets
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.pacer = RatePacer(settings.max_wait)
        self.downloaded_bytes = 0  # export file bytes read, for the connectors' summaries

    def count_download(self, size: int) -> None:
        """Add `size` bytes of export file read to `downloaded_bytes`."""
        with self._lock:
            self.downloaded_bytes += size

    # -- public -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        envelope: bool = True,
    ) -> Reply:
        """Send a request and return its successful envelope.

        Args:
            method: HTTP method.
            path: path below `base_url`, starting with ``/api/``.
            params: query parameters.
            json: JSON body.
            data: raw body (with a matching Content-Type in `headers`).
            headers: extra headers.
            envelope: False for replies that are plain JSON rather than an envelope (RDS query);
                `data` of the returned `Reply` is then the whole body.

        Raises:
            EmarsysError: a typed subclass for every failure, after retries where they apply.
        """
        endpoint = f"{method} {path}"
        deadline = time.monotonic() + self.settings.request_deadline

        def attempt() -> Reply:
            response = self._send(method, path, endpoint, params, json, data, headers, deadline)
            body = self._read_body(response, endpoint, deadline)
            return self._parse(response.status_code, body, endpoint, envelope)

        return self._retrying(attempt, endpoint, deadline)

    def open_stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> requests.Response:
        """Send a request whose successful body is read as a stream; the caller closes it.

        Retries and `request_deadline` apply until the body starts; a body cut later is the
        caller's to resume. With `min_download_rate`, `response.raw` is a `DownloadRateFloor`:
        a body that stalls or trickles below the floor raises `DownloadTooSlow`, one of the
        errors a dropped connection raises, so the caller resumes it like a cut.
        """
        endpoint = f"{method} {path}"
        accept = {"Accept": "text/csv"}
        deadline = time.monotonic() + self.settings.request_deadline
        response = self._retrying(
            lambda: self._send(method, path, endpoint, params, None, None, accept, deadline),
            endpoint,
            deadline,
        )
        floor = self.settings.min_download_rate
        if floor > 0:
            window = min(self.rate_window, self.settings.timeout)
            # A read that gets nothing for a whole window is below any floor: stop waiting.
            _set_read_timeout(response, window)
            response.raw = DownloadRateFloor(response.raw, floor, window, endpoint)
        else:
            _set_read_timeout(response, self.settings.timeout)
        return response

    def close(self) -> None:
        """Close every thread's session."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def redact(self, text: str) -> str:
        """Remove credentials and anything shaped like a digest, nonce or token from `text`."""
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, "<redacted>")
        return _SECRET_SHAPES.sub(r"\1<redacted>", text)

    # -- internals ---------------------------------------------------------------------------

    def _retrying(self, attempt: Callable[[], T], endpoint: str, deadline: float) -> T:
        """Run `attempt` with retries, until it succeeds, fails for good or `deadline` passes.

        backoff's `max_time` stops the retries (and shortens the last wait) at the deadline;
        `_send` and `_read_body` make sure no single attempt outlives it.

        Retry layers: 1 of 4, each request (the others: download resume in
        `exports.export_rows`, file re-fetch in `file_delivery`, export re-request in
        `tap_emarsys.export_runner`).
        """
        retrying = backoff.on_exception(
            _retry_waits,
            RETRYABLE,
            max_tries=self.settings.max_retries + 1,
            max_time=self.settings.request_deadline,
            giveup=lambda e: isinstance(e, EmarsysError) and e.permanent,
            jitter=None,
            on_backoff=lambda details: self._log_backoff(details, failures),
            logger=None,
            base=self.retry_base,
            max_wait=self.settings.max_wait,
        )(attempt)
        failures: list[str] = []  # each retried failure, to name the last one at the deadline
        try:
            return retrying()
        except RequestDeadlineError as error:
            if error.before_sending and failures:
                raise self._past_deadline(endpoint, failures[-1]) from None
            raise
        except RETRYABLE as error:
            if time.monotonic() < deadline:
                raise
            raise self._past_deadline(endpoint, error.summary) from None

    def _past_deadline(self, endpoint: str, last: str) -> RequestDeadlineError:
        error = RequestDeadlineError(
            reply_text=f"no complete reply within request_deadline="
            f"{self.settings.request_deadline:g} s (last attempt: {last})",
            endpoint=endpoint,
        )
        error.permanent = True
        return error

    def _log_backoff(self, details: Any, failures: list[str]) -> None:
        error = details.get("exception")
        if isinstance(error, EmarsysError):
            reason = error.summary
            where = error.endpoint
        else:
            reason, where = type(error).__name__, "request"
        failures.append(reason)
        why = "the server asked to wait" if getattr(error, "retry_after", None) else "back-off"
        logger.warning(
            "%s: %s (retry %d of %d in %.1f s, %s)",
            where,
            reason,
            details["tries"],
            self.settings.max_retries,
            details["wait"],
            why,
        )

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
            session.verify = True
            with self._lock:
                self._sessions.append(session)
            self._local.session = session
        return session

    def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        deadline: float,
    ) -> requests.Response:
        """One attempt; the body is left unread (`_read_body` or the caller reads it).

        The connection and each read wait at most `timeout`, and never past `deadline`.
        """
        if json is not None:
            # msgspec encodes a 1000-row body several times faster than requests' json= path,
            # which is most of a write request's cost on the client side.
            data = _JSON_ENCODER.encode(json)
            headers = {**(headers or {}), "Content-Type": "application/json"}
            json = None
        self.pacer.acquire()
        started = time.monotonic()
        remaining = deadline - started
        if remaining <= 0:
            self.pacer.release(None)
            late = self._past_deadline(endpoint, "the deadline passed before it was sent")
            late.before_sending = True
            raise late
        wait = min(self.settings.timeout, remaining)
        try:
            response = self._session().request(
                method,
                self.settings.base_url + path,
                params=params,
                json=json,
                data=data,
                headers=headers,
                auth=self._auth,
                timeout=wait,
                allow_redirects=False,
                # Always streamed: requests would read a whole body with no deadline, and a
                # reply trickling a byte every few seconds never trips a read timeout.
                stream=True,
            )
        except requests.exceptions.SSLError:
            self.pacer.release(None)
            error = NetworkError(
                reply_text="TLS verification failed",
                endpoint=endpoint,
                hint="Check base_url and the server certificate (verification is always on).",
            )
            error.permanent = True
            raise error from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.pacer.release(None)
            host = urlsplit(self.settings.base_url).netloc
            raise NetworkError(
                reply_text=f"no response from {host} ({type(exc).__name__})", endpoint=endpoint
            ) from None
        except BaseException:
            self.pacer.release(None)
            raise
        self.pacer.release(response.headers)
        logger.debug(
            "%s -> HTTP %d in %.3f s", endpoint, response.status_code, time.monotonic() - started
        )
        if response.status_code < 300:
            return response
        raise self._failure(response, endpoint, deadline)

    def _read_body(
        self,
        response: requests.Response,
        endpoint: str,
        deadline: float,
        limit: int | None = None,
    ) -> bytes:
        """The reply body, read piece by piece so that `deadline` holds for a trickling server.

        Each read returns what one receive got (`read1`) and waits at most until the deadline;
        reaching the end hands the connection back to the pool for the next request.

        Raises:
            RequestDeadlineError: the body was not complete by `deadline`.
            NetworkError: the connection broke off in the middle of the body (retryable).
        """
        raw = response.raw
        chunks: list[bytes] = []
        size = 0
        try:
            while limit is None or size < limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._past_deadline(endpoint, f"{size} bytes of the reply arrived")
                _set_read_timeout(response, min(self.settings.timeout, remaining))
                chunk = raw.read1(READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            response.close()
            host = urlsplit(self.settings.base_url).netloc
            raise NetworkError(
                reply_text=f"reply from {host} broke off ({type(exc).__name__})",
                endpoint=endpoint,
            ) from None
        except BaseException:
            response.close()
            raise
        if limit is not None:
            response.close()
        return b"".join(chunks)

    def _failure(self, response: requests.Response, endpoint: str, deadline: float) -> EmarsysError:
        status = response.status_code
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", "")).hostname or "elsewhere"
            response.close()
            error: EmarsysError = ResponseFormatError(
                status,
                None,
                f"unexpected redirect to {target} (not followed, credentials stay here)",
                endpoint,
                hint="Set base_url to the final API address (e.g. https instead of http).",
            )
            return error
        body = self._read_body(response, endpoint, deadline, limit=4096)[:4096]
        reply_code, reply_text = self._error_body(body)
        error = classify(status, reply_code, reply_text, endpoint)
        if status == 429:
            error.retry_after = server_wait(response.headers, time.time())
        elif status == 503 and response.headers.get("Retry-After"):
            # Only an explicit Retry-After: the rate-limit reset says nothing about an outage.
            error.retry_after = server_wait(response.headers, time.time())
        return error

    def _error_body(self, body: bytes) -> tuple[int | None, str]:
        try:
            parsed = json.loads(body)
        except ValueError:
            return None, self._excerpt(body)
        if isinstance(parsed, dict) and "replyCode" in parsed:
            code = _reply_code(parsed["replyCode"])
            return code, self.redact(str(parsed.get("replyText") or ""))
        return None, self._excerpt(body)

    def _parse(self, status: int, body: bytes, endpoint: str, envelope: bool) -> Reply:
        try:
            parsed = json.loads(body)
        except ValueError:
            raise ResponseFormatError(
                status, None, f"reply is not JSON: {self._excerpt(body)}", endpoint
            ) from None
        if not envelope and not (isinstance(parsed, dict) and "replyCode" in parsed):
            return Reply(status, 0, "", parsed)
        if not isinstance(parsed, dict) or "replyCode" not in parsed:
            raise ResponseFormatError(
                status, None, f"reply has no replyCode: {self._excerpt(body)}", endpoint
            )
        code = _reply_code(parsed["replyCode"])
        text = self.redact(str(parsed.get("replyText") or ""))
        if code is None:
            raise ResponseFormatError(
                status, None, f"replyCode is not a number: {self._excerpt(body)}", endpoint
            )
        if code != 0:
            # docs/emarsys-api.md §3.1: business errors may come with HTTP 200 and a non-zero
            # replyCode.
            raise classify(status, code, text, endpoint)
        return Reply(status, code, text, parsed.get("data"))

    def _excerpt(self, body: bytes) -> str:
        text = body[:2048].decode("utf-8", errors="replace")
        text = html.unescape(_TAGS.sub(" ", text))
        text = " ".join(text.split())
        if len(text) > EXCERPT_CHARS:
            text = text[:EXCERPT_CHARS] + "..."
        return repr(self.redact(text)) if text else "(empty body)"


def _reply_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


class RequestDeadlineError(NetworkError):
    """One API call took longer than `request_deadline` (attempts, waits and reading).

    Attributes:
        before_sending: the deadline passed during the wait before an attempt, so the
            failure worth naming is the previous attempt's.
    """

    before_sending = False

    hint = (
        "The server did not answer in time; check base_url and network access, or raise "
        "request_deadline (and timeout) if the account is known to be this slow."
    )


class DownloadTooSlow(TimeoutError):
    """An export download stalled or trickled below `min_download_rate`.

    A `TimeoutError`, so the download's resume logic (`exports.DROPPED_CONNECTION`) treats it
    as a dropped connection: the body is closed and requested again from the rows already read.
    """


class DownloadRateFloor(io.BufferedIOBase):
    """The raw body of an export download, failing when the server sends too slowly.

    Only the time spent inside reads counts: a tap held up by a slow consumer (its stdout pipe
    full) reads less often, which says nothing about the server. Whenever `window` seconds
    of reading have passed, they must have brought `min_rate` bytes a second; the socket's
    read timeout is `window` too, so a read that gets nothing fails as well.

    It stands in for urllib3's response as `requests.Response.raw`: reads, `tell` (bytes
    received), `decode_content`, `auto_close`, `close` and `release_conn` reach the wrapped one.
    """

    def __init__(
        self, raw: urllib3.HTTPResponse, min_rate: float, window: float, endpoint: str
    ) -> None:
        """Wrap `raw`; the first window starts with the first read.

        Args:
            raw: the response body stream (`requests.Response.raw`).
            min_rate: bytes per second the reads must bring (`min_download_rate`).
            window: seconds of reading each check covers.
            endpoint: method and path, for the error text.
        """
        super().__init__()
        self._raw = raw
        self._min_rate = min_rate
        self._window = window
        self._endpoint = endpoint
        self._reading = 0.0  # seconds spent in reads since the window started
        self._window_start = raw.tell()

    @property
    def decode_content(self) -> bool:
        """Whether the body is decompressed as read (urllib3's attribute)."""
        return bool(self._raw.decode_content)

    @decode_content.setter
    def decode_content(self, value: bool) -> None:
        self._raw.decode_content = value

    @property
    def auto_close(self) -> bool:
        """Whether the stream closes itself at the end of the body (urllib3's attribute)."""
        return bool(self._raw.auto_close)

    @auto_close.setter
    def auto_close(self, value: bool) -> None:
        self._raw.auto_close = value

    @property
    def closed(self) -> bool:
        """Whether the wrapped stream is closed."""
        return bool(self._raw.closed)

    @override
    def readable(self) -> bool:
        return True

    @override
    def tell(self) -> int:
        """Bytes received so far (before decoding), as urllib3 counts them."""
        return int(self._raw.tell())

    @override
    def read(self, size: int | None = -1) -> bytes:
        return self._timed(self._raw.read, size)

    @override
    def read1(self, size: int = -1) -> bytes:
        return self._timed(self._raw.read1, size)

    @override
    def close(self) -> None:
        self._raw.close()
        super().close()

    def release_conn(self) -> None:
        """Hand the connection back to the pool (what `requests.Response.close` calls)."""
        self._raw.release_conn()

    def _timed(self, read: Callable[[int | None], bytes], size: int | None) -> bytes:
        started = time.monotonic()
        data = read(None if size is None or size < 0 else size)
        self._reading += time.monotonic() - started
        if self._reading >= self._window:
            received = self._raw.tell() - self._window_start
            if received < self._min_rate * self._reading:
                rate = received / self._reading
                raise DownloadTooSlow(
                    f"{self._endpoint}: {received} bytes in {self._reading:.1f} s of reading "
                    f"({rate:.0f} B/s, min_download_rate {self._min_rate:g} B/s)"
                )
            self._reading = 0.0
            self._window_start = self._raw.tell()
        return data


def _set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Let each further read of `response`'s body wait at most `seconds` (best effort).

    requests sets one read timeout per request, but the body is read later, against the
    request's deadline or a download's rate window, so the socket's timeout is changed. The
    socket sits below urllib3 and http.client (`raw._fp.fp.raw._sock`, no public way there);
    where the chain differs the request's own timeout stays, which still bounds every read.
    """
    http_response = getattr(response.raw, "_fp", None)
    buffered = getattr(http_response, "fp", None)
    sock = getattr(getattr(buffered, "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.settimeout(max(seconds, 0.001))
