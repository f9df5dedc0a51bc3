"""Shared by the benchmarks: measure the connectors as an installed copy would run."""

from __future__ import annotations

import compileall
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compile_packages(*packages: str) -> None:
    """Byte-compile `packages` of this checkout, as installing them does.

    A checkout run with PYTHONDONTWRITEBYTECODE would otherwise compile them from source at
    every start of a connector, a cost an installed tap-emarsys or target-emarsys never pays.
    """
    for package in packages:
        compileall.compile_dir(ROOT / package, quiet=1)
