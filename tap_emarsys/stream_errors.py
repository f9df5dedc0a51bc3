"""A missing permission named with the stream that needed it (docs/emarsys-api.md §12.8).

The client's `PermissionDeniedError` names the endpoint and the permission; a user reading the
tap's one-line error also wants to know which stream to deselect or which permission to grant
for it. `sdk_overrides.StreamOverrides`, the base of every stream, turns the client's error into
this one (an export's own failures already name the stream, through `ExportJobError`).
"""

from __future__ import annotations

from typing_extensions import override

from emarsys_api import PermissionDeniedError


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
