"""Inputs the tap refuses with one line naming what to fix (exit status 1, no traceback):
stream maps that would null a key property, and (before any request) dates past the
calendar's ends, malformed catalogs and catalogs that retype or drop a key property.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from tests.helpers.tap_runs import FAST, selected_catalog

pytestmark = [pytest.mark.reliability]

TAP = str(Path(sys.executable).parent / "tap-emarsys")


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=20, seed=3) as sandbox:
        yield sandbox


def config_for(sb: Sandbox, **extra: Any) -> dict[str, Any]:
    settings = {
        "start_date": "2026-03-15",
        "end_date": "2026-04-13",
        "contact_fields": ["email", "loyalty_points"],  # loyalty_points: often empty
        **FAST,
        **extra,
    }
    return sb.wsse_config(**settings)


def run_tap(tmp: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """The real command with `config` (written to a file in `tmp`) and `args`."""
    (tmp / "config.json").write_text(json.dumps(config))
    return subprocess.run(
        [TAP, "--config", str(tmp / "config.json"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def error_line(tmp: Path, config: dict[str, Any], *args: str) -> tuple[str, str]:
    """Run the real command; its one `Error:` line (asserted alone, exit 1) and its stdout."""
    proc = run_tap(tmp, config, *args)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert proc.returncode == 1, proc.stderr
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "An unhandled error occurred" not in proc.stderr
    return errors[0], proc.stdout


def catalog_file(tmp: Path, catalog: Any, name: str = "catalog.json") -> str:
    path = tmp / name
    path.write_text(catalog if isinstance(catalog, str) else json.dumps(catalog))
    return str(path)


@pytest.mark.parametrize(
    ("stream_map", "key"),
    [
        pytest.param({"contact_id": "None"}, "contact_id", id="key-mapped-to-null"),
        pytest.param({"__key_properties__": ["loyalty_points"]}, "loyalty_points", id="null-key"),
    ],
)
def test_a_stream_map_that_nulls_a_key_property_stops_the_run(
    sb: Sandbox, tmp_path: Path, stream_map: dict[str, Any], key: str
) -> None:
    config = config_for(sb, stream_maps={"contact_changes": stream_map})
    catalog = catalog_file(
        tmp_path, selected_catalog(TapEmarsys(config=config), ["contact_changes"])
    )
    line, out = error_line(tmp_path, config, "--catalog", catalog)
    assert line.startswith("Error: stream contact_changes: the stream map (stream_maps setting)")
    assert f"key property {key} is null" in line
    assert '"type":"RECORD"' not in out


def test_a_catalog_key_property_without_values_names_the_catalog(
    sb: Sandbox, tmp_path: Path
) -> None:
    """A key the catalog chose that is empty in some row; it was blamed on the export."""
    config = config_for(sb)
    catalog = selected_catalog(TapEmarsys(config=config), ["contact_changes"])
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "contact_changes")
    entry["key_properties"] = ["loyalty_points"]
    for item in entry["metadata"]:
        if item["breadcrumb"] == []:
            item["metadata"]["table-key-properties"] = ["loyalty_points"]
    line, _ = error_line(tmp_path, config, "--catalog", catalog_file(tmp_path, catalog))
    assert "no value for key property 'loyalty_points'" in line
    assert line.endswith(
        "the catalog's key_properties name it, and a key property needs a value in every row: "
        "name one that always has a value"
    )


@pytest.mark.parametrize(
    ("expression", "raised"),
    [("int(email)", "ValueError: invalid literal for int()"), ("1/0", "ZeroDivisionError")],
)
def test_a_stream_map_expression_failing_on_a_record_names_the_stream(
    sb: Sandbox, tmp_path: Path, expression: str, raised: str
) -> None:
    """It raised whatever Python raised, a traceback naming neither stream nor setting."""
    config = config_for(sb, stream_maps={"contact_changes": {"email_number": expression}})
    catalog = catalog_file(
        tmp_path, selected_catalog(TapEmarsys(config=config), ["contact_changes"])
    )
    line, out = error_line(tmp_path, config, "--catalog", catalog)
    assert line.startswith(
        "Error: stream 'contact_changes': an expression in the `stream_maps` setting failed"
    )
    assert raised in line
    assert '"type":"RECORD"' not in out


@pytest.mark.parametrize("with_catalog", [True, False], ids=["catalog", "discovery"])
@pytest.mark.parametrize(
    ("prop", "expression", "reason"),
    [("email_number", "email +", "invalid syntax"), ("__filter__", "", "it is empty")],
)
def test_a_stream_map_expression_python_cannot_parse_is_named_before_any_request(
    sb: Sandbox, tmp_path: Path, prop: str, expression: str, reason: str, with_catalog: bool
) -> None:
    """The SDK said only "Failed to parse expression email +.", naming no stream or setting,
    and only once discovery had asked Emarsys for the contact fields."""
    config = config_for(
        sb, stream_maps={"other": {"x": "1"}, "contact_changes": {prop: expression}}
    )
    args: list[str] = []
    if with_catalog:
        catalog = selected_catalog(TapEmarsys(config=config_for(sb)), ["contact_changes"])
        args = ["--catalog", catalog_file(tmp_path, catalog)]
    already = len(sb.request_log())
    line, out = error_line(tmp_path, config, *args)
    assert line == (
        f"Error: Invalid configuration: stream_maps['contact_changes'][{prop!r}] = "
        f"{expression!r} is not a Python expression ({reason}). Fix the `stream_maps` setting."
    )
    assert out == ""
    assert len(sb.request_log()) == already


@pytest.mark.parametrize(
    ("setting", "value"),
    [("start_date", "0001-01-01"), ("end_date", "9999-12-31T23:59:59")],
)
def test_a_date_at_an_end_of_the_calendar_names_the_setting(
    sb: Sandbox, tmp_path: Path, setting: str, value: str
) -> None:
    """Windows in the account's zone would leave the calendar (OverflowError)."""
    config = config_for(sb, **{setting: value})
    catalog = catalog_file(
        tmp_path, selected_catalog(TapEmarsys(config=config_for(sb)), ["contact_changes"])
    )
    already = len(sb.request_log())
    line, out = error_line(tmp_path, config, "--catalog", catalog)
    assert line.startswith(f"Error: Invalid configuration: {setting} {value!r} is outside the ")
    assert f"Fix the `{setting}` setting" in line
    assert out == ""
    assert len(sb.request_log()) == already  # before any request


