"""The one Emarsys API client used by tap-emarsys and target-emarsys (knows nothing of Singer).

`EmarsysClient` (`client`) is the API as methods; `settings` validates where Emarsys is and how
patient to be, `auth` signs requests (WSSE, OAuth2), `transport` sends them (retries, pacing,
deadlines), `errors` types every failure, `exports` starts, polls and downloads exports,
`file_delivery` and `sftp` fetch export files from WebDAV/SFTP, `notifications` listens for
export callbacks, `csv_upload` writes bulk RDS files, `permissions` names what an endpoint needs.
"""

from __future__ import annotations

from emarsys_api.auth import OAuth2ClientCredentials, WsseAuth, wsse_header
from emarsys_api.client import ContactsResult, EmarsysClient
from emarsys_api.errors import (
    AuthenticationError,
    ConfigurationError,
    EmarsysError,
    ExportAlreadyRunningError,
    ExportError,
    ExportExpiredError,
    ExportFailedError,
    ExportTimeoutError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseFormatError,
    RowError,
    ServerError,
    ValidationError,
)
from emarsys_api.exports import ExportType
from emarsys_api.settings import ClientSettings

__all__ = [
    "AuthenticationError",
    "ClientSettings",
    "ConfigurationError",
    "ContactsResult",
    "EmarsysClient",
    "EmarsysError",
    "ExportAlreadyRunningError",
    "ExportError",
    "ExportExpiredError",
    "ExportFailedError",
    "ExportTimeoutError",
    "ExportType",
    "NetworkError",
    "NotFoundError",
    "OAuth2ClientCredentials",
    "PermissionDeniedError",
    "RateLimitedError",
    "ResponseFormatError",
    "RowError",
    "ServerError",
    "ValidationError",
    "WsseAuth",
    "wsse_header",
]
