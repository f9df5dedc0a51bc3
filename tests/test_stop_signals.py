"""A SIGTERM ends either connector for sure: within the grace period, and at once when repeated.

The signal handler runs on the main thread between two of its bytecodes, so that thread may
hold a lock when it stops (a logging handler's, seen between its `acquire()` and `try:` in a
target that hung under load), and a worker thread waiting for that lock would keep the
interpreter's exit waiting forever (`emarsys_singer.stop_signals`).
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

HELD_LOCK_AT_SIGNAL = """
import os, signal, sys, threading, time
import emarsys_singer.stop_signals
emarsys_singer.stop_signals.STOP_GRACE = float(sys.argv[1])
from emarsys_sandbox import Sandbox
sandbox = Sandbox(contacts=5).start()  # serves on a daemon thread: no wait at exit
if sys.argv[3] == "tap-emarsys":
    from tap_emarsys.tap import TapEmarsys
    TapEmarsys(config=sandbox.wsse_config(start_date="2026-03-01"))  # installs its handlers
else:
    from target_emarsys.target import TargetEmarsys
    TargetEmarsys(config=sandbox.wsse_config(rds_connection="demo"))
held = threading.Lock()
held.acquire()  # held by the main thread when the signal arrives, never released
threading.Thread(target=held.acquire, name="worker").start()  # a worker waiting for it
print("ready", flush=True)
if sys.argv[2] == "self":
    os.kill(os.getpid(), signal.SIGTERM)
time.sleep(120)
"""
CONNECTORS = ["tap-emarsys", "target-emarsys"]


def held_lock_run(grace: float, who: str, connector: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HELD_LOCK_AT_SIGNAL, str(grace), who, connector],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("connector", CONNECTORS)
def test_sigterm_ends_the_run_even_when_a_worker_waits_for_a_lock_left_held(
    connector: str,
) -> None:
    proc = held_lock_run(0.5, "self", connector)
    _, err = proc.communicate(timeout=60)  # without the grace period: no exit at all
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.count("Received ") == 1, err[-2000:]  # the connector's one line


@pytest.mark.parametrize("connector", CONNECTORS)
def test_a_second_sigterm_ends_the_run_at_once(connector: str) -> None:
    proc = held_lock_run(600.0, "parent", connector)  # the grace would not end before the timeout
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.stderr is not None
    for line in proc.stderr:  # after the SDK's own lines of start-up
        if "Received " in line:
            break
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
