"""A missing permission named with the stream that needed it (docs/emarsys-api.md §12.8).

The client's `PermissionDeniedError` names the endpoint and the permission; a user reading the
tap's one-line error also wants to know which stream to deselect or which permission to grant
for it. Every stream base mixes `StreamNamedErrors` in, so JSON and export streams alike add
their name (an export's own failures already do, through `ExportJobError`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from typing_extensions import override

from emarsys_api import PermissionDeniedError

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class StreamPermissionDeniedError(PermissionDeniedError):
    """A `PermissionDeniedError` met while syncing a stream; the message starts with it.

    Attributes:
        stream: the stream whose request was refused.
    """

    def __init__(self, stream: str, error: PermissionDeniedError) -> None:
        self.stream = stream
        super().__init__(
            error.status,
            error.reply_code,
            error.reply_text,
            error.endpoint,
            permission=error.permission,
            hint=error.hint,
        )

    @override
    def _compose(self) -> str:
        return f"Stream '{self.stream}': {super()._compose()}"

    @override
    def __reduce__(self) -> tuple[object, ...]:
        plain = PermissionDeniedError(
            self.status,
            self.reply_code,
            self.reply_text,
            self.endpoint,
            permission=self.permission,
            hint=self.hint,
        )
        return (StreamPermissionDeniedError, (self.stream, plain))


class StreamNamedErrors(Stream):
    """Adds the stream's name to a missing-permission error raised while it syncs."""

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        # `Stream.sync` is final in the SDK; this generator is where all of a stream's requests
        # run, so it is the one place to catch them for every stream.
        try:
            return (yield from super()._sync_records(context, write_messages=write_messages))
        except PermissionDeniedError as error:
            if isinstance(error, StreamPermissionDeniedError):
                raise
            raise StreamPermissionDeniedError(self.name, error) from None
