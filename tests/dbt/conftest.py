"""The warehouse tests' PostgreSQL server and target-postgres, for the dbt package on PostgreSQL."""

from __future__ import annotations

from tests.warehouse.conftest import postgres_server, target_postgres

__all__ = ["postgres_server", "target_postgres"]
