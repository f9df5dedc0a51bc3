"""Fixtures of the client tests (their helpers: tests/helpers/clients.py; the tiny HTTP server
is in `tests/conftest.py`)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_retries(fast_retries: None) -> None:
    """Every client test retries fast (`fast_retries`, tests/conftest.py)."""
