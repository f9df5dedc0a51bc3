"""Rejected rows: counted, kept in a JSON-lines file, summarised at the end. Never dropped."""

from __future__ import annotations

import datetime
import json
import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from emarsys_api import ConfigurationError
from target_emarsys.values import json_value

logger = logging.getLogger("target-emarsys")


def default_rejects_path() -> Path:
    """A file name unique to this run, in the working directory."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"target-emarsys-rejected-{stamp}.jsonl")


class RejectedRows:
    """Collects the rows a run could not write when `on_record_error` is `log`.

    Each line of the file is one row: `stream`, `key`, `reason` and the `record` as received.
    The file is only created when the first row is rejected, and its name is logged then.
    Safe to call from the request threads.
    """

    def __init__(self, path: Path) -> None:
        """Keep rows in `path` (created lazily)."""
        self.path = path
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._file: Any = None

    def check(self) -> None:
        """Open the file once at start-up, so an unusable path stops the run before any data
        is sent rather than at the first rejected row; a file made only for this is removed.

        Raises:
            ConfigurationError: the file cannot be created or appended to.
        """
        existed = self.path.exists()
        self._open().close()
        if not existed and self.path.stat().st_size == 0:
            self.path.unlink()

    def _open(self) -> Any:
        """The file, opened for appending (its directories made); OS errors name the setting."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self.path.open("a", encoding="utf-8")
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            if isinstance(exc, FileExistsError):
                reason = "a part of the path is a file, not a directory"
            else:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigurationError(
                f"`rejected_rows_path` {str(self.path)!r} cannot be written ({reason}).",
                setting="rejected_rows_path",
            ) from None

    def add(self, stream: str, key: str, reason: str, record: dict[str, Any]) -> None:
        """Keep one rejected row and log why it was rejected."""
        line = json.dumps(
            {
                "stream": stream,
                "key": key,
                "reason": reason,
                "record": {k: json_value(v) for k, v in record.items()},
            },
            ensure_ascii=False,
        )
        with self._lock:
            if self._file is None:
                self._file = self._open()
                logger.warning("Rejected rows are kept in %s", self.path.resolve())
            self._file.write(line + "\n")
            self._file.flush()
            self.counts[stream] += 1
        logger.warning("stream '%s': rejected record %s: %s", stream, key, reason)

    @property
    def total(self) -> int:
        """Rows rejected so far, all streams."""
        return sum(self.counts.values())

    def close(self) -> None:
        """Close the file and log one summary line per stream."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        for stream, count in sorted(self.counts.items()):
            logger.warning(
                "stream '%s': %d record(s) rejected, kept in %s", stream, count, self.path.resolve()
            )
