"""Requests in flight on their own: request pool, key order, acknowledgement ledger, held STATE."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

from target_emarsys.in_flight import AckLedger, AcknowledgedStates, KeyOrder, RequestPool


def test_ledger_counts_only_the_unbroken_prefix() -> None:
    ledger = AckLedger()
    ledger.complete(100, 200)
    assert ledger.through == 0
    ledger.complete(0, 100)
    assert ledger.through == 200
    ledger.batch(200, 250, parts=0)
    assert ledger.through == 250


def test_states_wait_for_their_marks_and_newer_supersede_older() -> None:
    written: list[dict[str, Any]] = []
    states = AcknowledgedStates(written.append)
    a, b = AckLedger(), AckLedger()
    states.hold({"n": 1}, [(a, 10)])
    states.hold({"n": 2}, [(a, 20), (b, 5)])
    states.release_ready()
    assert written == []
    a.complete(0, 10)
    states.release_ready()
    assert written == [{"n": 1}]
    a.complete(10, 20)
    b.complete(0, 5)
    states.hold({"n": 3}, [(a, 20), (b, 5)])  # nothing new since: ready at once
    states.release_ready()
    assert written == [{"n": 1}, {"n": 3}]
    states.hold({"n": 3}, [(a, 20)])
    states.release_ready()
    assert written == [{"n": 1}, {"n": 3}]  # never the same STATE twice in a row
    assert states.held == 0


def test_pool_raises_the_first_failure_and_never_acknowledges_it() -> None:
    pool = RequestPool(2)
    ledger = AckLedger()
    ticket = ledger.batch(0, 10, parts=2)

    def boom() -> None:
        raise ValueError("refused")

    pool.submit(lambda: None, on_done=ticket.part_done)
    pool.submit(boom, on_done=ticket.part_done)
    with pytest.raises(ValueError, match="refused"):
        pool.wait_all()
    assert ledger.through == 0
    with pytest.raises(ValueError, match="refused"):
        pool.submit(lambda: None)
    pool.shutdown()


def test_pool_keeps_at_most_n_in_flight() -> None:
    pool = RequestPool(3)
    gate = threading.Event()
    running = []
    lock = threading.Lock()
    peak = [0]

    def work() -> None:
        with lock:
            running.append(1)
            peak[0] = max(peak[0], len(running))
        gate.wait(5)
        with lock:
            running.pop()

    submitted = threading.Thread(target=lambda: [pool.submit(work) for _ in range(8)])
    submitted.start()
    submitted.join(0.3)
    assert submitted.is_alive()  # blocked: three in flight, no free slot
    gate.set()
    submitted.join(5)
    pool.wait_all()
    pool.shutdown()
    assert peak[0] == 3


def test_key_order_reports_in_flight_holders() -> None:
    pool = RequestPool(2)
    order = KeyOrder()
    gate = threading.Event()
    first = pool.submit(lambda: gate.wait(5))
    order.hold(["a", "b"], first)
    assert order.conflicts(["b", "c"]) == {first}
    gate.set()
    pool.wait_all()
    pool.shutdown()  # joins the worker, so its done-callbacks have run
    assert order.conflicts(["a", "b"]) == set()


def test_key_order_release_keeps_keys_a_later_request_holds() -> None:
    """A finished request drops only the keys no later request has taken over."""
    order = KeyOrder()
    first: Future[None] = Future()
    second: Future[None] = Future()
    order.hold(["a", "b", "a"], first)  # a key twice in one request (inserts may repeat one)
    order.hold(["b", "c"], second)
    first.set_result(None)
    assert order.conflicts(["a"]) == set()
    assert order.conflicts(["b", "c"]) == {second}
    second.set_result(None)
    assert order.conflicts(["a", "b", "c"]) == set()


def test_key_order_release_drops_every_key_when_none_was_taken_over() -> None:
    order = KeyOrder()
    done: Future[None] = Future()
    order.hold([("x", 1), ("y", 2), ("x", 1)], done)
    done.set_result(None)
    assert order.conflicts([("x", 1), ("y", 2)]) == set()