@pytest.mark.parametrize(
    ("text", "said"),
    [
        pytest.param(
            '{"streams": [', " is not JSON (Expecting value or ']' at line 1", id="cut-short"
        ),
        pytest.param("", " is not JSON (the file is empty)", id="empty"),
        pytest.param("[]", ": it is not a JSON object with `streams`", id="a-list"),
        pytest.param('{"streams": {"a": 1}}', ": `streams` is {'a': 1}, not a list", id="streams"),
        pytest.param(
            '{"streams": [{"tap_stream_id": "contact_changes", "metadata": "x"}]}',
            ": streams[0].metadata is 'x', not a list",
            id="metadata-not-a-list",
        ),
    ],
)
def test_a_malformed_catalog_is_one_line_naming_the_file(
    sb: Sandbox, tmp_path: Path, text: str, said: str
) -> None:
    catalog = catalog_file(tmp_path, text)
    already = len(sb.request_log())
    line, out = error_line(tmp_path, config_for(sb), "--catalog", catalog)
    assert line.startswith(f"Error: the catalog file {catalog}{said}")
    assert line.endswith("rerun the tap with --discover to write a new catalog")
    assert out == ""
    assert len(sb.request_log()) == already


def retyped(entry: dict[str, Any]) -> None:
    entry["schema"]["properties"]["contact_id"] = {"type": ["string"]}


def removed(entry: dict[str, Any]) -> None:
    del entry["schema"]["properties"]["contact_id"]


def deselected(entry: dict[str, Any]) -> None:
    """Made `available` and deselected: left `automatic`, the key stays (test_features)."""
    for item in entry["metadata"]:
        if item["breadcrumb"] == ["properties", "contact_id"]:
            item["metadata"]["inclusion"] = "available"
            item["metadata"]["selected"] = False


@pytest.mark.parametrize(
    "same",
    [{"type": "integer"}, {"type": ["integer"], "description": "the contact's id"}],
    ids=["type-as-a-name", "annotated"],
)
def test_a_key_property_declared_in_an_equivalent_form_is_not_a_retype(
    sb: Sandbox, tmp_path: Path, same: dict[str, Any]
) -> None:
    """Discovered as `{"type": ["integer"]}`; a catalog tool may write it another way."""
    config = config_for(sb)
    catalog = selected_catalog(TapEmarsys(config=config), ["contact_changes"])
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "contact_changes")
    entry["schema"]["properties"]["contact_id"] = same
    proc = run_tap(tmp_path, config, "--catalog", catalog_file(tmp_path, catalog))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"type":"RECORD","stream":"contact_changes"' in proc.stdout


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (retyped, 'retypes key property contact_id to {"type": ["string"]}'),
        (removed, "removes key property contact_id from its schema"),
        (deselected, "deselects key property contact_id"),
    ],
    ids=["retyped", "removed", "deselected"],
)
def test_a_catalog_that_changes_a_key_property_is_refused(
    sb: Sandbox, tmp_path: Path, edit: Any, said: str
) -> None:
    """SCHEMA would follow the catalog while the records carry the key as discovered."""
    config = config_for(sb)
    catalog = selected_catalog(TapEmarsys(config=config), ["contact_changes"])
    edit(next(e for e in catalog["streams"] if e["tap_stream_id"] == "contact_changes"))
    line, out = error_line(tmp_path, config, "--catalog", catalog_file(tmp_path, catalog))
    assert line.startswith(f"Error: the catalog's stream contact_changes {said}")
    assert out == ""
