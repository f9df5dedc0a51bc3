"""The `emarsys-sandbox` console script: one line naming the extra when it is not installed.

The connectors' install leaves out the sandbox's HTTP and WebDAV servers (werkzeug, wsgidav: the
`emarsys-singer[sandbox]` extra). Without them the command would end in an import traceback;
this module imports nothing of the sandbox until the extra is known to be there.
"""

from __future__ import annotations

import importlib.util
import sys

# The distributions of the `[sandbox]` extra, by the module each installs.
SANDBOX_EXTRA_MODULES = {"werkzeug": "werkzeug", "wsgidav": "wsgidav"}
INSTALL_HINT = "pip install 'emarsys-singer[sandbox]'"


def missing_sandbox_modules() -> list[str]:
    """The `[sandbox]` extra's distributions whose module cannot be imported."""
    return [
        distribution
        for module, distribution in SANDBOX_EXTRA_MODULES.items()
        if importlib.util.find_spec(module) is None
    ]


def main(argv: list[str] | None = None) -> None:
    """Entry point: the one-line hint without the extra, else `emarsys_sandbox.cli.main`."""
    missing = missing_sandbox_modules()
    if missing:
        sys.exit(
            f"emarsys-sandbox needs the sandbox extra ({', '.join(missing)} not installed): "
            f"{INSTALL_HINT}"
        )
    from emarsys_sandbox.cli import main as serve

    serve(argv)
