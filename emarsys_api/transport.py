"""The wire: sessions, the reply envelope, typed errors, retries and rate-limit pacing.

Everything HTTP goes through `Transport.request` (JSON replies) or `Transport.open_stream`
(export downloads), so retries and pacing (`pacing.RatePacer`) apply in exactly one place.

Thread safety: each thread gets its own `requests.Session` (sessions are not documented as
thread-safe), while the rate-limit budget and the OAuth2 token are shared under locks. The target
can therefore call one client from several threads at once.
"""

from __future__ import annotations

import email.utils
import html
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import backoff
import msgspec
import requests
from requests.auth import AuthBase

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
    """Subclasses of str, int and float (a `SecretText` password) as their base type.

    msgspec encodes only the exact types; `json.dumps`, which it replaced, took subclasses too.
    """
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    raise NotImplementedError


_JSON_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_json_base_value)

T = TypeVar("T")

USER_AGENT = "emarsys-singer/0.1 (emarsys_api; python-requests)"
EXCERPT_CHARS = 160
RETRYABLE = (RateLimitedError, ServerError, NetworkError)
_SECRET_SHAPES = re.compile(
    r'(Bearer\s+|(?:PasswordDigest|Nonce|access_token|secret)"?\s*[:=]\s*"?)[A-Za-z0-9+/=._~-]{6,}',
    re.IGNORECASE,
)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)


# Reference 5.2: the download's 404s say different things.
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

    Reference 3.1/3.2: the same replyCode is reused across statuses, so both are looked at.
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

        def attempt() -> Reply:
            response = self._send(method, path, endpoint, params, json, data, headers, False)
            return self._parse(response, endpoint, envelope)

        return self._retrying(attempt)

    def open_stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> requests.Response:
        """Send a request whose successful body is read as a stream; the caller closes it.

        Retries apply until the body starts; a body cut later is the caller's to resume.
        """
        endpoint = f"{method} {path}"
        accept = {"Accept": "text/csv"}
        return self._retrying(
            lambda: self._send(method, path, endpoint, params, None, None, accept, True)
        )

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

    def _retrying(self, attempt: Callable[[], T]) -> T:
        retrying = backoff.on_exception(
            _retry_waits,
            RETRYABLE,
            max_tries=self.settings.max_retries + 1,
            giveup=lambda e: isinstance(e, EmarsysError) and e.permanent,
            jitter=None,
            on_backoff=self._log_backoff,
            logger=None,
            base=self.retry_base,
            max_wait=self.settings.max_wait,
        )(attempt)
        return retrying()

    def _log_backoff(self, details: Any) -> None:
        error = details.get("exception")
        if isinstance(error, EmarsysError):
            reason = error.summary
            where = error.endpoint
        else:
            reason, where = type(error).__name__, "request"
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
        stream: bool,
    ) -> requests.Response:
        if json is not None:
            # msgspec encodes a 1000-row body several times faster than requests' json= path,
            # which is most of a write request's cost on the client side.
            data = _JSON_ENCODER.encode(json)
            headers = {**(headers or {}), "Content-Type": "application/json"}
            json = None
        self.pacer.acquire()
        started = time.monotonic()
        try:
            response = self._session().request(
                method,
                self.settings.base_url + path,
                params=params,
                json=json,
                data=data,
                headers=headers,
                auth=self._auth,
                timeout=self.settings.timeout,
                allow_redirects=False,
                stream=stream,
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
        raise self._failure(response, endpoint)

    def _failure(self, response: requests.Response, endpoint: str) -> EmarsysError:
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
        body = response.content[:4096]
        response.close()
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

    def _parse(self, response: requests.Response, endpoint: str, envelope: bool) -> Reply:
        status = response.status_code
        body = response.content
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
            # Reference 3.1: business errors may come with HTTP 200 and a non-zero replyCode.
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
