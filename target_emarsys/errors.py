"""Errors the target raises itself (Emarsys's own errors come from `emarsys_api`)."""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError, FatalSyncError, MissingKeyPropertiesError


class DestinationConfigError(ConfigValidationError):
    """A `stream_destinations` entry (or a setting it needs) is unusable.

    Raised while the target starts, before any input is read or any request is sent, so a
    typo in the config never costs a half-loaded table. It is a `ConfigValidationError` so
    the SDK's CLI prints it as a config problem and exits non-zero.
    """

    def __init__(self, stream: str, problem: str) -> None:
        """Name the stream whose destination is wrong and say what is wrong with it."""
        message = f"stream_destinations['{stream}']: {problem}"
        super().__init__(message, errors=[message])
        self.stream = stream


class InvalidRowError(FatalSyncError):
    """A record cannot be written to its destination as it stands.

    Detected by the target before sending, so Emarsys never receives the bad row.
    """

    def __init__(self, stream: str, key: str, reason: str) -> None:
        """Name the stream, the record's key and the reason, as the user needs to fix it."""
        super().__init__(f"stream '{stream}', record {key}: {reason}")
        self.stream = stream
        self.key = key
        self.reason = reason


class RecordRejectedError(FatalSyncError):
    """Emarsys refused one or more rows and `on_record_error` is `fail`."""

    def __init__(self, stream: str, key: str, reason: str) -> None:
        """Name the stream, the rejected row's key and Emarsys's reason."""
        super().__init__(f"stream '{stream}': Emarsys rejected record {key}: {reason}")
        self.stream = stream
        self.key = key
        self.reason = reason


class DestinationWriteError(FatalSyncError):
    """A write failed for a reason no row can fix (unknown columns, missing table, ...).

    Always fatal, whatever `on_record_error` says: every later batch would fail the same way.
    """


class StreamMissingKeyPropertiesError(MissingKeyPropertiesError):
    """A record lacks one of its stream's key properties, or has it null (the SDK's error,
    naming the stream): a key names the row in Emarsys, and no row is written without one."""

    def __init__(self, stream: str, missing: list[str], null: list[str] | None = None) -> None:
        """Name the stream, the missing key properties and the null ones."""
        null = null or []
        problems = []
        if missing:
            problems.append(
                f"is missing key propert{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}"
            )
        if null:
            problems.append(
                f"has null key propert{'y' if len(null) == 1 else 'ies'} {', '.join(null)}"
            )
        super().__init__(
            f"stream '{stream}': record {' and '.join(problems)}; every record needs a value "
            "for each key property (fix the source, or drop such records with a stream map)"
        )
        self.stream = stream
        self.missing = missing
        self.null = null
