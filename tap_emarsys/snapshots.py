"""ACTIVATE_VERSION only after a whole snapshot was written, so a failed run removes no row.

A full-table stream is a snapshot: a loader that honours ACTIVATE_VERSION (soft or hard)
deletes every row of an older version when the message arrives. singer-sdk sends it at the
*start* of the stream, so an export that fails after it leaves the table empty until a good run.
Here the version is stamped on every record as usual, but ACTIVATE_VERSION leaves only once the
stream's last record was written; a stream that fails never sends it.

Child streams (launches per campaign, delivery status per launch) are synced once per parent
record: activating after one parent would delete the rows of the parents still to come if the
run then failed, so they send no ACTIVATE_VERSION at all (their rows are keyed by parent, and
upserts keep them right).
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

FULL_TABLE = "FULL_TABLE"


class ActivatedAfterSnapshot(Stream):
    """Writes ACTIVATE_VERSION at the end of a complete full-table sync, never at its start."""

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """False for the SDK's start-of-stream message; `activates_versions` decides the rest."""
        return False

    @property
    def activates_versions(self) -> bool:
        """Whether this stream's complete syncs end with ACTIVATE_VERSION."""
        return (
            bool(self.config.get("emit_activate_version_messages"))
            and self.replication_method == FULL_TABLE
            and self.parent_stream_type is None
            and self.selected
        )

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        # `Stream.sync` is final in the SDK; `_sync_records` runs the whole stream (its child
        # streams included), so the end of it is the end of the snapshot.
        activate = write_messages and self.activates_versions
        if activate:
            # Milliseconds: a later run always carries a larger version than an earlier one.
            self._stream_version = time.time_ns() // 1_000_000
        result = yield from super()._sync_records(context, write_messages=write_messages)
        if activate and self._stream_version is not None:
            self._write_activate_version_message(self._stream_version)
        return result
