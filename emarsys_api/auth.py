"""Authentication: WSSE (API v2) and OAuth2 client credentials (API v3).

Both are `requests.auth.AuthBase` objects, so `requests` applies them to every attempt,
retries included: each WSSE attempt gets a fresh nonce and `Created`, and OAuth2 requests always
carry a current token. Streams and sinks never see a credential.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from emarsys_api.errors import (
    AuthenticationError,
    NetworkError,
    RateLimitedError,
    ResponseFormatError,
    ServerError,
)

if TYPE_CHECKING:
    from emarsys_api.settings import ClientSettings

logger = logging.getLogger("emarsys_api")

TOKEN_RENEW_MARGIN = 60.0


def utc_now() -> datetime:
    """The clock WSSE `Created` values come from (tests replace it to simulate clock skew)."""
    return datetime.now(timezone.utc)


def wsse_header(
    username: str, secret: str, *, nonce: str | None = None, created: str | None = None
) -> str:
    """Build an `X-WSSE` header value (docs/emarsys-api.md §2.1).

    The digest is base64 of the *lowercase hex text* of sha1(nonce + created + secret), not of
    the raw sha1 bytes: that is what Emarsys checks.

    Args:
        username: the WSSE API user.
        secret: the WSSE secret.
        nonce: 32 hex characters; a fresh random one when omitted.
        created: ISO 8601 UTC timestamp; `utc_now()` when omitted.

    Returns:
        The header value, ``UsernameToken Username="...", PasswordDigest="...", ...``.
    """
    nonce = nonce or secrets.token_hex(16)
    created = created or utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
    hex_digest = hashlib.sha1((nonce + created + secret).encode("utf-8")).hexdigest()
    digest = base64.b64encode(hex_digest.encode("ascii")).decode("ascii")
    return (
        f'UsernameToken Username="{username}", PasswordDigest="{digest}", '
        f'Nonce="{nonce}", Created="{created}"'
    )


class WsseAuth(AuthBase):
    """Signs each request attempt with a fresh WSSE header."""

    def __init__(self, username: str, secret: str) -> None:
        self.username = username
        self._secret = secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-WSSE"] = wsse_header(self.username, self._secret)
        return r

    def __repr__(self) -> str:
        return f"WsseAuth(username={self.username!r})"


class OAuth2ClientCredentials(AuthBase):
    """Bearer tokens of the client-credentials grant, cached, renewed (docs/emarsys-api.md §2.2).

    The token is renewed shortly before `expires_in` runs out, and once more when Emarsys answers
    401 anyway (revoked token, clock drift); the request is then sent once more with the new
    token. A lock makes token renewal safe when several threads share the client.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        token_url: str,
        *,
        timeout: float = 60.0,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self._session = requests.Session()

    @classmethod
    def from_settings(cls, settings: ClientSettings) -> OAuth2ClientCredentials:
        """Build the authenticator from validated client settings."""
        assert settings.client_id and settings.client_secret
        return cls(
            settings.client_id,
            settings.client_secret,
            settings.token_url,
            timeout=settings.timeout,
        )

    def token(self) -> str:
        """Return a valid access token, fetching a new one when none is cached or it is old."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (if it is still the cached one) so the next call fetches a new one."""
        with self._lock:
            if self._token == token:
                self._token = None

    def secrets(self) -> list[str]:
        """Values that must never appear in logs or messages (client secret, current token)."""
        return [v for v in (self._client_secret, self._token) if v]

    def _fetch(self) -> None:
        endpoint = "POST " + _path_of(self.token_url)
        try:
            response = self._session.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self._client_secret),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise NetworkError(
                reply_text=f"token request failed ({type(exc).__name__})", endpoint=endpoint
            ) from None
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                response.status_code,
                None,
                f"the token endpoint rejected the client credentials{_oauth_error(response)}",
                endpoint,
                hint="Check client_id, client_secret and token_url.",
            )
        if response.status_code == 429:
            raise RateLimitedError(429, None, "token endpoint rate limit", endpoint)
        if response.status_code >= 500:
            raise ServerError(response.status_code, None, "token endpoint failed", endpoint)
        try:
            body: Any = response.json()
            token = body["access_token"]
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise ResponseFormatError(
                response.status_code, None, "no access_token in the token reply", endpoint
            ) from None
        if not isinstance(token, str) or not token or response.status_code != 200:
            raise ResponseFormatError(
                response.status_code, None, "no access_token in the token reply", endpoint
            )
        self._token = token
        # Renew ~60 s early; short-lived tokens (tests) are renewed at half their life.
        self._renew_at = time.monotonic() + expires_in - min(TOKEN_RENEW_MARGIN, expires_in / 2)
        logger.debug("OAuth2 token obtained, valid for %.0f s", expires_in)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.token()
        r.headers["Authorization"] = f"Bearer {token}"
        r.register_hook("response", self._renew_on_401)
        return r

    def _renew_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """Renew the token once and resend when Emarsys answers 401 to a bearer request."""
        if response.status_code != 401:
            return response
        sent = response.request.headers.get("Authorization", "")
        self.invalidate(sent.removeprefix("Bearer "))
        logger.info("OAuth2 token rejected (401); renewing it and retrying once")
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        retry.hooks = {"response": []}  # copy() shares the hook lists; renew only once
        retry.headers["Authorization"] = f"Bearer {self.token()}"
        assert response.connection is not None
        second: requests.Response = response.connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second

    def close(self) -> None:
        """Release the token session's connections."""
        self._session.close()

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(client_id={self.client_id!r}, token_url={self.token_url!r})"
        )


def _oauth_error(response: requests.Response) -> str:
    """The OAuth2 `error` code of a refused token request (RFC 6749 5.2), e.g. invalid_client."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) < 40:
        return f" ({code})"
    return ""


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"
