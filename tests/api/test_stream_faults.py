"""Export downloads over a network that keeps breaking (a tiny server plays the broken link).

The sandbox cuts only a fresh download once; these cases need repeated and stuck cuts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from emarsys_api import ClientSettings, EmarsysClient, NetworkError, ResponseFormatError

ROWS = [["user_id", "Note"]] + [[str(i), f'x,"{i}"\r\nü' if i % 3 else ""] for i in range(500)]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(autouse=True)
def _http11(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP/1.1 so a body raising mid-way is a broken chunked stream, as with Emarsys."""
    monkeypatch.setattr(WSGIRequestHandler, "protocol_version", "HTTP/1.1")


PAGINGS = [
    pytest.param(header, counts, id=f"header-{header}-offset-{counts}")
    for header in ("every", "first")
    for counts in ("rows", "lines")
]


def _server(
    cut_at: Callable[[int], int | None],
    *,
    header: str = "every",
    counts: str = "rows",
    rows: list[list[str]] = ROWS,
) -> Callable[[Request], Response]:
    """Serve `rows` from `offset`, breaking the n-th reply after cut_at(n) bytes.

    `header`: `every` repeats the header on each page, `first` sends it only at offset 0.
    `counts`: `rows` counts `offset` in data rows, `lines` in file lines (header included).
    """
    calls = {"n": 0}

    def handler(request: Request) -> Response:
        offset = int(request.args.get("offset", 0))
        lines = rows[offset:] if counts == "lines" else [rows[0], *rows[1 + offset :]]
        if counts == "lines" and offset and header == "every":
            lines = [rows[0], *lines]
        if counts == "rows" and offset and header == "first":
            lines = lines[1:]
        body = _csv(lines)
        cut = cut_at(calls["n"])
        calls["n"] += 1

        def chunks() -> Iterator[bytes]:
            if cut is None:
                yield body
                return
            yield body[:cut]
            raise ConnectionError("cut on purpose")

        return Response(chunks(), content_type="text/csv;charset=UTF-8")

    return handler


def _client(base_url: str) -> EmarsysClient:
    settings = ClientSettings(base_url=base_url, username="u", secret="s", max_retries=3)
    return EmarsysClient(settings)


def test_many_cuts_with_progress_still_complete(tiny_server: Callable[..., str]) -> None:
    url = tiny_server(_server(lambda n: 700 if n < 12 else None))
    assert list(_client(url).export_rows(1)) == ROWS


def test_cut_inside_the_header_row(tiny_server: Callable[..., str]) -> None:
    url = tiny_server(_server(lambda n: 5 if n == 0 else None))
    assert list(_client(url).export_rows(1)) == ROWS


def test_a_download_that_never_progresses_gives_up(tiny_server: Callable[..., str]) -> None:
    url = tiny_server(_server(lambda n: 20))
    with pytest.raises(NetworkError) as caught:
        list(_client(url).export_rows(7))
    assert "export 7" in str(caught.value)
    assert caught.value.endpoint == "GET /api/v2/export/7/data"


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=6))
def test_any_cut_positions_give_identical_rows(
    tiny_server: Callable[..., str], cuts: list[int]
) -> None:
    """Cuts anywhere (in the header, a quoted CR/LF, a UTF-8 sequence): no row lost or repeated."""
    url = tiny_server(_server(lambda n: cuts[n] if n < len(cuts) else None))
    settings_ = ClientSettings(base_url=url, username="u", secret="s", max_retries=len(cuts))
    assert list(EmarsysClient(settings_).export_rows(1)) == ROWS


