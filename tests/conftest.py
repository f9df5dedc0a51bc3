"""Shared fixtures: a running sandbox per test, and a factory for custom ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emarsys_sandbox import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A small running sandbox (200 contacts, seed 7), closed after the test."""
    with Sandbox(contacts=200, seed=7) as sb:
        yield sb


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """A factory: `make_sandbox(**Sandbox kwargs)` starts one; all are closed at teardown."""
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sb = Sandbox(**kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.close()
