"""`python -m emarsys_sandbox serve ...`."""

from __future__ import annotations

from emarsys_sandbox.cli import main

main()
