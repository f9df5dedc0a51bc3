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

from typing_extensions import override

from tap_emarsys.sdk_overrides import StreamOverrides

FULL_TABLE = "FULL_TABLE"


class ActivatedAfterSnapshot(StreamOverrides):
    """Writes ACTIVATE_VERSION at the end of a complete full-table sync, never at its start.

    `StreamOverrides._sync_records` writes it once the stream's last record was written,
    for streams whose `activates_versions` is true.
    """

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """False for the SDK's start-of-stream message; `activates_versions` decides the rest."""
        return False

    @property
    @override
    def activates_versions(self) -> bool:
        """Whether this stream's complete syncs end with ACTIVATE_VERSION."""
        return (
            bool(self.config.get("emit_activate_version_messages"))
            and self.replication_method == FULL_TABLE
            and self.parent_stream_type is None
            and self.selected
        )
