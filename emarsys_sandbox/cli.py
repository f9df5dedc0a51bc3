"""emarsys-sandbox command line (not implemented yet)."""

from __future__ import annotations

import sys


def main() -> None:
    sys.stderr.write("emarsys-sandbox is not implemented yet\n")
    raise SystemExit(2)
