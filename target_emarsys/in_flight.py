"""Requests in flight, and which records Emarsys has acknowledged.

The SDK hands a sink one batch at a time and emits STATE only after draining; that alone would
send one request at a time. Here each batch is split into requests that run on a small thread
pool (`max_parallel_requests`) while the target keeps reading, and a per-sink ledger records
which records Emarsys has acknowledged, so a STATE message is released only when every record
before it has been acknowledged.

(Not to be confused with `emarsys_api.file_delivery`, the tap's export file delivery: this module
is the target's own write side.)
"""

from __future__ import annotations

import copy
import operator
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from itertools import repeat
from typing import Any


class RequestPool:
    """At most N write requests in flight for the whole target, in submission order of slots.

    The first failure is kept and raised in the reading thread at the next submission, state
    check or wait, so the run stops with Emarsys's error instead of carrying on blind.
    """

    def __init__(self, max_parallel: int) -> None:
        """Allow `max_parallel` requests at once (threads start lazily)."""
        self._executor = ThreadPoolExecutor(
            max_workers=max_parallel, thread_name_prefix="emarsys-write"
        )
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._lock = threading.Lock()
        self._in_flight: set[Future[Any]] = set()
        self._failure: BaseException | None = None

    def submit(
        self,
        write: Callable[[], Any],
        *,
        after: Iterable[Future[Any]] = (),
        on_done: Callable[[Future[Any]], None] | None = None,
    ) -> Future[Any]:
        """Run `write` on the pool once the requests in `after` are done and a slot is free.

        Blocks the caller while all slots are busy, which keeps memory bounded and lets the
        reader run ahead by at most `max_parallel` requests. `on_done` runs when the request
        has finished and before `wait_all` can return, so acknowledgements are never late.
        """
        for earlier in after:
            self.wait_for(earlier)
        self.raise_if_failed()
        while not self._slots.acquire(timeout=0.2):
            self.raise_if_failed()
        try:
            future = self._executor.submit(write)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(lambda done: self._finished(done, on_done))
        return future

    def _finished(self, future: Future[Any], on_done: Callable[[Future[Any]], None] | None) -> None:
        error = None if future.cancelled() else future.exception()
        if error is not None:
            with self._lock:
                if self._failure is None:
                    self._failure = error
        try:
            if on_done is not None:
                on_done(future)
        except Exception as exc:  # a bookkeeping bug must not hang the run
            with self._lock:
                if self._failure is None:
                    self._failure = exc
        finally:
            with self._lock:
                self._in_flight.discard(future)
            self._slots.release()

    def raise_if_failed(self) -> None:
        """Raise the first failed request's error, if any."""
        if self._failure is not None:
            raise self._failure

    def wait_for(self, future: Future[Any]) -> None:
        """Wait for one request; raise its error, or the first failure of any request."""
        wait([future])
        error = None if future.cancelled() else future.exception()
        if error is not None:
            raise error
        self.raise_if_failed()

    def settle(self) -> None:
        """Wait until nothing is in flight (failures are raised by `wait_all`, not here)."""
        while True:
            with self._lock:
                pending = list(self._in_flight)
            if not pending:
                return
            wait(pending)

    def wait_all(self) -> None:
        """Wait until nothing is in flight; raise the first failure of any request."""
        self.settle()
        self.raise_if_failed()

    @property
    def failed(self) -> bool:
        """True once any request has failed."""
        return self._failure is not None

    def shutdown(self) -> None:
        """Let running requests finish, drop queued ones, stop the threads."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class AckLedger:
    """How many of a sink's records, counted from the first, Emarsys has acknowledged.

    Batches complete out of order when requests run in parallel; only the unbroken prefix
    counts, so a failed or slow batch holds back every STATE after it.
    """

    def __init__(self) -> None:
        """Start with nothing acknowledged."""
        self._lock = threading.Lock()
        self._through = 0
        self._done: dict[int, int] = {}

    @property
    def through(self) -> int:
        """Records 0 .. through-1 are acknowledged."""
        return self._through

    def complete(self, start: int, end: int) -> None:
        """Mark records start .. end-1 acknowledged."""
        with self._lock:
            self._done[start] = end
            while self._through in self._done:
                self._through = self._done.pop(self._through)

    def batch(self, start: int, end: int, parts: int) -> BatchTicket:
        """Track a batch of records start .. end-1 written by `parts` requests."""
        ticket = BatchTicket(self, start, end, parts)
        if parts == 0:
            self.complete(start, end)
        return ticket


class BatchTicket:
    """Counts down the requests of one batch; the batch is acknowledged when all succeeded."""

    def __init__(self, ledger: AckLedger, start: int, end: int, parts: int) -> None:
        """Wait for `parts` successful requests before acknowledging start .. end-1."""
        self._ledger = ledger
        self._range = (start, end)
        self._left = parts
        self._lock = threading.Lock()

    def part_done(self, future: Future[Any]) -> None:
        """Done-callback for one request of the batch; failures never acknowledge."""
        if future.cancelled() or future.exception() is not None:
            return
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self._ledger.complete(*self._range)


class KeyOrder:
    """Keeps writes of the same key in input order although requests run in parallel.

    Two requests carrying the same key must not race (the later value would sometimes lose),
    so a request waits for any in-flight request that shares a key with it.
    """

    def __init__(self) -> None:
        """Start with no keys in flight."""
        self._lock = threading.Lock()
        self._owner: dict[Hashable, Future[Any]] = {}

    def conflicts(self, keys: Iterable[Hashable]) -> set[Future[Any]]:
        """In-flight requests holding any of `keys`."""
        with self._lock:
            owner = self._owner
            return {owner[key] for key in owner.keys() & keys}  # a C-level intersection

    def hold(self, keys: list[Hashable], future: Future[Any]) -> None:
        """Record that `future` carries `keys` until it finishes."""
        with self._lock:
            self._owner.update(dict.fromkeys(keys, future))

        def release(done: Future[Any]) -> None:
            with self._lock:
                owner = self._owner
                # Usually no later request took any of these keys: drop them in C-level steps.
                if all(map(operator.is_, map(owner.get, keys), repeat(done))):
                    deque(map(owner.pop, keys, repeat(None)), maxlen=0)
                    return
                for key in keys:
                    if owner.get(key) is done:
                        del owner[key]

        future.add_done_callback(release)


class AcknowledgedStates:
    """STATE messages held back until Emarsys has acknowledged every record before them.

    Each STATE is held with a watermark: for each sink, how many records it had received.
    A STATE is released once every sink's ledger has reached its mark; a newer released STATE
    supersedes older ones, and the same STATE is never written twice in a row.
    """

    def __init__(self, write: Callable[[dict[str, Any]], None]) -> None:
        """Release STATE messages through `write` (the SDK's STATE writer)."""
        self._write = write
        self._lock = threading.Lock()
        self._held: list[tuple[dict[str, Any], list[tuple[AckLedger, int]]]] = []
        self._written: dict[str, Any] | None = None

    def hold(self, state: dict[str, Any], marks: list[tuple[AckLedger, int]]) -> None:
        """Hold `state` until each ledger in `marks` has acknowledged its count of records."""
        pending = [(ledger, seen) for ledger, seen in marks if seen > ledger.through]
        with self._lock:
            self._held.append((state, pending))

    def release_ready(self) -> None:
        """Write the newest held STATE whose records are all acknowledged (never blocks)."""
        with self._lock:
            ready = -1
            for index, (_, marks) in enumerate(self._held):
                if all(ledger.through >= seen for ledger, seen in marks):
                    ready = index
            if ready >= 0:
                state = self._held[ready][0]
                del self._held[: ready + 1]
                self._emit(state)

    @property
    def held(self) -> int:
        """STATE messages still waiting for acknowledgements."""
        return len(self._held)

    def _emit(self, state: dict[str, Any]) -> None:
        if state == self._written:
            return
        self._written = copy.deepcopy(state)
        self._write(copy.deepcopy(state))
