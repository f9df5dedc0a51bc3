"""A tap that is stopped says so: SIGTERM/SIGINT and a closed output pipe end the real command
with a non-zero exit status, and the last STATE it wrote is one a rerun completes the truth from.
"""

from __future__ import annotations

import fcntl
import io
import json
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emarsys_sandbox import Sandbox, synthetic
from tap_emarsys.tap import TapEmarsys
from tap_emarsys.writer import BlockMsgSpecWriter, StoppedBySignal
from tests.helpers.tap_runs import FAST, TapOutput, selected_catalog
from tests.helpers.truth import expected_records, typed

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

TAP = str(Path(sys.executable).parent / "tap-emarsys")
END_BOOKMARK = "2026-04-12T22:00:00+00:00"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=11) as sandbox:
        sandbox.faults.update(export_delay=0.4)
        yield sandbox


def start_tap(sb: Sandbox, tmp_path: Path, stream: str, **extra: Any) -> tuple[Any, dict]:
    config = sb.wsse_config(
        start_date="2026-03-15",
        end_date="2026-04-13",
        export_window_days=4,
        max_concurrent_exports=2,
        **FAST,
        **extra,
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    catalog = selected_catalog(TapEmarsys(config=config), [stream])
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    proc = subprocess.Popen(
        [
            TAP,
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return proc, config


@pytest.mark.parametrize(
    ("signum", "stream"),
    [(signal.SIGTERM, "email_responses"), (signal.SIGINT, "contact_changes")],
    ids=["sigterm", "sigint"],
)
def test_signal_mid_sync_is_a_failure_and_the_last_state_resumes(
    sb: Sandbox, tmp_path: Path, signum: signal.Signals, stream: str
) -> None:
    proc, config = start_tap(sb, tmp_path, stream)
    assert proc.stdout is not None and proc.stderr is not None
    covered: list[dict[str, Any]] = []  # records up to the last STATE
    since_state: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    signalled = False
    for line in proc.stdout:
        message = json.loads(line)  # every line written is whole
        if message["type"] == "RECORD":
            since_state.append(message["record"])
        elif message["type"] == "STATE":
            state = message["value"]
            covered += since_state
            since_state = []
            if not signalled and state["bookmarks"].get(stream, {}).get("window_end"):
                proc.send_signal(signum)  # the first window is written, the rest is not
                signalled = True
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert signalled
    assert proc.returncode == 128 + signum, stderr
    assert f"Received {signum.name}: stopping" in stderr
    assert "Gracefully shutting down" not in stderr and "Traceback" not in stderr
    bookmark = state["bookmarks"][stream]["window_end"]
    assert bookmark < END_BOOKMARK  # stopped part way

    # The rerun is the real command too, reading that STATE from a --state file.
    (tmp_path / "state.json").write_text(json.dumps(state))
    files = ["--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")]
    again = subprocess.run(
        [TAP, *files, "--state", str(tmp_path / "state.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    rerun = TapOutput([json.loads(line) for line in again.stdout.splitlines()])
    expected = expected_records(sb, TapEmarsys(config=config).streams[stream])  # type: ignore[arg-type]
    assert typed(covered + rerun.records[stream]) == typed(expected)
    assert rerun.bookmark(stream) == END_BOOKMARK


def test_a_signal_while_a_message_is_written_waits_for_the_whole_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handler runs between two bytecodes; mid-message it defers the stop to the line end."""
    from singer_sdk.singerlib import StateMessage

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", out)
    writer = BlockMsgSpecWriter()

    class SignalledState(StateMessage):
        def to_dict(self) -> dict[str, Any]:
            writer.stop(signal.SIGTERM)  # as if SIGTERM arrived while this line is encoded
            return super().to_dict()

    with pytest.raises(StoppedBySignal) as stopped:
        writer.write_message(SignalledState(value={"bookmarks": {"s": {"window_end": "x"}}}))
    assert stopped.value.code == 128 + signal.SIGTERM
    out.seek(0)
    assert [json.loads(line)["type"] for line in out] == ["STATE"]


def test_closed_output_pipe_is_one_line_and_a_failure(sb: Sandbox, tmp_path: Path) -> None:
    """The loader died: the tap says the reader closed the pipe, not a traceback per stream."""
    stream = "contact_changes"
    proc, _ = start_tap(sb, tmp_path, stream)
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    assert first["type"] == "SCHEMA"  # written before the first export is done
    proc.stdout.close()  # the reader goes away before any record
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert proc.returncode == 1, stderr
    assert errors == [
        "Error: the process reading the tap's output closed the pipe (the loader stopped or "
        "failed; see its log); records after the last STATE it received were not delivered: "
        "rerun from that STATE"
    ]
    assert "Traceback" not in stderr and "unhandled error" not in stderr
    assert "BrokenPipeError" not in stderr


def run_campaign_streams(tmp_path: Path, campaigns: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real command over the campaign streams of an account with `campaigns` campaigns."""
    extra = tuple(
        synthetic.Campaign(9000 + i, f"Extra {i}", "Misc", ((19000 + i, "y", "2026-03-20"),))
        for i in range(campaigns - len(synthetic.CAMPAIGNS))
    )
    every = synthetic.CAMPAIGNS + extra
    monkeypatch.setattr(synthetic, "CAMPAIGNS", every)
    monkeypatch.setattr(synthetic, "CAMPAIGNS_BY_ID", {c.id: c for c in every})
    streams = ["email_campaigns", "email_launches", "email_delivery_status"]
    with Sandbox(contacts=12, seed=5) as sb:
        config = sb.wsse_config(start_date="2026-03-15")
        (tmp_path / "config.json").write_text(json.dumps(config))
        catalog = selected_catalog(TapEmarsys(config=config), streams)
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        files = [
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ]
        return subprocess.run(
            [TAP, *files],
            capture_output=True,
            text=True,
            timeout=120,
        )


def test_state_size_stays_constant_as_campaigns_are_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Launches and delivery status are full table: no partition per campaign or launch."""
    sizes = {}
    for campaigns in (len(synthetic.CAMPAIGNS), 60):
        proc = run_campaign_streams(tmp_path, campaigns, monkeypatch)
        assert proc.returncode == 0, proc.stderr
        messages = [json.loads(line) for line in proc.stdout.splitlines()]
        launches = [
            m for m in messages if m["type"] == "RECORD" and m["stream"] == "email_launches"
        ]
        assert len({r["record"]["email_id"] for r in launches}) >= campaigns - 1  # one is a draft
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        sizes[campaigns] = max(len(json.dumps(state)) for state in states)
        assert states[-1]["bookmarks"]["email_launches"] == {}
        assert states[-1]["bookmarks"]["email_delivery_status"] == {}
    assert len(set(sizes.values())) == 1, sizes


def test_a_tap_whose_reader_hangs_still_stops(make_sandbox: Any, tmp_path: Path) -> None:
    """Nobody reads stdout and the pipe is full, a write is blocked: SIGTERM still ends the run.

    (The SDK's handler wrote the state from the signal handler and blocked on the same pipe.)
    A blocked write that the signal does not end is ended by a second SIGTERM (`os._exit`).
    """
    big = make_sandbox(contacts=3000, seed=11)
    proc, _ = start_tap(big, tmp_path, "contact_changes")
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline())["type"] == "SCHEMA"  # from now on nobody reads
    waiting = bytearray(4)
    for _ in range(400):  # bounded: 20 s for the tap to fill the pipe
        fcntl.ioctl(proc.stdout.fileno(), termios.FIONREAD, waiting)
        if int.from_bytes(waiting, sys.byteorder) >= 65_536 or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the tap ended before its output filled the pipe"
    codes = []
    for _ in range(2):
        proc.send_signal(signal.SIGTERM)
        try:
            codes.append(proc.wait(timeout=5))
            break
        except subprocess.TimeoutExpired:
            continue
    assert codes == [128 + signal.SIGTERM]
