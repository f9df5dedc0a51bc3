"""`RowsHandedOut`: the one "skip the rows already handed out" of the three retry layers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emarsys_api.exports import RowsHandedOut


def cut_after(rows: list[str], n: int) -> Iterator[str]:
    """The rows of one read that breaks (a dropped connection) after `n` of them."""
    yield from rows[:n]
    raise ConnectionError("cut")


def test_reads_cut_at_any_point_hand_out_each_row_once_in_order() -> None:
    rows = [f"row {i}" for i in range(10)]
    handed: RowsHandedOut[str] = RowsHandedOut()
    out: list[str] = []
    for cut in (3, 2, 7):  # the second read breaks before it passes the first one's rows
        with pytest.raises(ConnectionError):
            out.extend(handed.fresh(cut_after(rows, cut)))
    out.extend(handed.fresh(rows))
    assert out == rows
    assert handed.count == 10


def test_a_consumer_that_stops_early_counts_only_what_it_took() -> None:
    handed: RowsHandedOut[int] = RowsHandedOut()
    fresh = handed.fresh(range(5))
    assert [next(fresh), next(fresh)] == [0, 1]
    fresh.close()
    assert handed.count == 2
    assert list(handed.fresh(range(5))) == [2, 3, 4]


def test_passed_over_returns_the_last_row_handed_out_or_none_for_a_shorter_read() -> None:
    handed: RowsHandedOut[str] = RowsHandedOut()
    assert list(handed.counted(iter(["a", "b", "c"]))) == ["a", "b", "c"]
    again = iter(["a", "b", "c", "d"])
    assert handed.passed_over(again) == "c"
    assert list(again) == ["d"]
    assert handed.passed_over(iter(["a", "b"])) is None
    assert RowsHandedOut[str]().passed_over(iter(["a"])) is None
