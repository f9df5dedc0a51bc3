"""One truth for settings: config schemas, meltano.yml, README and sample_config.json agree."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_emarsys.tap import TapEmarsys
from target_emarsys.target import TargetEmarsys

ROOT = Path(__file__).resolve().parent.parent
# Settings every SDK plugin gets; Meltano users set them as extras, the README mentions them.
SDK_GENERIC = {
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
    "batch_config",
    "add_record_metadata",
}
KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
PLUGINS = {"tap-emarsys": ("extractors", TapEmarsys), "target-emarsys": ("loaders", TargetEmarsys)}


def schema_settings(plugin: type) -> dict[str, dict[str, Any]]:
    """The plugin's own settings (SDK-generic ones left out) from its config_jsonschema."""
    schema = copy.deepcopy(plugin.config_jsonschema)
    plugin.append_builtin_config(schema)  # what `--about` and Meltano see
    properties = schema["properties"]
    return {name: spec for name, spec in properties.items() if name not in SDK_GENERIC}


def json_kind(spec: dict[str, Any]) -> str:
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else types
    return KINDS[next(t for t in types if t != "null")]


def meltano_settings(name: str) -> dict[str, dict[str, Any]]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    kind, _ = PLUGINS[name]
    plugin = next(p for p in project["plugins"][kind] if p["name"] == name)
    return {setting["name"]: setting for setting in plugin["settings"]}


def readme_settings(section: str) -> dict[str, str]:
    """Setting name -> the README table row it appears in, from the section's settings table."""
    readme = (ROOT / "README.md").read_text()
    body = readme.split(f"<!-- section: {section} -->", 1)[1].split(f"<!-- end: {section} -->")[0]
    table = body.split("### Settings", 1)[1].split("\n### ", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        for name in re.findall(r"`([a-z_]+)`", first_cell):
            rows[name] = line
    return rows


@pytest.mark.parametrize("name", PLUGINS)
def test_meltano_yml_declares_exactly_the_plugin_settings(name: str) -> None:
    declared = schema_settings(PLUGINS[name][1])
    meltano = meltano_settings(name)
    assert set(meltano) == set(declared)
    for setting, spec in declared.items():
        entry = meltano[setting]
        assert entry.get("kind") == json_kind(spec), setting
        assert bool(entry.get("sensitive")) == bool(spec.get("secret")), setting
        assert entry.get("label") and entry.get("description"), setting


@pytest.mark.parametrize("name", PLUGINS)
def test_readme_settings_table_lists_every_setting(name: str) -> None:
    section = "tap" if name == "tap-emarsys" else "target"
    rows = readme_settings(section)
    declared = schema_settings(PLUGINS[name][1])
    documented_elsewhere = {"stream_maps", "load_method", "batch_size_rows", "validate_records"}
    assert set(declared) - documented_elsewhere <= set(rows), "settings missing from README"
    assert set(rows) <= set(declared), "README documents settings the plugin lacks"
    for setting, spec in declared.items():
        if spec.get("secret"):
            assert "secret" in rows[setting].lower(), f"README must mark {setting} as a secret"


def test_sample_config_uses_only_known_settings_and_validates() -> None:
    sample = json.loads((ROOT / "sample_config.json").read_text())
    tap, target = schema_settings(TapEmarsys), schema_settings(TargetEmarsys)
    assert set(sample) <= set(tap) | set(target)
    # Both connectors accept it as it is (the SDK validates config on construction).
    TapEmarsys(config=sample, validate_config=True, setup_mapper=False)
    TargetEmarsys(config=sample, validate_config=True, setup_mapper=False)
