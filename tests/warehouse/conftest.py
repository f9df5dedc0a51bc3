"""Warehouse fixtures: one PostgreSQL server per session, the loaders in their own virtualenvs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.warehouse.loaders import TARGET_JSONL, TARGET_POSTGRES
from tests.warehouse.postgres_server import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1, started for the session and stopped after it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def target_postgres() -> Path:
    """meltanolabs-target-postgres, installed once into `.venv-loaders/target-postgres`."""
    return TARGET_POSTGRES.ensure()


@pytest.fixture(scope="session")
def target_jsonl() -> Path:
    """target-jsonl, installed once into `.venv-loaders/target-jsonl`."""
    return TARGET_JSONL.ensure()
