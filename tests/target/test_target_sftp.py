"""target-emarsys `"via": "sftp"`: bulk RDS loads as whole CSV files, STATE after each rename."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from emarsys_api.csv_upload import csv_cell
from emarsys_api.sftp import DeliveryAuthError
from target_emarsys.errors import DestinationConfigError
from target_emarsys.target import TargetEmarsys
from tests.helpers.sftp import SFTP_PASSWORD, SFTP_USER, SftpServer
from tests.helpers.target_run import lines

BASE = {
    "base_url": "http://127.0.0.1:9",  # no API request is made on this path
    "username": "tester",
    "secret": "not-a-real-secret",
    "rds_connection": "demo",
}
ORDER = {
    "order_id": {"type": "integer"},
    "note": {"type": ["string", "null"]},
    "amount": {"type": ["number", "null"]},
    "paid": {"type": ["boolean", "null"]},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
}
NOTES = ['Zoë, "quoted"; semi', "line\r\nbreak", None, "日本語", ""]


def _config(server: SftpServer, **destination: Any) -> dict[str, Any]:
    (server.root / "rds").mkdir(exist_ok=True)
    return {
        **BASE,
        "validate_records": False,
        "rds_sftp_host": "127.0.0.1",
        "rds_sftp_port": server.port,
        "rds_sftp_username": SFTP_USER,
        "rds_sftp_password": SFTP_PASSWORD,
        "rds_sftp_folder": "/rds",
        "rds_sftp_host_key": server.host_key,
        "stream_destinations": {
            "orders": {"type": "relational", "table": "orders", "via": "sftp", **destination}
        },
    }


def _order(i: int) -> dict[str, Any]:
    return {
        "order_id": i,
        "note": NOTES[i % len(NOTES)],
        "amount": None if i % 7 == 0 else i * 0.25,
        "paid": i % 2 == 0,
        "tags": ["a", "b,c"] if i % 11 == 0 else None,
    }


def _rds(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


class _StateLog(io.StringIO):
    """stdout that notes each state the target emits in the SFTP server's events, in order."""

    def __init__(self, events: list[Any]) -> None:
        super().__init__()
        self.events = events

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.events.append(("state", json.loads(line)["written"]))
        return super().write(text)


def _run(config: dict[str, Any], messages: list[dict[str, Any]], events: list[Any]) -> None:
    import contextlib

    target = TargetEmarsys(config=config)
    with contextlib.redirect_stdout(_StateLog(events)):
        target.listen(io.StringIO(lines(messages)))


def _messages(count: int, state_every: int) -> list[dict[str, Any]]:
    schema = {"type": "object", "properties": ORDER}
    messages: list[dict[str, Any]] = [
        {"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["order_id"]}
    ]
    for i in range(1, count + 1):
        messages.append({"type": "RECORD", "stream": "orders", "record": _order(i)})
        if i % state_every == 0:
            messages.append({"type": "STATE", "value": {"written": i}})
    return messages


def _read(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


@pytest.mark.slow
def test_250000_rows_arrive_as_3_whole_files_in_order(sftp_server: SftpServer) -> None:
    events = sftp_server.events
    _run(_config(sftp_server), _messages(250_000, 50_000), events)
    files = sorted((sftp_server.root / "rds").iterdir())
    names = [f.name for f in files]
    assert len(names) == 3, names
    for k, name in enumerate(names, start=1):
        assert name.startswith("orders.") and name.endswith(f".{k:05d}.append.csv"), name
    header = list(ORDER)
    # Booleans as 1/0, as a typed RDS table's TINYINT takes them (the API path's forms).
    expected = [[csv_cell(_rds(_order(i)[c])) for c in header] for i in range(1, 250_001)]
    got: list[list[str]] = []
    for path, size in zip(files, (100_000, 100_000, 50_000), strict=True):
        rows = _read(path)
        assert rows[0] == header and len(rows) == size + 1
        got.extend(rows[1:])
    assert got == expected
    # No final name was ever written to: each was only the target of a rename.
    writes = [e[1] for e in events if e[0] == "write"]
    renames = [e for e in events if e[0] == "rename"]
    assert all(Path(w).name.startswith(".") and w.endswith(".partial") for w in writes)
    assert [Path(r[2]).name for r in renames] == names
    # A STATE leaves only after the file holding every record before it was renamed.
    order = [e for e in events if e[0] in ("rename", "state")]
    for position, event in enumerate(order):
        if event[0] == "state":
            files_needed = -(-event[1] // 100_000)
            assert sum(1 for e in order[:position] if e[0] == "rename") >= files_needed, event
    assert [e[1] for e in events if e[0] == "state"][-1] == 250_000


def test_overwrite_names_the_first_file_overwrite_and_appends_the_rest(
    sftp_server: SftpServer,
) -> None:
    config = {**_config(sftp_server, mode="overwrite"), "csv_batch_rows": 2}
    _run(config, _messages(5, 5), sftp_server.events)
    names = sorted(p.name for p in (sftp_server.root / "rds").iterdir())
    assert [n.split(".")[3] for n in names] == ["overwrite", "append", "append"]
    assert [len(_read(sftp_server.root / "rds" / n)) for n in names] == [3, 3, 2]


def test_an_empty_overwrite_stream_sends_a_header_only_file(sftp_server: SftpServer) -> None:
    config = {**_config(sftp_server), "load_method": "overwrite"}
    _run(config, _messages(0, 1), sftp_server.events)
    [only] = list((sftp_server.root / "rds").iterdir())
    assert only.name.endswith(".00001.overwrite.csv") and _read(only) == [list(ORDER)]


def test_wrong_rds_sftp_password_stops_before_any_file(sftp_server: SftpServer) -> None:
    config = {**_config(sftp_server), "rds_sftp_password": "wrong-rds-pass"}
    with pytest.raises(DeliveryAuthError) as caught:
        _run(config, _messages(3, 3), sftp_server.events)
    assert "rds_sftp_password" in str(caught.value)
    assert "wrong-rds-pass" not in str(caught.value)
    assert list((sftp_server.root / "rds").iterdir()) == []


def test_via_sftp_without_its_settings_is_a_config_error_naming_them() -> None:
    config = {
        **BASE,
        "stream_destinations": {"orders": {"type": "relational", "via": "sftp"}},
        "rds_sftp_host": "127.0.0.1",
    }
    with pytest.raises(DestinationConfigError, match="rds_sftp_username, rds_sftp_password"):
        TargetEmarsys(config=config)
    bad_mode = {**BASE, "stream_destinations": {"orders": {"type": "relational", "mode": "x"}}}
    with pytest.raises(ConfigValidationError):  # the schema's allowed values catch it first
        TargetEmarsys(config=bad_mode)
