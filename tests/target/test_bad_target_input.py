"""Hostile Singer input into target-emarsys: the right records written, or a clear error that
names the line or the record; never a hang, never a bare exception without a message.

Most tests run the target in-process with a recording client (no HTTP): what matters there is
what the target makes of its input. The last ones run the real `target-emarsys` command
against the sandbox (bad bytes, deep nesting, blank lines). Writes under faults are in
test_target_faults.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import SingerSDKError
from singer_sdk.singerlib.exceptions import SingerReadError

from emarsys_sandbox import Sandbox
from tests.helpers.recording_client import RecordingClient
from tests.helpers.target_run import TargetRun

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

SCHEMA = {
    "type": "SCHEMA",
    "stream": "t",
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": ["string", "null"]},
            "amount": {"type": ["number", "null"]},
        },
    },
    "key_properties": ["id"],
}

#: bad line -> a piece the error must show (the line itself, or the stream and record key)
BAD_LINES: dict[str, tuple[str, str]] = {
    "not-json": ("this is not json", "this is not json"),
    "number-out-of-range": ('{"type": "STATE", "value": 1e400}', "a number out of range"),
    "byte-order-mark": ('\ufeff{"type": "STATE", "value": 1}', "starts with a byte order mark"),
    "trailing-characters": ('{"type": "STATE", "value": 1} x', "trailing characters (byte 31)"),
    "truncated-json": ('{"type": "RECORD", "stream": "t", "rec', '"rec'),
    "json-array": ("[1, 2]", "[1, 2]"),
    "no-type": ('{"stream": "t"}', "type"),
    "unknown-type": ('{"type": "BANANA"}', "BANANA"),
    "record-without-stream": ('{"type": "RECORD", "record": {"id": 1}}', "stream"),
    "record-without-record": ('{"type": "RECORD", "stream": "t"}', "record"),
    "record-not-object": ('{"type": "RECORD", "stream": "t", "record": 5}', "record"),
    "type-not-text": ('{"type": ["RECORD"], "stream": "t", "record": {"id": 1}}', "`type`"),
    "type-object": ('{"type": {"a": 1}}', "`type`"),
    "activate-version-without-stream": ('{"type": "ACTIVATE_VERSION", "version": 1}', "stream"),
    "activate-version-without-version": ('{"type": "ACTIVATE_VERSION", "stream": "t"}', "version"),
    "batch-without-encoding": ('{"type": "BATCH", "stream": "t", "manifest": []}', "encoding"),
    "batch-manifest-not-array": (
        '{"type": "BATCH", "stream": "t", "encoding": {"format": "jsonl"}, "manifest": "x"}',
        "`manifest`",
    ),
    "stream-not-text": ('{"type": "RECORD", "stream": ["t"], "record": {"id": 1}}', "`stream`"),
    "stream-null": ('{"type": "RECORD", "stream": null, "record": {"id": 1}}', "`stream`"),
    "schema-stream-number": (
        '{"type": "SCHEMA", "stream": 7, "schema": {}, "key_properties": []}',
        "`stream`",
    ),
    "schema-stream-empty": (
        '{"type": "SCHEMA", "stream": "", "schema": {"properties": {}}, "key_properties": []}',
        "the stream's name is empty",
    ),
    "unknown-stream": ('{"type": "RECORD", "stream": "nope", "record": {"id": 1}}', "'nope'"),
    "wrong-type": ('{"type": "RECORD", "stream": "t", "record": {"id": "x7"}}', "x7"),
    "bool-for-integer": ('{"type": "RECORD", "stream": "t", "record": {"id": true}}', "id=True"),
    "missing-key": ('{"type": "RECORD", "stream": "t", "record": {"name": "k"}}', "id"),
    "schema-without-schema": ('{"type": "SCHEMA", "stream": "t"}', "schema"),
    "state-without-value": ('{"type": "STATE"}', "value"),
    "batch": (
        '{"type": "BATCH", "stream": "t", "encoding": {"format": "jsonl", "compression": "gzip"}, '
        '"manifest": ["file:///x.jsonl.gz"]}',
        "does not read Singer BATCH files",
    ),
    "batch-empty-encoding": (
        '{"type": "BATCH", "stream": "t", "encoding": {}, "manifest": []}',
        "does not read Singer BATCH files",
    ),
    "batch-unknown-stream": (
        '{"type": "BATCH", "stream": "zz", "encoding": {}, "manifest": []}',
        "A BATCH message for stream 'zz' came before the stream's SCHEMA",
    ),
    "schema-dollar-schema-not-text": (
        '{"type": "SCHEMA", "stream": "t", "schema": {"$schema": 5, "type": "object", '
        '"properties": {"id": {"type": "integer"}}}, "key_properties": ["id"]}',
        "the schema of stream 't'",
    ),
    "activate-version-unknown-stream": (
        '{"type": "ACTIVATE_VERSION", "stream": "zz", "version": 1}',
        "An ACTIVATE_VERSION message for stream 'zz' came before the stream's SCHEMA",
    ),
    **{
        f"schema-{name}": (
            f'{{"type": "SCHEMA", "stream": "t", "schema": {body}, "key_properties": {keys}}}',
            piece,
        )
        for name, body, keys, piece in [
            ("null", "null", '["id"]', "`schema` is not a JSON object"),
            ("true", "true", '["id"]', "`schema` is not a JSON object"),
            ("properties-list", '{"properties": []}', "[]", "`properties` is not a JSON object"),
            ("properties-text", '{"properties": "x"}', "[]", "`properties` is not a JSON object"),
            ("properties-null", '{"properties": null}', "[]", "`properties` is not a JSON object"),
            ("keys-number", '{"properties": {}}', "5", "list of property names (strings)"),
            ("keys-object", '{"properties": {}}', '[{"a": 1}]', "list of property names"),
            ("keys-numbers", '{"properties": {}}', "[5]", "list of property names"),
            ("keys-text", '{"properties": {"id": {}}}', '"id"', "list of property names"),
            (
                "bad-regex",
                '{"properties": {"name": {"type": "string", "pattern": "(("}}}',
                "[]",
                "stream 't' is not valid JSON schema: '((' is not a 'regex' at "
                "$.properties.name.pattern",
            ),
            (
                "unknown-type",
                '{"properties": {"id": {"type": "banana"}}}',
                "[]",
                "stream 't' is not valid JSON schema: 'banana' is not valid under any of the "
                "given schemas at $.properties.id.type",
            ),
            (
                "nested-properties-list",
                '{"properties": {"x": {"type": "object", "properties": [1]}}}',
                "[]",
                "stream 't' is not valid JSON schema: [1] is not of type 'object' at "
                "$.properties.x.properties",
            ),
            (
                "remote-ref",
                '{"properties": {"id": {"$ref": "http://127.0.0.1:9/x.json"}}}',
                "[]",
                "`$ref` to 'http://127.0.0.1:9/x.json', outside the schema",
            ),
            (
                "file-ref",
                '{"properties": {"id": {"items": [{"$ref": "file:///etc/passwd"}]}}}',
                "[]",
                "`$ref` to 'file:///etc/passwd', outside the schema",
            ),
            (
                "relative-ref",
                '{"properties": {"id": {"$ref": "other.json#/x"}}}',
                "[]",
                "outside the schema",
            ),
        ]
    },
}
#: the bad lines whose error starts with "input line <its number>"
NUMBERED = set(BAD_LINES) - {"wrong-type", "bool-for-integer", "missing-key"}
#: the record-level problems `on_record_error: log` keeps in the rejected-rows file
ROW_PROBLEMS = {"wrong-type", "bool-for-integer"}

names = st.one_of(
    st.none(), st.text(max_size=40), st.text(alphabet='",;\r\n\x00\\ü日🙂', max_size=8)
)
amounts = st.one_of(
    st.none(), st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False)
)


def run(
    config: dict[str, Any], text: str, *, binary: bool = True
) -> tuple[RecordingClient, list[str], BaseException | None]:
    """Feed `text` to a target, as bytes read in blocks like standard input (or as text, read
    a line at a time); returns the client, the STATE lines and the error, if any."""
    client = RecordingClient()
    target_run = TargetRun(config, client)
    out = io.StringIO()
    error: BaseException | None = None
    with redirect_stdout(out):
        try:
            target_run.feed([], finish=False)
            source = io.BytesIO(text.encode()) if binary else io.StringIO(text)
            target_run.target.process_lines(source)  # type: ignore[arg-type]
            target_run.target.process_endofpipe()
        except Exception as caught:
            error = caught
    target_run.target.write_context.pool.shutdown()
    return client, out.getvalue().splitlines(), error


def sent(client: RecordingClient) -> list[dict[str, Any]]:
    return [row for _, _, rows in client.named("rds_upsert") for row in rows]


def assert_clear(error: BaseException | None, expected_piece: str) -> None:
    assert error is not None
    assert isinstance(error, (SingerSDKError, SingerReadError)), repr(error)
    assert expected_piece in str(error), str(error)


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    values=st.lists(st.tuples(names, amounts), max_size=30),
    bad=st.one_of(st.none(), st.sampled_from(sorted(BAD_LINES))),
    where=st.floats(0, 1),
)
def test_any_input_gives_the_records_or_a_clear_error(
    values: list[tuple[str | None, float | None]], bad: str | None, where: float
) -> None:
    records = [{"id": i, "name": n, "amount": a} for i, (n, a) in enumerate(values)]
    lines = [json.dumps(SCHEMA)]
    for record in records:
        lines.append(json.dumps({"type": "RECORD", "stream": "t", "record": record}))
        lines.append(json.dumps({"type": "STATE", "value": {"through": record["id"]}}))
    at = 1 + int(where * (len(lines) - 1))
    if bad is not None:
        lines.insert(at, BAD_LINES[bad][0])
    client, states, error = run({"batch_size_rows": 7}, "\n".join(lines) + "\n")
    delivered = sent(client)
    if bad is None:
        assert error is None, repr(error)
        assert delivered == [{k: v for k, v in r.items()} for r in records]
        if records:
            assert json.loads(states[-1]) == {"through": records[-1]["id"]}
        return
    assert_clear(error, BAD_LINES[bad][1])
    # nothing after the bad line was sent, and nothing invented
    before = [json.loads(line)["record"] for line in lines[:at] if '"RECORD"' in line]
    assert delivered == before[: len(delivered)]
    for state in states:  # no STATE covers a record that was not delivered
        assert json.loads(state)["through"] < len(delivered)


@pytest.mark.parametrize("binary", [True, False], ids=["bytes", "text"])
@pytest.mark.parametrize("bad", sorted(BAD_LINES))
def test_each_bad_line_alone(bad: str, binary: bool) -> None:
    good = json.dumps({"type": "RECORD", "stream": "t", "record": {"id": 1}})
    text = "\n".join([json.dumps(SCHEMA), good, BAD_LINES[bad][0]]) + "\n"
    _, _, error = run({}, text, binary=binary)
    assert_clear(error, BAD_LINES[bad][1])


def test_a_stream_with_an_empty_name_goes_where_the_config_sends_it() -> None:
    """The empty name is refused only because no table can be named after it."""
    unnamed = {**SCHEMA, "stream": ""}
    good = json.dumps({"type": "RECORD", "stream": "", "record": {"id": 1}})
    config = {"stream_destinations": {"": {"type": "relational", "table": "t"}}}
    client, _, error = run(config, "\n".join([json.dumps(unnamed), good]) + "\n")
    assert error is None, repr(error)
    assert sent(client) == [{"id": 1, "name": None, "amount": None}]


@pytest.mark.parametrize("bad", sorted(NUMBERED))
def test_a_bad_line_is_named_by_its_number(bad: str) -> None:
    good = json.dumps({"type": "RECORD", "stream": "t", "record": {"id": 1}})
    _, _, error = run({}, "\n".join([json.dumps(SCHEMA), good, BAD_LINES[bad][0]]) + "\n")
    assert str(error).startswith("input line 3"), str(error)


@pytest.mark.parametrize("bad", sorted(ROW_PROBLEMS))
def test_log_mode_keeps_rejected_rows_and_writes_the_rest(tmp_path: Path, bad: str) -> None:
    rejects = tmp_path / "rejects.jsonl"
    good = [{"id": i, "name": f"n{i}", "amount": None} for i in range(5)]
    lines = [json.dumps(SCHEMA)]
    lines += [json.dumps({"type": "RECORD", "stream": "t", "record": r}) for r in good[:2]]
    lines.append(BAD_LINES[bad][0])
    lines += [json.dumps({"type": "RECORD", "stream": "t", "record": r}) for r in good[2:]]
    client, _, error = run(
        {"on_record_error": "log", "rejected_rows_path": str(rejects)}, "\n".join(lines) + "\n"
    )
    assert error is None, repr(error)
    assert sent(client) == good
    (kept,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert kept["stream"] == "t" and BAD_LINES[bad][1] in json.dumps(kept)


def test_a_huge_record_is_written_whole() -> None:
    big = {"id": 1, "name": "x" * 20_000_000 + '\r\n"end', "amount": 1.5}
    text = json.dumps(SCHEMA) + "\n" + json.dumps({"type": "RECORD", "stream": "t", "record": big})
    client, _, error = run({}, text + "\n")
    assert error is None
    assert sent(client) == [big]


def test_input_ending_mid_line_is_a_clear_error() -> None:
    text = json.dumps(SCHEMA) + '\n{"type": "RECORD", "stream": "t", "record": {"id": 1, "na'
    _, _, error = run({}, text)
    assert_clear(error, '"na')


TARGET = str(Path(sys.executable).parent / "target-emarsys")


@pytest.mark.parametrize(
    ("bad", "mode"),
    [
        ("not-json", "fail"),
        ("wrong-type", "fail"),
        ("wrong-type", "log"),
        ("batch", "fail"),
        ("activate-version-unknown-stream", "fail"),
        ("schema-bad-regex", "fail"),
        ("schema-keys-numbers", "fail"),
    ],
)
def test_the_real_command_prints_no_traceback(tmp_path: Path, bad: str, mode: str) -> None:
    """The installed command: `Error: <what and where>`, exit 1; in log mode one log line per
    rejected row instead of a traceback each. Either way the problem is said once, not also on
    the SDK's own ERROR line."""
    config = {
        "username": "u",
        "secret": "s",
        "base_url": "http://127.0.0.1:9",
        "rds_connection": "demo",
        "on_record_error": mode,
        "rejected_rows_path": str(tmp_path / "rejects.jsonl"),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [TARGET, "--config", str(tmp_path / "config.json")],
        input="\n".join([json.dumps(SCHEMA), BAD_LINES[bad][0], BAD_LINES[bad][0]]) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr
    if mode == "fail":
        assert proc.returncode == 1
        (line,) = [x for x in proc.stderr.splitlines() if x.startswith("Error: ")]
        assert BAD_LINES[bad][1] in line
        assert proc.stderr.count(BAD_LINES[bad][1]) == 1, proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr[-1000:]
        assert len((tmp_path / "rejects.jsonl").read_text().splitlines()) == 2
        said = [x for x in proc.stderr.splitlines() if BAD_LINES[bad][1] in x]
        assert len(said) == 2 and all("WARNING" in x for x in said), proc.stderr


# The real command against the sandbox: bad bytes, deep nesting and blank lines


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox holding the RDS table `demo.t` that SCHEMA's stream goes to."""
    tables = {"t": {"columns": ["id", "name", "amount"], "primary_key": ["id"]}}
    with Sandbox(
        contacts=5, seed=3, rds_tables={"demo": tables}, db_path=str(tmp_path / "db")
    ) as s:
        yield s


def run_command(
    sb: Sandbox, tmp_path: Path, lines: list[bytes], *, locale: str = "C.UTF-8", via: str = "stdin"
) -> subprocess.CompletedProcess[bytes]:
    """`target-emarsys` with `lines` as its input (stdin, or a file given with `--input`)."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sb.wsse_config(rds_connection="demo", batch_size_rows=10)))
    data = b"\n".join(lines) + b"\n"
    args = [TARGET, "--config", str(config)]
    if via == "file":
        (tmp_path / "input.jsonl").write_bytes(data)
        args += ["--input", str(tmp_path / "input.jsonl")]
        data = b""
    env = {**os.environ, "LC_ALL": locale, "LANG": locale}
    return subprocess.run(args, input=data, capture_output=True, timeout=120, env=env)


def record_line(i: int) -> bytes:
    return json.dumps(
        {"type": "RECORD", "stream": "t", "record": {"id": i, "name": f"n{i}"}}
    ).encode()


def state_line(i: int) -> bytes:
    return json.dumps({"type": "STATE", "value": {"through": i}}).encode()


def good_lines(ids: range) -> list[bytes]:
    """A RECORD per id, a STATE after every fifth."""
    lines: list[bytes] = []
    for i in ids:
        lines.append(record_line(i))
        if i % 5 == 4:
            lines.append(state_line(i))
    return lines


def error_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    stderr = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    (line,) = [x for x in stderr.splitlines() if x.startswith("Error: ")]
    return line


def assert_states_cover_only_delivered(
    proc: subprocess.CompletedProcess[bytes], held: set[int]
) -> None:
    for line in proc.stdout.decode().splitlines():
        through = json.loads(line)["through"]
        assert set(range(through + 1)) <= held, through


@pytest.mark.parametrize(
    ("locale", "via"), [("C.UTF-8", "stdin"), ("C", "stdin"), ("C.UTF-8", "file")]
)
def test_invalid_utf8_stops_at_its_line_and_sends_nothing_after_it(
    sb: Sandbox, tmp_path: Path, locale: str, via: str
) -> None:
    bad = b'{"type": "RECORD", "stream": "t", "record": {"id": 999, "name": "caf\xe9"}}'
    before = [json.dumps(SCHEMA).encode(), *good_lines(range(32))]  # 32 records, 6 STATEs
    lines = [*before, bad, *good_lines(range(32, 60))]
    proc = run_command(sb, tmp_path, lines, locale=locale, via=via)
    assert proc.returncode == 1
    line = error_line(proc)
    assert f"input line {len(before) + 1} is not valid UTF-8" in line, line
    held = {row["id"] for row in sb.rds_rows("demo", "t")}
    assert held <= set(range(32))  # nothing from the bad line or after it
    assert_states_cover_only_delivered(proc, held)


def test_a_record_nested_5000_deep_stops_at_its_line(sb: Sandbox, tmp_path: Path) -> None:
    deep = b'{"type": "RECORD", "stream": "t", "record": {"id": 7, "name": ' + b"[" * 5000
    deep += b"]" * 5000 + b"}}"
    before = [json.dumps(SCHEMA).encode(), *good_lines(range(7))]
    proc = run_command(sb, tmp_path, [*before, deep, *good_lines(range(8, 20))])
    assert proc.returncode == 1
    line = error_line(proc)
    assert f"input line {len(before) + 1} is nested too deeply" in line, line
    held = {row["id"] for row in sb.rds_rows("demo", "t")}
    assert held <= set(range(7))
    assert_states_cover_only_delivered(proc, held)


def test_blank_and_whitespace_lines_are_skipped(sb: Sandbox, tmp_path: Path) -> None:
    lines = [b"", json.dumps(SCHEMA).encode(), b"   ", *good_lines(range(10)), b"\t", b"\r"]
    lines[5:5] = [b"", b" \t "]
    proc = run_command(sb, tmp_path, lines)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert sorted(row["id"] for row in sb.rds_rows("demo", "t")) == list(range(10))
    assert json.loads(proc.stdout.decode().splitlines()[-1]) == {"through": 9}


def test_a_remote_ref_in_a_schema_is_not_fetched(sb: Sandbox, tmp_path: Path) -> None:
    ref = f"{sb.base_url}/schema-of-id.json"
    bad = {**SCHEMA, "schema": {"properties": {"id": {"$ref": ref}}}}
    proc = run_command(sb, tmp_path, [json.dumps(bad).encode(), record_line(1)])
    assert proc.returncode == 1
    assert f"input line 1 is a SCHEMA with a `$ref` to '{ref}', outside" in error_line(proc)
    assert not [r for r in sb.request_log() if "schema-of-id" in r["path"]]
