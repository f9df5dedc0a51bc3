"""Client settings: where Emarsys is, how to authenticate, how patient to be."""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from emarsys_api.errors import ConfigurationError

logger = logging.getLogger("emarsys_api")

DEFAULT_BASE_URL = "https://api.emarsys.net"
DEFAULT_TOKEN_URL = "https://auth.emarsys.net/oauth2/token"

AuthScheme = Literal["oauth2", "wsse"]

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_INTEGER = re.compile(r"[+-]?\d+")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, repr=False)
class ClientSettings:
    """Validated settings for `EmarsysClient`.

    OAuth2 (API v3) is used when `client_id` is set, WSSE (API v2) otherwise. Validation runs on
    construction, so a half-configured client fails before it sends anything.

    Attributes:
        base_url: API host; `/api/v2`, `/api/v3`, `/api/rds`, `/api/hds` are appended.
        username: WSSE API user.
        secret: WSSE secret.
        client_id: OAuth2 client id.
        client_secret: OAuth2 client secret.
        token_url: OAuth2 token endpoint.
        timeout: seconds to wait for a connection and for each read.
        max_retries: retries after the first attempt for 429, 5xx and network errors.
        max_wait: longest single wait (retry back-off, rate-limit reset) in seconds.
        request_deadline: seconds one call may take in all: attempts, waits, reading the reply.
        min_download_rate: bytes per second an export download must average while it is read;
            0 turns the floor off.
    """

    base_url: str = DEFAULT_BASE_URL
    username: str | None = None
    secret: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str = DEFAULT_TOKEN_URL
    timeout: float = 60.0
    max_retries: int = 5
    max_wait: float = 300.0
    request_deadline: float = 180.0
    min_download_rate: float = 1024.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", _check_url(self.base_url, "base_url").rstrip("/"))
        object.__setattr__(self, "token_url", _check_url(self.token_url, "token_url"))
        for name in ("username", "secret", "client_id", "client_secret"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(f"`{name}` must be a string.", setting=name)
            if value == "":
                object.__setattr__(self, name, None)
            elif value is not None and name != "secret":  # WSSE hashes its secret as UTF-8
                _check_header_text(value, name)
        self._check_credentials()
        if not self.timeout > 0:
            raise ConfigurationError("`timeout` must be a positive number.", setting="timeout")
        if self.max_retries < 0:
            raise ConfigurationError("`max_retries` must be 0 or more.", setting="max_retries")
        if not self.max_wait > 0:
            raise ConfigurationError("`max_wait` must be a positive number.", setting="max_wait")
        if not self.request_deadline > 0:
            raise ConfigurationError(
                "`request_deadline` must be a positive number.", setting="request_deadline"
            )
        if not self.min_download_rate >= 0:
            raise ConfigurationError(
                "`min_download_rate` must be 0 (no floor) or more.", setting="min_download_rate"
            )

    def _check_credentials(self) -> None:
        if self.client_id or self.client_secret:
            if not self.client_id:
                raise ConfigurationError(
                    "`client_secret` is set but `client_id` is missing (OAuth2 needs both).",
                    setting="client_id",
                )
            if not self.client_secret:
                raise ConfigurationError(
                    "`client_id` is set but `client_secret` is missing (OAuth2 needs both).",
                    setting="client_secret",
                )
            return
        if self.username and not self.secret:
            raise ConfigurationError(
                "`username` is set but `secret` is missing (WSSE needs both).", setting="secret"
            )
        if self.secret and not self.username:
            raise ConfigurationError(
                "`secret` is set but `username` is missing (WSSE needs both).", setting="username"
            )
        if not self.username:
            raise ConfigurationError(
                "no credentials: set `client_id` and `client_secret` (OAuth2, preferred) or "
                "`username` and `secret` (WSSE).",
                setting="client_id",
            )

    @property
    def auth_scheme(self) -> AuthScheme:
        """Which authentication the client uses: OAuth2 when `client_id` is set, else WSSE."""
        return "oauth2" if self.client_id else "wsse"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClientSettings:
        """Build settings from a connector config, ignoring keys the client does not use.

        Missing or null values take the defaults, so a Singer config can pass its whole mapping.
        """
        known: dict[str, Any] = {}
        for name in ("base_url", "username", "secret", "client_id", "client_secret", "token_url"):
            if config.get(name) is not None:
                known[name] = config[name]
        numbers: tuple[tuple[str, type[float] | type[int]], ...] = (
            ("timeout", float),
            ("max_retries", int),
            ("max_wait", float),
            ("request_deadline", float),
            ("min_download_rate", float),
        )
        for name, kind in numbers:
            if config.get(name) is not None:
                try:
                    known[name] = kind(config[name])
                except (TypeError, ValueError):
                    raise ConfigurationError(f"`{name}` must be a number.", setting=name) from None
        return cls(**known)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("base_url", "username", "client_id", "token_url", "timeout")
        )
        return f"ClientSettings({shown}, secret=<hidden>, client_secret=<hidden>)"


