"""The rate-limit budget shared by a client's threads (no HTTP: a fake clock)."""

from __future__ import annotations

import pytest

from emarsys_api.pacing import RatePacer, remaining, reset_time

T0 = 1_800_000_000.0


class FakeTime:
    """A clock that only moves when the pacer waits."""

    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _headers(left: int, reset: float) -> dict[str, str]:
    return {"X-Ratelimit-Remaining": str(left), "X-RateLimit-Reset": str(int(reset))}


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def _pacer(fake: FakeTime, max_wait: float = 300) -> RatePacer:
    pacer = RatePacer(max_wait, clock=fake.clock)
    pacer._wait = fake.sleep  # type: ignore[method-assign]
    return pacer


def test_header_parsing() -> None:
    assert remaining({"X-Ratelimit-Remaining": "3"}) == 3
    assert remaining({"X-Ratelimit-Remaining": "x"}) is None
    assert remaining({}) is None
    assert reset_time({"X-RateLimit-Reset": "1800000007"}, T0) == T0 + 7
    assert reset_time({"X-RateLimit-Reset": "7"}, T0) == T0 + 7


def test_sequential_requests_pause_when_the_budget_is_spent(fake: FakeTime) -> None:
    pacer = _pacer(fake)
    for left in (2, 1, 0):
        pacer.acquire()
        pacer.release(_headers(left, T0 + 10))
    assert fake.slept == []
    pacer.acquire()  # budget spent, nothing in flight: waits for the reset
    assert fake.slept == [10.0]
    pacer.release(_headers(4, T0 + 20))
    pacer.acquire()
    assert fake.slept == [10.0]


def test_requests_in_flight_count_against_the_budget(fake: FakeTime) -> None:
    pacer = _pacer(fake)
    for _ in range(3):  # three threads send at once
        pacer.acquire()
    pacer.release(_headers(2, T0 + 10))  # 2 left, and 2 requests still in flight
    assert pacer._left == 2 and pacer._in_flight == 2
    pacer.release(_headers(3, T0 + 10))  # counted earlier, answered later: lowest figure wins
    pacer.release(_headers(1, T0 + 10))
    pacer.acquire()  # 1 left, nothing in flight: may go
    assert fake.slept == []


def test_late_replies_from_an_old_window_are_ignored(fake: FakeTime) -> None:
    pacer = _pacer(fake)
    pacer.acquire()
    pacer.acquire()
    pacer.release(_headers(5, T0 + 10))
    fake.now = T0 + 11
    pacer.acquire()
    pacer.release(_headers(9, T0 + 21))  # new window
    pacer.release(_headers(0, T0 + 10))  # the old window's straggler
    pacer.acquire()
    assert fake.slept == []
    assert pacer._left == 9


def test_wait_is_capped_and_no_headers_means_no_pacing(fake: FakeTime) -> None:
    pacer = _pacer(fake, max_wait=5)
    pacer.acquire()
    pacer.release(_headers(0, T0 + 3600))
    pacer.acquire()
    assert fake.slept == [5.0]
    pacer.release(None)
    for _ in range(3):
        pacer.acquire()
        pacer.release({})
    assert fake.slept == [5.0]