def test_a_resumed_page_with_another_header_is_refused(tiny_server: Callable[..., str]) -> None:
    """A first row of another width is no data row of this file (with as many columns it could
    be one: a server may send the header on the first page only)."""
    calls = {"n": 0}

    def handler(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:

            def cut() -> Iterator[bytes]:
                yield _csv(ROWS[:3])
                raise ConnectionError("cut on purpose")

            return Response(cut(), content_type="text/csv;charset=UTF-8")
        return Response(_csv([["other", "header", "x"], *ROWS[3:]]), content_type="text/csv")

    with pytest.raises(ResponseFormatError, match="different header"):
        list(_client(tiny_server(handler)).export_rows(3))


@pytest.mark.parametrize(("header", "counts"), PAGINGS)
@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=5))
def test_any_paging_and_cuts_give_identical_rows(
    tiny_server: Callable[..., str], header: str, counts: str, cuts: list[int]
) -> None:
    """Header on every page or the first only, offset in rows or lines: same rows, in order."""
    url = tiny_server(
        _server(lambda n: cuts[n] if n < len(cuts) else None, header=header, counts=counts)
    )
    settings_ = ClientSettings(base_url=url, username="u", secret="s", max_retries=len(cuts))
    assert list(EmarsysClient(settings_).export_rows(1)) == ROWS


# Two equal neighbours: under row counting a resume landing between them must keep both.
TWINS = [["user_id", "Note"], *[[str(i // 2), "same"] for i in range(40)]]


@pytest.mark.parametrize(("header", "counts"), PAGINGS)
@pytest.mark.parametrize("cut", [len(_csv(TWINS[:2])) + 2, len(_csv(TWINS[:3])) + 2])
def test_equal_neighbouring_rows_survive_a_resume_under_any_paging(
    tiny_server: Callable[..., str], header: str, counts: str, cut: int
) -> None:
    url = tiny_server(
        _server(lambda n: cut if n == 0 else None, header=header, counts=counts, rows=TWINS)
    )
    assert list(_client(url).export_rows(1)) == TWINS


@pytest.mark.parametrize(("header", "counts"), PAGINGS)
def test_the_paging_is_learned_logged_once_and_used_by_the_next_download(
    tiny_server: Callable[..., str], header: str, counts: str, caplog: pytest.LogCaptureFixture
) -> None:
    offsets: list[str | None] = []
    cut = _server(lambda n: 900, header=header, counts=counts)
    whole = _server(lambda n: None, header=header, counts=counts)
    started: set[str] = set()

    def handler(request: Request) -> Response:
        """The first request for each export is cut; the others are served whole."""
        offsets.append(request.args.get("offset"))
        first = request.path not in started
        started.add(request.path)
        return cut(request) if first else whole(request)

    client = _client(tiny_server(handler))
    with caplog.at_level("INFO", logger="emarsys_api"):
        assert list(client.export_rows(1)) == ROWS
        first_offsets = list(offsets)
        offsets.clear()
        assert list(client.export_rows(2)) == ROWS
    paging = client.download_paging
    assert paging.header_every_page is (header == "every")
    assert paging.offset_counts_lines is (counts == "lines")
    shown = [r.getMessage() for r in caplog.records if "resumed downloads showed" in r.message]
    assert len(shown) == 1
    assert ("every page" if header == "every" else "only on the first page") in shown[0]
    assert ("counting lines" if counts == "lines" else "counting data rows") in shown[0]
    # Lines: the first resume is ambiguous, so the file is read again from offset 0.
    assert first_offsets[0] is None and first_offsets[1] is not None
    assert first_offsets[2:] == ([None] if counts == "lines" else [])
    # The second download resumes once, at the offset the learned paging gives.
    assert len(offsets) == 2 and offsets[0] is None and offsets[1] is not None
    assert int(offsets[1]) == int(first_offsets[1]) + (1 if counts == "lines" else 0)


def test_a_full_reread_that_differs_is_refused(tiny_server: Callable[..., str]) -> None:
    calls = {"n": 0}

    def handler(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:

            def cut() -> Iterator[bytes]:
                yield _csv(ROWS[:4])
                raise ConnectionError("cut on purpose")

            return Response(cut(), content_type="text/csv;charset=UTF-8")
        if request.args.get("offset"):  # the page starts with the last row read: ambiguous
            return Response(_csv([ROWS[0], *ROWS[3:]]), content_type="text/csv")
        return Response(_csv([ROWS[0], ["9", "other"], *ROWS[3:]]), content_type="text/csv")

    with pytest.raises(ResponseFormatError, match="differs from the first download at data row 3"):
        list(_client(tiny_server(handler)).export_rows(3))
