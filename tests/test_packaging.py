"""The distribution installs its four packages and three console scripts."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "package", ["emarsys_api", "tap_emarsys", "target_emarsys", "emarsys_sandbox"]
)
def test_package_imports(package: str) -> None:
    assert importlib.import_module(package).__doc__


@pytest.mark.parametrize("script", ["tap-emarsys", "target-emarsys", "emarsys-sandbox"])
def test_console_script_installed(script: str) -> None:
    assert shutil.which(script, path=str(Path(sys.executable).parent)) is not None
