"""emarsys_sandbox: a faithful local Emarsys API on 127.0.0.1, for tests, benchmarks and demos.

It answers the paths, auth schemes, envelopes, error codes, rate limits, export lifecycle and
CSV of the real API (docs/emarsys-api.md) over a deterministic synthetic account, and says what
every export must contain (`expected_export`), so tests compare a connector's output with ground
truth. It imports none of the project's other packages: it is a second reading of the API, not
the client's mirror.

Where each concern lives (moto's shape):

- `server` (`Sandbox`, in-process), `process` (`SandboxProcess`, `serve` as a child), `cli`
  (`emarsys-sandbox serve`); `options` (`SandboxOptions`: every option, flag and help, once).
- `wsgi` (the app: auth, faults, rate limit), `urls` (routes), `handlers` (request -> backend
  call -> reply), `exceptions` (the API's errors), `auth` (WSSE, OAuth2, permissions),
  `faults` (fault injection, rate limiter).
- `backend` (`SandboxBackend`: everything one sandbox holds, no HTTP), `models`
  (`SyntheticAccount`), `synthetic` (the generated contacts, campaigns and events), `contacts`
  (contact field values), `rds` / `rds_columns` (relational tables), `behavior` (HDS events).
- Exports: `export_specs` (request validation, columns, rows), `export_jobs` (the status walk),
  `export_files` (the stored CSV file and download pages), `distribution` (Emarsys Storage
  over WebDAV, SFTP uploads, notifications).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emarsys_sandbox.server import Sandbox

__all__ = ["Sandbox"]


def __getattr__(name: str) -> Any:
    """`Sandbox`, imported on first use (PEP 562).

    Importing the package must not need the `[sandbox]` extra (werkzeug, wsgidav): the
    `emarsys-sandbox` command (`launcher`) first says in one line what to install.
    """
    if name == "Sandbox":
        from emarsys_sandbox.server import Sandbox

        return Sandbox
    raise AttributeError(f"module 'emarsys_sandbox' has no attribute {name!r}")
