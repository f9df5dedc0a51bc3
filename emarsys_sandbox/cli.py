"""`emarsys-sandbox serve`: run a sandbox until SIGINT/SIGTERM.

The first stdout line is one JSON object (`base_url`, `username`, `secret`, `client_id`,
`client_secret`, `token_url`) so scripts can read it; human-readable lines follow.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from emarsys_sandbox.options import add_serve_flags, serve_keywords
from emarsys_sandbox.server import Sandbox


def build_parser() -> argparse.ArgumentParser:
    """The command line; `serve` has one flag per field of `options.SandboxOptions`."""
    parser = argparse.ArgumentParser(prog="emarsys-sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a sandbox on 127.0.0.1 until stopped")
    add_serve_flags(serve)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `emarsys-sandbox` console script."""
    args = build_parser().parse_args(argv)
    sandbox = Sandbox(**serve_keywords(args))
    sandbox.start()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(json.dumps(sandbox.credentials), flush=True)
    print(
        f"emarsys-sandbox serving {args.contacts} contacts (seed {args.seed}) at "
        f"{sandbox.base_url}",
        flush=True,
    )
    print(
        f"  WSSE user {sandbox.credentials['username']}; OAuth token URL "
        f"{sandbox.credentials['token_url']}; control under {sandbox.base_url}/_sandbox/",
        flush=True,
    )
    print("  stop with Ctrl-C (SIGINT) or SIGTERM", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.close()
        print("emarsys-sandbox stopped", file=sys.stderr, flush=True)
