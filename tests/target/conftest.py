"""Fixtures for target tests (the helpers they import are in tests/helpers/target_run.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.target_run import TargetRun


@pytest.fixture
def run_target() -> Any:
    """Factory: `run_target(config, client=None) -> TargetRun`."""
    return TargetRun


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    """A scratch directory on tmpfs when there is one: the sandbox commits every RDS row, and
    disk syncs would make the tests slow."""
    shm = Path("/dev/shm")
    path = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    yield path
    shutil.rmtree(path, ignore_errors=True)
