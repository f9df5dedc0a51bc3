"""emarsys_sandbox: a faithful local Emarsys API for tests, benchmarks and demos.

Shaped like moto: `urls` (routes), `responses` (handlers), `models`/`backend` (the account as
plain Python), `exceptions` (API errors), `faults`, `auth`, `synthetic` (the deterministic
account), `server` (`Sandbox`), `cli` (`emarsys-sandbox serve`).
"""

from __future__ import annotations

from emarsys_sandbox.server import Sandbox

__all__ = ["Sandbox"]
