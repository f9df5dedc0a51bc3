"""SIGKILL at random points of a load, rerun from the last STATE: the destination equals the
source. `make soak` runs the full 20 kills of 100,000 records (bench/soak_target_kill.py); this
runs the same code with 3 kills of 20,000. SIGTERM and contacts: tests/target/test_kill_rerun.py.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak_target_kill.py"


def load_soak() -> object:
    spec = importlib.util.spec_from_file_location("soak_target_kill", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_three_random_sigkills_of_a_20000_record_load() -> None:
    soak = load_soak()
    shm = Path("/dev/shm")
    workdir = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    try:
        report = soak.soak(20_000, 3, seed=20261129, workdir=workdir, log=lambda _: None)  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\ntarget kill soak: {report.kills} kills, {report.resent} rows resent")
    assert report.problems == []
    assert report.kills == 3
    assert report.exact
