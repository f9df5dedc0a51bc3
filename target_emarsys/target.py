"""target-emarsys entry point (not implemented yet)."""

from __future__ import annotations

import sys


class TargetEmarsys:
    """Placeholder until the target lands: says so and exits non-zero."""

    @classmethod
    def cli(cls) -> None:
        sys.stderr.write("target-emarsys is not implemented yet\n")
        raise SystemExit(2)
