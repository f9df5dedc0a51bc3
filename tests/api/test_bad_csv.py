"""Hostile export files through the client's CSV path: the right rows or a clear error.

A tiny server plays Emarsys's download endpoint with bytes chosen by hypothesis: quotes,
delimiters, CR/LF and NUL inside cells, a BOM, cells past Python's 128 KiB csv limit, invalid
UTF-8, broken quoting. Bodies are sent with Content-Length (the sandbox sends chunked ones).
Cuts of the connection mid-body are proven in
tests/api/test_stream_faults.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Request, Response

from emarsys_api import ClientSettings, EmarsysClient, ResponseFormatError

pytestmark = [pytest.mark.reliability]

HEADER = ["user_id", "First Name", "Note"]
HOSTILE = [*",;\"'\r\n\t\x00\ufeff\\ ", "ü", "ß", "日", "🙂", "\u2028", "é"]
cells = st.one_of(
    st.text(alphabet=st.sampled_from(HOSTILE), max_size=12),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30),
    st.builds(lambda n, c: c * n + '"\r\n', st.integers(131_000, 140_000), st.sampled_from("a,ü")),
)
rows = st.lists(st.lists(cells, min_size=3, max_size=3), max_size=25)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def encode(table: list[list[str]], terminator: str, bom: bool) -> bytes:
    """The CSV bytes; with LF line ends every cell is quoted (else a lone CR would be bare)."""
    out = io.StringIO()
    quoting = csv.QUOTE_MINIMAL if terminator == "\r\n" else csv.QUOTE_ALL
    csv.writer(out, lineterminator=terminator, quoting=quoting).writerows([HEADER, *table])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


@pytest.fixture
def serve(tiny_server: Callable[..., str]) -> Callable[[bytes], EmarsysClient]:
    """`serve(body)`: a client whose export 9 downloads exactly `body`."""
    current = {"body": b""}

    def download(request: Request) -> Response:
        return Response(current["body"], content_type="text/csv;charset=UTF-8")

    url = tiny_server(download)

    def client_for(body: bytes) -> EmarsysClient:
        current["body"] = body
        return EmarsysClient(ClientSettings(base_url=url, username="u", secret="s", max_retries=1))

    return client_for


@SETTINGS
@given(table=rows, terminator=st.sampled_from(["\r\n", "\n"]), bom=st.booleans())
def test_hostile_cells_come_back_exactly(
    serve: Callable[[bytes], EmarsysClient], table: list[list[str]], terminator: str, bom: bool
) -> None:
    client = serve(encode(table, terminator, bom))
    assert list(client.export_rows(9)) == [HEADER, *table]


BAD_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]


@SETTINGS
@given(table=rows, bad=st.sampled_from(BAD_UTF8), where=st.floats(0, 1))
def test_invalid_utf8_is_a_clear_error_after_a_correct_prefix(
    serve: Callable[[bytes], EmarsysClient], table: list[list[str]], bad: bytes, where: float
) -> None:
    body = encode(table, "\r\n", False)
    at = int(len(body) * where)
    client = serve(body[:at] + bad + body[at:])
    got: list[list[str]] = []
    with pytest.raises(ResponseFormatError) as caught:
        got.extend(client.export_rows(9))
    message = str(caught.value)
    assert "export 9" in message and "not valid UTF-8" in message
    assert "GET /api/v2/export/9/data" in message
    assert got == [HEADER, *table][: len(got)]  # what came before the damage is right


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b'user_id,Note\r\n1,"never closed\r\n2,x\r\n', "unexpected end", id="eof"),
        pytest.param(b'user_id,Note\r\n1,"a"b\r\n', "expected after", id="text-after-quote"),
    ],
)
def test_broken_quoting_is_a_clear_error_naming_the_row(
    serve: Callable[[bytes], EmarsysClient], body: bytes, reason: str
) -> None:
    with pytest.raises(ResponseFormatError) as caught:
        list(serve(body).export_rows(9))
    assert "export 9: the file after data row 0 is not valid CSV" in str(caught.value)
    assert reason in str(caught.value)


def test_a_cell_of_several_megabytes(serve: Callable[[bytes], EmarsysClient]) -> None:
    table = [["1", "x" * 3_000_000, 'quote " and\r\nnewline'], ["2", "", ""]]
    assert list(serve(encode(table, "\r\n", True)).export_rows(9)) == [HEADER, *table]


def test_empty_file_and_header_only(serve: Callable[[bytes], EmarsysClient]) -> None:
    assert list(serve(b"").export_rows(9)) == []
    assert list(serve(b"\xef\xbb\xbfuser_id,Note\r\n").export_rows(9)) == [["user_id", "Note"]]
