"""How a connector's command runs as its own process: the console scripts' entry point."""

from __future__ import annotations

import gc
from typing import NoReturn

import click


def run_as_process(command: click.Command) -> NoReturn:
    """Run `command` as the process (click's standalone mode: it always exits), and freeze
    every object out of the garbage collector (`gc.freeze`) as it ends.

    After the command the interpreter exits, and its last full collection walks every object
    of the SDK, its dependencies and the run (about 50,000) to free memory the operating system
    takes back anyway: about a twentieth of the target's CPU time on 200,000 records
    (bench/target_throughput.py). Nothing the connectors write waits for that collection:
    STATE lines go to standard output, which the interpreter flushes itself, the rejected-rows
    file is flushed line by line, files, uploads and connections are closed by the run, and
    `atexit` handlers (logging's last flush) still run. Only here, never in-process (tests
    invoke the commands many times in one process, whose garbage must still be collected).
    """
    try:
        command.main()
    finally:
        gc.freeze()
    raise AssertionError("unreachable: click's standalone mode exits")  # pragma: no cover
