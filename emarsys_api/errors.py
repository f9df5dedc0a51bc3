"""Typed errors of the Emarsys client.

Every error raised by `emarsys_api` is an `EmarsysError`, so callers can catch one class and still
tell the cases apart by subclass. Each carries the HTTP status, the Emarsys `replyCode` and
`replyText` and the endpoint (method and path, never a query string), and its message says what
the user can do about it. No credential, token, digest or header value ever enters a message.
"""

from __future__ import annotations


class EmarsysError(Exception):
    """An Emarsys request failed, or Emarsys answered with a non-zero `replyCode`.

    Attributes:
        status: HTTP status code, or None when no response was received.
        reply_code: the envelope's `replyCode`, or None when the body had none.
        reply_text: the envelope's `replyText` (or a short excerpt of a non-Emarsys body).
        endpoint: method and path, e.g. ``POST /api/v2/contact/getchanges``.
    """

    hint = "Check the request against the Emarsys API reference."
    #: seconds the server asked the client to wait before retrying (429 / 503), if it did
    retry_after: float | None = None
    #: True when retrying cannot help (e.g. a TLS verification failure)
    permanent: bool = False

    def __init__(
        self,
        status: int | None = None,
        reply_code: int | None = None,
        reply_text: str = "",
        endpoint: str = "",
        *,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.endpoint = endpoint
        if hint is not None:
            self.hint = hint
        super().__init__(self._compose())

    @property
    def summary(self) -> str:
        """Status, replyCode and reply text in one short phrase (for log lines)."""
        facts = []
        if self.status is not None:
            facts.append(f"HTTP {self.status}")
        if self.reply_code is not None:
            facts.append(f"replyCode {self.reply_code}")
        text = ", ".join(facts)
        if self.reply_text:
            text = f"{text}: {self.reply_text}" if text else self.reply_text
        return text or type(self).__name__

    def _compose(self) -> str:
        where = self.endpoint or "Emarsys request"
        return f"{where} failed ({self.summary}). {self.hint}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps errors picklable (they cross thread pools and multiprocessing in the connectors).
        return (
            _rebuild,
            (type(self), self.status, self.reply_code, self.reply_text, self.endpoint, self.hint),
        )


def _rebuild(
    cls: type[EmarsysError],
    status: int | None,
    reply_code: int | None,
    reply_text: str,
    endpoint: str,
    hint: str,
) -> EmarsysError:
    error = cls.__new__(cls)
    EmarsysError.__init__(error, status, reply_code, reply_text, endpoint, hint=hint)
    return error


class ConfigurationError(EmarsysError, ValueError):
    """The connector settings are incomplete or invalid; raised before any request is sent."""

    def __init__(self, message: str, *, setting: str) -> None:
        self.setting = setting
        super().__init__(reply_text=message, endpoint="", hint=f"Fix the `{setting}` setting.")

    def _compose(self) -> str:
        return f"Invalid configuration: {self.reply_text} {self.hint}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_configuration, (self.reply_text, self.setting))


def _rebuild_configuration(message: str, setting: str) -> ConfigurationError:
    return ConfigurationError(message, setting=setting)


class AuthenticationError(EmarsysError):
    """Emarsys rejected the credentials (HTTP 401, or 403 for a missing permission)."""

    hint = (
        "Check the credentials (username/secret for WSSE, client_id/client_secret for OAuth2) "
        "and, for WSSE, that this machine's clock is within 5 minutes of real time."
    )


class PermissionDeniedError(AuthenticationError):
    """The credentials were accepted but lack the endpoint's permission (HTTP 403).

    Built by `emarsys_api.permissions.permission_denied`, whose hint names the permission and
    where in Emarsys it is granted (docs/emarsys-api.md §12.8).

    Attributes:
        permission: the permission the endpoint needs (`exports`, `settings`, ...), or None
            when the endpoint is not one this client knows.
    """

    hint = "The API credential lacks the permission this endpoint needs; grant it in Emarsys."

    def __init__(
        self,
        status: int | None = None,
        reply_code: int | None = None,
        reply_text: str = "",
        endpoint: str = "",
        *,
        permission: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.permission = permission
        super().__init__(status, reply_code, reply_text, endpoint, hint=hint)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_permission_denied,
            (
                self.status,
                self.reply_code,
                self.reply_text,
                self.endpoint,
                self.permission,
                self.hint,
            ),
        )


def _rebuild_permission_denied(
    status: int | None,
    reply_code: int | None,
    reply_text: str,
    endpoint: str,
    permission: str | None,
    hint: str,
) -> PermissionDeniedError:
    return PermissionDeniedError(
        status, reply_code, reply_text, endpoint, permission=permission, hint=hint
    )


class RateLimitedError(EmarsysError):
    """Still over the Emarsys rate limit (HTTP 429) after every allowed retry."""

    hint = (
        "The API user is over its request limit; lower parallelism or retry later "
        "(max_retries / max_wait raise the client's patience)."
    )


class NotFoundError(EmarsysError):
    """The resource does not exist (HTTP 404): unknown id, table, connection or export file."""

    hint = "Check the ids and names in the request (export id, RDS connection and table, ...)."


class ValidationError(EmarsysError):
    """Emarsys refused the request's content (HTTP 4xx other than 401/404/429)."""

    hint = "Fix the request parameters named in the reply text."


class ServerError(EmarsysError):
    """Emarsys failed (HTTP 5xx) on every allowed retry."""

    hint = "Emarsys is failing or overloaded; retry later."


class NetworkError(EmarsysError):
    """No response: connection refused, reset or timed out on every allowed retry."""

    hint = "Check base_url / token_url, network access and the timeout setting."


class ResponseFormatError(EmarsysError):
    """The reply is not an Emarsys envelope (non-JSON, HTML error page, missing replyCode)."""

    hint = (
        "The body is not an Emarsys API reply; check base_url (a proxy or login page may be "
        "answering instead of Emarsys)."
    )


class RowError(EmarsysError):
    """Emarsys rejected one item of a batch while accepting the others (HTTP 200).

    Attributes:
        key: the item's key value as the caller sent it (e.g. the contact's email).
        code: the Emarsys error code for that item, as a string (e.g. ``"2008"``).
        text: the Emarsys error text for that item.
    """

    hint = "Fix or drop that item; the rest of the batch was accepted."

    def __init__(self, key: str, code: str, text: str, endpoint: str = "") -> None:
        self.key = key
        self.code = code
        self.text = text
        reply_code = int(code) if code.isdigit() else None
        super().__init__(200, reply_code, f"item {key!r}: {text}", endpoint)

    def __reduce__(self) -> tuple[object, ...]:
        return (RowError, (self.key, self.code, self.text, self.endpoint))


class ExportError(EmarsysError):
    """An export job could not produce its file."""

    hint = "Start the export again."


class ExportFailedError(ExportError):
    """The export job ended in status ``error``."""

    hint = "Emarsys could not build the export; start it again (a smaller window may help)."


class ExportTimeoutError(ExportError):
    """The export job was not done within the allowed time."""

    hint = "Raise export_timeout, or export a smaller time window."


class ExportExpiredError(ExportError):
    """The export's file is no longer stored (HTTP 410, replyCode 4003)."""

    hint = "Start the export again and download it soon after it is done."


class ExportAlreadyRunningError(ExportError):
    """An identical export is still running (HTTP 400, replyCode 4001)."""

    hint = "Wait for the running export to finish, then start it again."
