"""What one in-process run of a connector command printed, logged and how it ended."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CommandRun:
    """What one command run printed and how it ended."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None
    logged_errors: list[str]

    @property
    def error_lines(self) -> list[str]:
        """Every error report: click's `Error: ...` lines and ERROR log records.

        (`--discover` reports a settings-schema violation with the SDK's own ERROR log line.)
        """
        clicks = [line for line in self.stderr.splitlines() if line.startswith("Error: ")]
        return clicks + self.logged_errors
