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


def _server(cut_at: Callable[[int], int | None]) -> Callable[[Request], Response]:
    """Serve ROWS from `offset` (header repeated), breaking after cut_at(offset) bytes."""
    calls = {"n": 0}

    def handler(request: Request) -> Response:
        offset = int(request.args.get("offset", 0))
        body = _csv([ROWS[0], *ROWS[1 + offset :]])
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
    calls = {"n": 0}

    def handler(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:

            def cut() -> Iterator[bytes]:
                yield _csv(ROWS[:3])
                raise ConnectionError("cut on purpose")

            return Response(cut(), content_type="text/csv;charset=UTF-8")
        return Response(_csv([["other", "header"], *ROWS[3:]]), content_type="text/csv")

    with pytest.raises(ResponseFormatError, match="different header"):
        list(_client(tiny_server(handler)).export_rows(3))
