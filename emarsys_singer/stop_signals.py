"""What both connectors do at SIGTERM/SIGINT besides their own stop: end for sure, and soon.

Python runs a signal handler on the main thread between two of its bytecodes, and each
connector stops by raising `SystemExit` from there, so that requests or exports in flight
can finish and their STATE still be written. The exception can leave a lock held that the
main thread had just taken (a logging handler's, between its `acquire()` and `try:`); a
worker thread then waits for that lock forever, and the interpreter's exit waits for the
worker. `SignalStop.arrived` bounds that: the process ends with the same exit status
`STOP_GRACE` seconds after the first signal, and at once at a second one.
"""

from __future__ import annotations

import os
import threading

STOP_GRACE = 10.0
"""Seconds a connector may take to stop after SIGTERM/SIGINT before it ends without waiting."""


class SignalStop:
    """The first signal starts the grace period; a second one ends the process at once."""

    def __init__(self) -> None:
        """No signal yet."""
        self.signalled = False

    def arrived(self, signum: int) -> None:
        """Call first in the signal handler: ends the process now if this is the second signal,
        else ends it `STOP_GRACE` seconds from now, with exit status 128 + `signum` either way,
        unless it has ended by then."""
        status = 128 + signum
        if self.signalled:
            os._exit(status)
        self.signalled = True
        deadline = threading.Timer(STOP_GRACE, os._exit, (status,))
        deadline.daemon = True
        deadline.start()
