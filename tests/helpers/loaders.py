"""Third-party Singer targets, each in its own virtualenv under `.venv-loaders/`, as Meltano does.

A loader is installed from PyPI by its pinned requirement into `.venv-loaders/<command>` once per
checkout (`make loaders`, or the first warehouse test that needs it) and reused while its stamp
file names the same requirement. Its own virtualenv keeps its dependencies (another singer-sdk,
SQLAlchemy, singer-python) apart from the project's, so the test runs the loader as users install
it. `python -m tests.helpers.loaders` builds every loader and prints the seconds each took.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOADERS_DIR = ROOT / ".venv-loaders"
BUILD_TIMEOUT = 900  # seconds; pip builds simplejson and ciso8601 for target-jsonl from source


class LoaderBuildError(RuntimeError):
    """pip could not install a loader (the message names it and pip's last lines)."""


@dataclass(frozen=True)
class Loader:
    """A Singer target from PyPI.

    Attributes:
        command: its executable's name, also the name of its virtualenv folder.
        requirement: the pinned pip requirement that installs it.
    """

    command: str
    requirement: str

    @property
    def venv(self) -> Path:
        """The loader's own virtualenv."""
        return LOADERS_DIR / self.command

    @property
    def executable(self) -> Path:
        """The loader's command inside its virtualenv."""
        return self.venv / "bin" / self.command

    @property
    def _stamp(self) -> Path:
        return self.venv / ".installed"

    def is_installed(self) -> bool:
        """Whether the virtualenv holds exactly this requirement (its stamp says so)."""
        return (
            self._stamp.exists()
            and self._stamp.read_text(encoding="utf-8").strip() == self.requirement
            and self.executable.exists()
        )

    def ensure(self) -> Path:
        """Build the virtualenv unless it is current; returns the executable.

        A file lock keeps two test runs from building the same virtualenv at once; a build
        that was interrupted has no stamp and is started again from an empty folder.

        Raises:
            LoaderBuildError: pip failed.
        """
        LOADERS_DIR.mkdir(exist_ok=True)
        with (LOADERS_DIR / f".{self.command}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.is_installed():
                self._build()
        return self.executable

    def _build(self) -> None:
        shutil.rmtree(self.venv, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(self.venv)],
            [str(self.venv / "bin" / "python"), "-m", "pip", "install", "-q", self.requirement],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
            if done.returncode:
                tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
                raise LoaderBuildError(
                    f"Installing {self.requirement} into {self.venv} failed "
                    f"(exit {done.returncode}): {tail}"
                )
        self._stamp.write_text(self.requirement + "\n", encoding="utf-8")


TARGET_POSTGRES = Loader("target-postgres", "meltanolabs-target-postgres==0.8.1")
TARGET_JSONL = Loader("target-jsonl", "target-jsonl==0.1.4")
LOADERS = (TARGET_POSTGRES, TARGET_JSONL)


def main() -> None:
    """Build every loader that is not current, saying how long each took."""
    for loader in LOADERS:
        if loader.is_installed():
            print(f"{loader.requirement}: current in {loader.venv}")
            continue
        started = time.monotonic()
        loader.ensure()
        print(f"{loader.requirement}: built in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
