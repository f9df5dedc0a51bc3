"""tap-emarsys entry point (not implemented yet)."""

from __future__ import annotations

import sys


class TapEmarsys:
    """Placeholder until the tap lands: says so and exits non-zero."""

    @classmethod
    def cli(cls) -> None:
        sys.stderr.write("tap-emarsys is not implemented yet\n")
        raise SystemExit(2)
