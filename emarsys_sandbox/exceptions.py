"""Every API error the sandbox can answer, each with its HTTP status, replyCode and text.

Handlers raise these; the WSGI layer renders them once, as the envelope of docs/emarsys-api.md §3
(RDS and HDS errors omit the `data` key, docs/emarsys-api.md §3.1).
"""

from __future__ import annotations

from typing_extensions import override


class SandboxError(Exception):
    """An Emarsys error reply.

    Attributes:
        status: HTTP status code.
        reply_code: Emarsys `replyCode`.
        reply_text: Emarsys `replyText` (never contains a credential).
        with_data: Whether the envelope carries `"data": ""` (False for RDS/HDS).
    """

    status = 400
    reply_code = 1001
    with_data = True

    def __init__(self, reply_text: str) -> None:
        super().__init__(reply_text)
        self.reply_text = reply_text

    def envelope(self) -> dict[str, object]:
        """The JSON body of the reply."""
        body: dict[str, object] = {"replyCode": self.reply_code, "replyText": self.reply_text}
        if self.with_data:
            body["data"] = ""
        return body


class Unauthorized(SandboxError):
    """401 / replyCode 1 (docs/emarsys-api.md §2.1); the text names the cause, never the secret."""

    status = 401
    reply_code = 1

    def __init__(self, reason: str) -> None:
        super().__init__(f"Unauthorized: {reason}")


class Forbidden(SandboxError):
    """403: the credential is valid but not for this API generation."""

    status = 403
    reply_code = 1

    def __init__(self, reason: str) -> None:
        super().__init__(f"Forbidden: {reason}")


class PermissionDenied(SandboxError):
    """403 without a replyCode: the OAuth2 API user lacks the endpoint's permission (§12.8).

    docs/emarsys-api.md §12.8: a missing permission answers 403, often without a replyCode, so
    the body is `{"error": "forbidden", "error_description": ...}`, not the envelope.
    """

    status = 403

    def __init__(self, permission: str) -> None:
        super().__init__(f"The API user lacks the '{permission}' permission for this endpoint.")

    @override
    def envelope(self) -> dict[str, object]:
        """`{"error": "forbidden", "error_description": ...}`: no replyCode, no data."""
        return {"error": "forbidden", "error_description": self.reply_text}


class TooManyContacts(SandboxError):
    """400 / 1000: a contact batch over a documented limit (docs/emarsys-api.md §12.9).

    More than 1000 contacts (or getdata keys), and a body over 8 MB, share the code: the remedy
    is the same (send a smaller batch).
    """

    status = 400
    reply_code = 1000


class RateLimited(SandboxError):
    """429 / 7003 (docs/emarsys-api.md §3.3)."""

    status = 429
    reply_code = 7003

    def __init__(self) -> None:
        super().__init__("Too many requests for this account and resource within the last minute.")


class InvalidParameter(SandboxError):
    """400 / 10001: export and JSON-read parameter validation (docs/emarsys-api.md §4.3)."""

    status = 400
    reply_code = 10001


class InvalidPayload(SandboxError):
    """400 / 1010: the body is not JSON."""

    status = 400
    reply_code = 1010

    def __init__(self) -> None:
        super().__init__("Invalid payload: the request body is not valid JSON.")


class InvalidParams(SandboxError):
    """400 / 1001: generic invalid parameters."""

    status = 400
    reply_code = 1001


class RouteNotFound(SandboxError):
    """404 for a path the API does not have."""

    status = 404
    reply_code = 1

    def __init__(self, path: str) -> None:
        super().__init__(f"Not found: {path}")


class MethodNotAllowed(SandboxError):
    """400 / 1009 (docs/emarsys-api.md §3.1, current catalogue)."""

    status = 400
    reply_code = 1009

    def __init__(self) -> None:
        super().__init__("Invalid HTTP method.")


class ExportAlreadyRunning(SandboxError):
    """400 / 4001 (docs/emarsys-api.md §4.3)."""

    status = 400
    reply_code = 4001

    def __init__(self) -> None:
        super().__init__(
            "An export with the same setting is currently running. It is not possible to run "
            "the same export more than once simultaneously."
        )


class ExportNotLocal(SandboxError):
    """404 / 4004 (docs/emarsys-api.md §5.2)."""

    status = 404
    reply_code = 4004

    def __init__(self) -> None:
        super().__init__('"distribution_method" of this export is not compatible.')


class ExportInProgress(SandboxError):
    """404 / 4005 (docs/emarsys-api.md §5.2)."""

    status = 404
    reply_code = 4005

    def __init__(self) -> None:
        super().__init__("Export is currently in progress. Please wait until that has finished.")


class ExportDataExpired(SandboxError):
    """410 / 4003 (docs/emarsys-api.md §5.2)."""

    status = 410
    reply_code = 4003

    def __init__(self) -> None:
        super().__init__("Exported data is not available.")


class ExportFileNotFound(SandboxError):
    """404 / 4006 (docs/emarsys-api.md §5.2): answered for exports that ended in `error`."""

    status = 404
    reply_code = 4006

    def __init__(self) -> None:
        super().__init__("Internal error occurred. File was not found.")


class ServerFault(SandboxError):
    """500 / 1003 injected by the `error_rate` fault."""

    status = 500
    reply_code = 1003

    def __init__(self) -> None:
        super().__init__("Internal server error (injected by the sandbox).")


class Overloaded(SandboxError):
    """503 injected by the `error_rate` fault (docs/emarsys-api.md §3.2: "The system is
    overloaded").
    """

    status = 503
    reply_code = 1003

    def __init__(self) -> None:
        super().__init__("The system is overloaded for this resource.")


class EmailError(SandboxError):
    """400 errors of the email JSON endpoints (docs/emarsys-api.md §6.1)."""

    status = 400

    def __init__(self, reply_code: int, reply_text: str) -> None:
        super().__init__(reply_text)
        self.reply_code = reply_code


class QueryTooFrequent(SandboxError):
    """423 / 6028: `POST /email/responses` runs at most once a minute (docs/emarsys-api.md §3.3,
    §6.3).
    """

    status = 423
    reply_code = 6028

    def __init__(self) -> None:
        super().__init__("Cannot run filters that often")


class NoSuchJob(SandboxError):
    """404 / 6029 (docs/emarsys-api.md §3.2, §6.3)."""

    status = 404
    reply_code = 6029

    def __init__(self) -> None:
        super().__init__("There is no job with the provided id")


class RdsError(SandboxError):
    """Relational Data errors (docs/emarsys-api.md §8): no `data` key in the reply."""

    with_data = False

    def __init__(self, status: int, reply_code: int, reply_text: str) -> None:
        super().__init__(reply_text)
        self.status = status
        self.reply_code = reply_code


class HdsError(SandboxError):
    """Behavior data errors (docs/emarsys-api.md §7): 400, replyCode 1/2/3, no `data` key."""

    with_data = False

    def __init__(self, reply_code: int, reply_text: str) -> None:
        super().__init__(reply_text)
        self.reply_code = reply_code
