"""Authentication: WSSE for `/api/v2` (docs/emarsys-api.md §2.1) and OAuth2 bearer
tokens for `/api/v3` (§2.2).

Written from docs/emarsys-api.md, independently of `emarsys_api`: the sandbox shares no code
with the client, so each checks the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from emarsys_sandbox.exceptions import Unauthorized

SKEW_SECONDS = 300
#: the per-area permissions an OAuth2 API user may lack (docs/emarsys-api.md §12.8); the
#: endpoints needing each are in `urls.ENDPOINT_PERMISSIONS`
PERMISSIONS = frozenset(
    {
        "settings",
        "fields",
        "contacts",
        "contact_lists",
        "segments",
        "email_campaigns",
        "exports",
        "relational_data",
        "behavior_data",
    }
)
_PARAM = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_CREATED = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)


def wsse_digest(nonce: str, created: str, secret: str) -> str:
    """`base64(hex(sha1(nonce + created + secret)))`: base64 of the 40-char hex text (2.1)."""
    hexdigest = hashlib.sha1((nonce + created + secret).encode()).hexdigest()
    return base64.b64encode(hexdigest.encode()).decode()


def parse_created(value: str, server_zone: ZoneInfo) -> datetime | None:
    """Read a WSSE `Created`: `Z`, `+00:00`, `+0000`, fractions; no zone = server zone (2.1)."""
    m = _CREATED.match(value.strip())
    if not m:
        return None
    day, clock, fraction, zone = m.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{fraction or ''}")
    except ValueError:
        return None
    if zone is None:
        return moment.replace(tzinfo=server_zone)
    if zone.upper() == "Z":
        return moment.replace(tzinfo=timezone.utc)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return datetime.fromtimestamp(
        moment.replace(tzinfo=timezone.utc).timestamp() - offset, timezone.utc
    )


@dataclass(frozen=True)
class ApiUser:
    """WSSE credentials of one API user."""

    username: str
    secret: str


class WsseVerifier:
    """Checks `X-WSSE` (or `WSSE`) headers; parameters are read in any order and case."""

    def __init__(self, users: list[ApiUser], server_zone: ZoneInfo) -> None:
        self.users = {u.username: u for u in users}
        self.server_zone = server_zone

    def verify(self, header: str | None, now: float | None = None) -> str:
        """The API user's name, or Unauthorized naming what is wrong (never the secret)."""
        if not header:
            raise Unauthorized("missing X-WSSE header")
        method, _, rest = header.strip().partition(" ")
        if method.lower() != "usernametoken":
            raise Unauthorized("X-WSSE must use the UsernameToken method")
        params = {k.lower(): v for k, v in _PARAM.findall(rest)}
        missing = [
            k for k in ("username", "passworddigest", "nonce", "created") if not params.get(k)
        ]
        if missing:
            raise Unauthorized(f"X-WSSE header lacks {', '.join(missing)}")
        user = self.users.get(params["username"])
        if user is None:
            raise Unauthorized("unknown API user")
        created = parse_created(params["created"], self.server_zone)
        if created is None:
            raise Unauthorized("Created is not an ISO 8601 timestamp")
        skew = (time.time() if now is None else now) - created.timestamp()
        if abs(skew) > SKEW_SECONDS:
            raise Unauthorized(
                f"Created is {abs(int(skew))} s off the server clock (at most 300 s allowed)"
            )
        expected = wsse_digest(params["nonce"], params["created"], user.secret)
        if not hmac.compare_digest(expected, params["passworddigest"]):
            raise Unauthorized("PasswordDigest does not match (wrong secret or digest algorithm)")
        return user.username


@dataclass(frozen=True)
class OAuthClient:
    """OAuth2 client credentials."""

    client_id: str
    client_secret: str


class OAuthError(Exception):
    """A token endpoint failure: HTTP status and the OAuth `error` code."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


class TokenIssuer:
    """`POST /oauth2/token` (client credentials, HTTP Basic) and bearer checks for `/api/v3`."""

    def __init__(self, clients: list[OAuthClient], ttl: float) -> None:
        self.clients = {c.client_id: c for c in clients}
        self.ttl = ttl
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, authorization: str | None, grant_type: str | None) -> dict[str, object]:
        """A token response (docs/emarsys-api.md §2.2) or OAuthError."""
        client_id, client_secret = _basic_credentials(authorization)
        if client_id is None:
            raise OAuthError(
                401,
                "invalid_client",
                "Client authentication failed: send client_id:client_secret as HTTP Basic.",
            )
        client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(
            client.client_secret.encode(), (client_secret or "").encode()
        ):
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "Use grant_type=client_credentials.")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (client.client_id, time.time() + self.ttl)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": max(1, round(self.ttl)),
            "scope": "",
        }

    def verify(self, authorization: str | None) -> str:
        """The client id behind a `Bearer` header, or Unauthorized."""
        if not authorization:
            raise Unauthorized("missing Authorization: Bearer header")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be a Bearer token")
        with self._lock:
            entry = self._tokens.get(token.strip())
        if entry is None:
            raise Unauthorized("unknown access token")
        client_id, expires = entry
        if time.time() >= expires:
            raise Unauthorized("access token expired")
        return client_id


def _basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    if not authorization:
        return None, None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, client_secret = decoded.partition(":")
    return (client_id, client_secret) if sep else (None, None)
