"""Relational destinations with `"via": "sftp"`: one CSV file per batch instead of API requests.

Large tables load faster as files (one per `csv_batch_rows` records, default 100,000) that the
account's relational-data import picks up. Each file appears whole under its final name (see
`emarsys_api.csv_upload`), files of a stream are written strictly one after another, and a
batch counts as acknowledged only once its file was renamed, so STATE never runs ahead of a
file Emarsys could see. The name says what to do with the rows:
`<table>.<run>.<seq>.<mode>.csv` (docs/delivery.md, "bulk RDS loads as CSV over SFTP").
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from target_emarsys.destinations import TARGET_SFTP
from target_emarsys.sinks.base import Pair
from target_emarsys.sinks.relational import OVERWRITE, RelationalSink

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.target_base import Target

    from emarsys_api.csv_upload import SftpCsvUploader

CSV_BATCH_ROWS = 100_000
APPEND, REPLACE = "append", "overwrite"


def sftp_uploader(config: dict[str, Any]) -> SftpCsvUploader:
    """The `rds_sftp_*` settings as an uploader (checked by the caller with a login).

    Parsed by `TARGET_SFTP`, which already accepted them when the destination was parsed at
    start-up. `csv_upload` is imported here, not at the top: it brings paramiko, about 0.15 s
    of CPU at every start of the target, and only `via: sftp` streams need it.

    Raises:
        ConfigurationError: an `rds_sftp_*` setting is unusable (names it).
    """
    from emarsys_api.csv_upload import SftpCsvUploader

    server = TARGET_SFTP.server(config)
    return SftpCsvUploader(server.login, server.folder)


class RelationalFileSink(RelationalSink):
    """An RDS table loaded from CSV files on the `rds_sftp_*` server, one file per batch."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Any,
    ) -> None:
        """Batches are files: `csv_batch_rows` records each, not the API's 1000."""
        self.request_limit = int(target.config.get("csv_batch_rows") or CSV_BATCH_ROWS)
        super().__init__(target, stream_name, schema, key_properties)
        self._max_size = self.request_limit

    @override
    def setup(self) -> None:
        """Log in to the SFTP server now, so wrong settings stop the run before any file."""
        super().setup()
        mode = self.destination.mode or (REPLACE if self.load_method == OVERWRITE else APPEND)
        self.mode = mode
        self.uploader = sftp_uploader(dict(self.config))
        self.uploader.check_connection()
        self.run = self.write_context.run_stamp
        self.files = 0
        self.logger.info(
            "stream '%s' -> CSV files %s/%s.%s.*.%s.csv on %s",
            self.stream_name,
            self.uploader.folder,
            self.destination.table,
            self.run,
            mode,
            self.uploader.login.address,
        )

    @property
    @override
    def replaces_by_request(self) -> bool:
        """Never: the first file's name says `overwrite` (no table replace request)."""
        return False

    @override
    def plan_requests(self, pairs: list[Pair]) -> list[list[Pair]]:
        """One file per batch, every record of it (upserts are the import's business)."""
        return [pairs]

    @override
    def request_keys(self, request: list[Pair]) -> list[Hashable]:
        """All files of the stream in order: each waits for the one before it."""
        return [("file", self.destination.table)]

    @override
    def write(self, request: list[Pair]) -> None:
        """Upload one file (temporary name, then renamed); returns once it is complete."""
        self.files += 1
        mode = REPLACE if self.mode == REPLACE and self.files == 1 else APPEND
        name = f"{self.destination.table}.{self.run}.{self.files:05d}.{mode}.csv"
        columns = self.columns
        rows = [[row[column] for column in columns] for row, _ in request]
        done = self.uploader.upload(name, columns, rows)
        self.logger.info(
            "stream '%s': %d row(s) in %s (%d bytes)",
            self.stream_name,
            done.rows,
            done.path,
            done.size,
        )

    @override
    def clean_up(self) -> None:
        """An overwritten stream without records still sends a header-only `overwrite` file."""
        try:
            self.pool.wait_all()  # the last file may still be uploading on the session
            if self.mode == REPLACE and self.files == 0:
                self.pool.wait_for(self.pool.submit(lambda: self._send([])))
            super().clean_up()
        finally:
            self.uploader.close()