def _check_url(url: object, setting: str) -> str:
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"`{setting}` must be a URL.", setting=setting)
    like = f"like {DEFAULT_TOKEN_URL if setting == 'token_url' else DEFAULT_BASE_URL}"
    if _CONTROL_OR_SPACE.search(url):
        raise ConfigurationError(
            f"`{setting}` must be a URL {like}, without spaces or control characters.",
            setting=setting,
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port outside 0-65535 or not a number
    except ValueError as error:  # an unclosed [IPv6 address], a port out of range
        raise ConfigurationError(
            f"`{setting}` is not a valid URL ({error}); use one {like}.", setting=setting
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"`{setting}` must be an http(s) URL {like}.", setting=setting)
    if parts.username or parts.password:
        raise ConfigurationError(
            f"`{setting}` must not contain credentials; use the credential settings.",
            setting=setting,
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        logger.warning(
            "%s uses plain http to %s: credentials and data travel unencrypted; use https.",
            setting,
            parts.hostname,
        )
    return url


def _check_header_text(value: str, setting: str) -> None:
    """A credential goes into a request header: WSSE's `X-WSSE` carries the user as Latin-1
    text without line breaks, and OAuth2's Basic authorization encodes id and secret as
    Latin-1 (anything else failed as the first request was sent). A line break in an OAuth2
    credential would be sent, but is a copying mistake, not part of a value Emarsys issues.
    The message never shows the value (it may be a secret)."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ConfigurationError(
            f"`{setting}` holds a character HTTP headers cannot carry (only Latin-1 text); "
            "check that the whole value was copied, and nothing else.",
            setting=setting,
        ) from None
    if _CONTROL.search(value):
        raise ConfigurationError(
            f"`{setting}` holds a line break or another control character; check that the "
            "whole value was copied, and nothing else.",
            setting=setting,
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def typed_config(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The config with text values of boolean, number, array and object settings typed.

    Meltano hands settings it has no `kind` for, and every value set through an environment
    variable, to the connector as text: `"false"` would be a true value and `"5"` no integer.
    Each top-level setting whose schema type is boolean, integer, number, array or object (and
    not string) is converted from text; an empty text counts as not set.

    Args:
        config: the settings as read.
        schema: the connector's config JSON schema (`properties` with `type`).

    Returns:
        A new mapping; values that are not text, and unknown settings, are kept as they are.

    Raises:
        ConfigurationError: a text value does not read as its type (names the setting).
    """
    properties: Mapping[str, Any] = schema.get("properties", {})
    typed: dict[str, Any] = {}
    for name, value in config.items():
        spec = properties.get(name)
        kinds = json_types(spec) if isinstance(spec, Mapping) else set()
        if not isinstance(value, str) or "string" in kinds or not kinds:
            typed[name] = value
            continue
        text = value.strip()
        if not text:
            continue  # not set: the default applies
        typed[name] = _typed_value(name, text, kinds)
    return typed


def json_types(spec: Mapping[str, Any]) -> set[str]:
    """The JSON types a setting's schema names in `type` (`{"integer", "null"}`)."""
    kinds = spec.get("type", [])
    return {kinds} if isinstance(kinds, str) else set(kinds)


def _typed_value(name: str, text: str, kinds: set[str]) -> Any:
    if "boolean" in kinds:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        msg = f"`{name}` must be true or false, got {text!r}."
        raise ConfigurationError(msg, setting=name)
    if "integer" in kinds and "number" not in kinds:
        if _INTEGER.fullmatch(text):
            return int(text)
        msg = f"`{name}` must be a whole number, got {text!r}."
        raise ConfigurationError(msg, setting=name)
    if "number" in kinds:
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            msg = f"`{name}` must be a number, got {text!r}."
            raise ConfigurationError(msg, setting=name)
        return number
    kind = "array" if "array" in kinds else "object"
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, list if kind == "array" else dict):
        what = "a JSON array" if kind == "array" else "a JSON object"
        msg = f"`{name}` must be {what}, got {text!r}."
        raise ConfigurationError(msg, setting=name)
    return parsed
