"""Fixtures of the sandbox tests (their helpers are in tests/helpers/sandbox_http.py)."""

from __future__ import annotations

import pytest

from emarsys_sandbox import Sandbox
from tests.helpers.sandbox_http import Api


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    """WSSE calls against the shared `sandbox` fixture."""
    return Api(sandbox)
