"""The SDK's standard target tests against a sandbox (relational, auto-created tables)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk.testing import get_target_test_class

from emarsys_sandbox import Sandbox
from target_emarsys.target import TargetEmarsys

# Filled in by the module fixture once the sandbox runs; the SDK's runner reads it per test.
CONFIG: dict[str, Any] = {}

_StandardTests = get_target_test_class(TargetEmarsys, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def _sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=20, seed=3, rds_autocreate=True) as sb:
        CONFIG.clear()
        CONFIG.update(sb.wsse_config(rds_connection="sdk_tests"))
        yield sb


class TestTargetEmarsys(_StandardTests):  # type: ignore[misc,valid-type]
    """Standard target tests."""


def test_standard_tests_wrote_to_the_sandbox(_sandbox: Sandbox) -> None:
    """The suite above really loaded data: RDS writes answered 200, rows in the tables."""
    writes = [r for r in _sandbox.request_log() if "/records" in r["path"]]
    assert writes
    assert {r["status"] for r in writes} == {200}
    assert _sandbox.rds_rows("sdk_tests", "test_optional_attributes")
