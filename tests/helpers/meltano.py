"""Running the real `meltano` against a sandbox, and what the project's `dev` environment sets.

The tests that start Meltano (tests/e2e/meltano, tests/dbt) share one way to build its
environment and to run a command: Meltano's system database in the test's temporary folder, no
usage statistics, none of this process's connector, Meltano or dbt settings leaking in, and the
sandbox's credentials where `meltano.yml` reads them (`EMARSYS_*`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).parent / "meltano")

#: Settings of this process that would reach the plugins Meltano runs, or Meltano itself.
FOREIGN_SETTINGS = ("TAP_", "TARGET_", "MELTANO_", "EMARSYS_", "DBT_")

#: The `dev` environment's tap settings in meltano.yml (ground truth is computed for them).
DEV_START = "2026-03-15"
DEV_CONTACT_FIELDS = [
    "first_name",
    "last_name",
    "email",
    "gender",
    "optin",
    "loyalty_points",
    "last_purchase",
]
DEV_WINDOW_DAYS = 14


def clean_environ(prefixes: tuple[str, ...] = FOREIGN_SETTINGS) -> dict[str, str]:
    """This process's environment without the variables starting with `prefixes`."""
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


def meltano_environment(
    system_db: Path, sb: Sandbox | None = None, **settings: str
) -> dict[str, str]:
    """The environment of a `meltano` command: `clean_environ()`, Meltano's system database at
    `system_db`, no usage statistics, `sb`'s WSSE credentials (when given) and `settings`."""
    env = clean_environ()
    env.update(
        MELTANO_DATABASE_URI=f"sqlite:///{system_db}",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    if sb is not None:
        env.update(
            EMARSYS_BASE_URL=sb.base_url,
            EMARSYS_USERNAME=sb.credentials["username"],
            EMARSYS_SECRET=sb.credentials["secret"],
        )
    env.update(settings)
    return env


def run_meltano(
    env: dict[str, str],
    *args: str,
    cwd: Path = ROOT,
    timeout: float = 300,
    stdout_only: bool = False,
) -> str:
    """Run `meltano *args` in `cwd` (this project by default); fail the test with the end of its
    output when it fails. Returns stdout and stderr together, or stdout alone."""
    done = subprocess.run(
        [MELTANO, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"meltano {' '.join(args)} failed:\n{output[-8000:]}"
    return done.stdout if stdout_only else output


def dev_tap_streams(sb: Sandbox, end_date: str) -> dict[str, Any]:
    """The tap's stream objects for the `dev` environment's settings, up to `end_date`."""
    config = {
        **sb.wsse_config(),
        "start_date": DEV_START,
        "end_date": end_date,
        "contact_fields": DEV_CONTACT_FIELDS,
        "export_window_days": DEV_WINDOW_DAYS,
    }
    return TapEmarsys(config=config).streams
