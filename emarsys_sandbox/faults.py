"""Fault injection and rate limiting, deterministic so that tests are reproducible.

Faults apply to `/api/...` requests only (not to `/oauth2/token` nor `/_sandbox/...`).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

from emarsys_sandbox.exceptions import InvalidParams

_DEFAULTS: dict[str, Any] = {
    "latency": 0.0,
    "error_rate": 0.0,
    "burst_429": 0,
    "cut_download_every": 0,
    "export_error_every": 0,
    "export_delay": 0.0,
    "expire_files": False,
    "reset_after_store_every": 0,
    "drop_notifications": False,
    "rate_limit": None,
    "rate_window": 60.0,
}


@dataclass
class Faults:
    """The current faults; change them with `update(...)`, clear them with `reset()`.

    Attributes:
        latency: Seconds added to every API request.
        error_rate: Fraction of API requests answered 500/1003 or 503 (seeded sequence).
        burst_429: The next N API requests answer 429/7003 with a 1-second reset.
        cut_download_every: Every k-th export download is cut mid-row (broken chunked body).
        export_error_every: Every k-th export started ends in `error`; with k > 1 a request
            that already ended in `error` succeeds when started again (a transient error).
        export_delay: Seconds from start to `done`, a number or a mapping
            {export type path: seconds} (others take 0).
        expire_files: Downloads answer 410/4003.
        reset_after_store_every: Every k-th write (RDS, behavior events, contacts) is stored,
            then the connection is reset before the reply: the client cannot know it worked.
        drop_notifications: Export notifications (`notification_url`) are never sent.
        rate_limit: Requests per `rate_window` per API user (None: not enforced).
        rate_window: Window length in seconds.
    """

    seed: int = 7
    latency: float = 0.0
    error_rate: float = 0.0
    burst_429: int = 0
    cut_download_every: int = 0
    export_error_every: int = 0
    export_delay: float | dict[str, float] = 0.0
    expire_files: bool = False
    reset_after_store_every: int = 0
    drop_notifications: bool = False
    rate_limit: int | None = None
    rate_window: float = 60.0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _downloads: int = field(default=0, repr=False)
    _exports: int = field(default=0, repr=False)
    _failed_exports: set[str] = field(default_factory=set, repr=False)
    _writes: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)
        self._configured = {
            "export_delay": self.export_delay,
            "rate_limit": self.rate_limit,
            "rate_window": self.rate_window,
        }

    def update(self, **changes: Any) -> None:
        """Set some faults; unknown names are an error (so a typo does not pass silently)."""
        unknown = sorted(set(changes) - set(_DEFAULTS))
        if unknown:
            raise InvalidParams(f"Unknown fault: {', '.join(unknown)}")
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)
            # "every k-th" counts from the moment the fault is set
            if "cut_download_every" in changes:
                self._downloads = 0
            if "export_error_every" in changes:
                self._exports = 0
                self._failed_exports.clear()
            if "reset_after_store_every" in changes:
                self._writes = 0

    def reset(self) -> None:
        """Back to no faults; export delay and rate limit return to the sandbox's settings."""
        with self._lock:
            for name, value in {**_DEFAULTS, **self._configured}.items():
                setattr(self, name, value)
            self._downloads = 0
            self._exports = 0
            self._failed_exports.clear()
            self._writes = 0
            self._rng.seed(self.seed)

    def snapshot(self) -> dict[str, Any]:
        """Current settings as JSON-ready data."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def take_burst(self) -> bool:
        """Whether this request belongs to a 429 burst."""
        with self._lock:
            if self.burst_429 > 0:
                self.burst_429 -= 1
                return True
            return False

    def draw_error(self) -> int | None:
        """500 or 503 for this request under `error_rate`, else None."""
        with self._lock:
            if self.error_rate <= 0:
                return None
            if self._rng.random() >= self.error_rate:
                return None
            return 500 if self._rng.random() < 0.5 else 503

    def next_download_cut(self) -> bool:
        """Count a download; True if this one must be cut."""
        with self._lock:
            self._downloads += 1
            k = self.cut_download_every
            return bool(k) and self._downloads % k == 0

    def next_export_fails(self, request: str) -> bool:
        """Count an export start; True if this one must end in `error`.

        With k > 1 the errors are transient: a request identical to one that already ended in
        `error` succeeds when started again, so a client's bounded re-requests are enough
        whatever order concurrent exports start in. k = 1 fails every export.
        """
        with self._lock:
            self._exports += 1
            k = self.export_error_every
            if not k or self._exports % k:
                return False
            if k > 1 and request in self._failed_exports:
                return False
            self._failed_exports.add(request)
            return True

    def next_write_reset(self) -> bool:
        """Count a stored write; True if its reply must be replaced by a connection reset."""
        with self._lock:
            self._writes += 1
            k = self.reset_after_store_every
            return bool(k) and self._writes % k == 0

    def delay_for(self, export_type: str) -> float:
        """The status walk length for an export type."""
        delay = self.export_delay
        if isinstance(delay, dict):
            return float(delay.get(export_type, 0.0))
        return float(delay)

    def sleep(self) -> None:
        """Apply `latency`."""
        if self.latency > 0:
            time.sleep(self.latency)


class RateLimiter:
    """Fixed windows per API user; headers on every response (docs/emarsys-api.md §3.3)."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def count(self, user: str, now: float | None = None) -> tuple[dict[str, str], bool]:
        """Count one request of `user`: the rate-limit headers and whether it is over."""
        now = time.time() if now is None else now
        limit = self.faults.rate_limit
        window = max(float(self.faults.rate_window), 0.001)
        with self._lock:
            start, used = self._windows.get(user, (now, 0))
            if now - start >= window:
                start, used = now, 0
            used += 1
            self._windows[user] = (start, used)
        shown = 1_000_000 if limit is None else limit
        over = limit is not None and used > limit
        return self.headers(shown, max(0, shown - used), int(start + window + 0.999)), over

    def peek(self, user: str, now: float | None = None) -> dict[str, str]:
        """Headers for a response that was not counted (e.g. unauthenticated)."""
        now = time.time() if now is None else now
        limit = self.faults.rate_limit
        shown = 1_000_000 if limit is None else limit
        window = float(self.faults.rate_window)
        start, used = self._windows.get(user, (now, 0))
        if now - start >= window:
            start, used = now, 0
        return self.headers(shown, max(0, shown - used), int(start + window + 0.999))

    @staticmethod
    def headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
        """The three headers, with the documented mixed casing of `X-Ratelimit-Remaining`."""
        return {
            "X-RateLimit-Limit": str(limit),
            "X-Ratelimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }
