"""Client-side pacing from the rate-limit headers (docs/emarsys-api.md §3.3).

Emarsys sends `X-Ratelimit-Remaining` and `X-RateLimit-Reset` (Unix seconds) on every reply.
`RatePacer` turns them into a budget of requests that may still be sent before the window resets,
shared by every thread of one client: when the budget is spent, new requests wait for the reset
instead of collecting 429s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

logger = logging.getLogger("emarsys_api")

# A reset header below this is a delay in seconds, above it a Unix time (docs/emarsys-api.md
# §3.3 says Unix).
_UNIX_TIME_THRESHOLD = 1_000_000_000
# Two reset times closer than this belong to the same window (the header has 1 s resolution).
_SAME_WINDOW = 0.5


def reset_time(headers: Mapping[str, str], now: float) -> float | None:
    """`X-RateLimit-Reset` as a Unix time, or None when absent or unreadable."""
    value = headers.get("X-RateLimit-Reset")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= _UNIX_TIME_THRESHOLD else now + seconds


def remaining(headers: Mapping[str, str]) -> int | None:
    """`X-Ratelimit-Remaining` (header names are case-insensitive in requests), or None."""
    value = headers.get("X-Ratelimit-Remaining")
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


class RatePacer:
    """The request budget of one API user until its rate-limit window resets.

    Budget = the lowest `X-Ratelimit-Remaining` seen in the current window minus the requests
    still in flight (they may not be in that count yet). When that reaches 0 with requests in
    flight, new requests wait for those replies (which tell the true count); with none in
    flight, they wait for the reset. So several threads fill each window without a 429.
    Call `acquire()` before each request and `release(headers)` after it (None: no reply).
    Thread-safe.
    """

    def __init__(self, max_wait: float, *, clock: Callable[[], float] = time.time) -> None:
        self.max_wait = max_wait
        self._clock = clock
        self._cond = threading.Condition()
        self._left: int | None = None  # None: unknown, send freely
        self._reset_at = 0.0
        self._in_flight = 0
        self._announced = 0.0

    def acquire(self) -> None:
        """Wait until the budget allows one more request, and count it as in flight."""
        with self._cond:
            while True:
                now = self._clock()
                if self._left is not None and now >= self._reset_at:
                    self._left = None  # a new window: its first reply tells the budget
                if self._left is None or self._left - self._in_flight > 0:
                    self._in_flight += 1
                    return
                wait = self._reset_at - now
                if self._in_flight == 0 and self._announced != self._reset_at:
                    self._announced = self._reset_at
                    logger.info(
                        "rate limit reached (X-Ratelimit-Remaining 0); pausing %.1f s until it "
                        "resets",
                        wait,
                    )
                self._wait(wait)

    def release(self, headers: Mapping[str, str] | None) -> None:
        """Count a request as answered and learn the budget from its reply's headers."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._learn(headers)
            self._cond.notify_all()

    def _learn(self, headers: Mapping[str, str] | None) -> None:
        if headers is None:
            return
        left = remaining(headers)
        now = self._clock()
        reset = reset_time(headers, now)
        if left is None or reset is None:
            return
        reset = min(reset, now + self.max_wait)
        if reset < self._reset_at - _SAME_WINDOW:
            return  # a late reply from a window that has already reset
        if self._left is None or reset > self._reset_at + _SAME_WINDOW:
            self._reset_at = max(reset, self._reset_at)
            self._left = max(0, left)
        else:
            self._left = min(self._left, max(0, left))

    def _wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking early when a reply arrives (lock held by caller)."""
        self._cond.wait(max(0.0, seconds))
