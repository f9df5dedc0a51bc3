"""What a sink writes with: one `WriteContext` per run, built by the target.

Sinks used to reach into the target for eight of its members (the client, the request pool,
the rejected-rows file, the destination lookup, ...), and a run stamp was set on the target
from a sink. Handing them this one object instead says what a sink depends on, lets a test
build a sink's world without a target's internals, and keeps the sinks from importing the
target (`target_emarsys.target` imports the sinks).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emarsys_api import EmarsysClient
    from target_emarsys.destinations import Destination
    from target_emarsys.in_flight import RequestPool
    from target_emarsys.rejects import RejectedRows


def run_stamp() -> str:
    """The current UTC time to the microsecond, as the run's CSV file names carry it."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


class ReplacedTables:
    """RDS tables an `overwrite` stream has already replaced in this run (thread-safe).

    Two streams (or a stream and its successor after a schema change) writing one table in
    overwrite mode must replace it once: the second replace would drop the first one's rows.
    """

    def __init__(self) -> None:
        """Start with no table replaced."""
        self._lock = threading.Lock()
        self._tables: set[str] = set()

    def claim(self, table: str) -> bool:
        """True for the first caller naming `table` (that caller replaces it), then False."""
        with self._lock:
            if table in self._tables:
                return False
            self._tables.add(table)
            return True


@dataclass(frozen=True)
class WriteContext:
    """Everything a sink uses besides its own stream: shared by every sink of one run.

    Attributes:
        client: The Emarsys client (one is safe across the request threads).
        destination_for: Where a stream goes (`stream_destinations`, or its same-named table).
        pool: The requests in flight for the whole run (`max_parallel_requests`).
        rejects: The rejected-rows file of `on_record_error: log`.
        release_state: Emit the newest STATE whose records are all acknowledged; raises the
            first failed request's error. Called by the reading thread after each batch.
        request_done: Done-callback of every request: emits STATE as soon as it is covered.
        replaced_tables: Tables an `overwrite` stream has already replaced.
        run_stamp: The run's UTC start, shared by the CSV files of all its streams.
    """

    client: EmarsysClient
    destination_for: Callable[[str], Destination]
    pool: RequestPool
    rejects: RejectedRows
    release_state: Callable[[], None]
    request_done: Callable[[Future[Any]], None]
    replaced_tables: ReplacedTables = field(default_factory=ReplacedTables)
    run_stamp: str = field(default_factory=run_stamp)
