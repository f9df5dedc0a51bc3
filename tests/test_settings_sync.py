"""One truth for settings: config schemas, `--about`, the plugin definitions, meltano.yml, README
and sample_config.json agree.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from emarsys_singer.connection_settings import CONNECTION_SETTINGS
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


def all_schema_settings(plugin: type) -> dict[str, dict[str, Any]]:
    """Every setting `--about` and Meltano see: the plugin's own and the SDK's built-in ones."""
    schema = copy.deepcopy(plugin.config_jsonschema)
    plugin.append_builtin_config(schema)
    properties: dict[str, dict[str, Any]] = schema["properties"]
    return properties


def schema_settings(plugin: type) -> dict[str, dict[str, Any]]:
    """The plugin's own settings (SDK-generic ones left out) from its config_jsonschema."""
    return {
        name: spec for name, spec in all_schema_settings(plugin).items() if name not in SDK_GENERIC
    }


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
    """Setting name -> the docs table row it appears in, from the page's settings table."""
    readme = (ROOT / "docs" / f"{section}.md").read_text()  # the connector's docs page
    body = readme.split(f"<!-- section: {section} -->", 1)[1].split(f"<!-- end: {section} -->")[0]
    table = body.split("\n## Settings", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        for name in re.findall(r"`([a-z_]+)`", first_cell):
            rows[name] = line
    return rows


def about(name: str) -> dict[str, Any]:
    """What the installed command itself reports (`<plugin> --about --format json`)."""
    command = shutil.which(name, path=str(Path(sys.executable).parent))
    assert command, f"{name} is not installed next to {sys.executable}"
    done = subprocess.run(
        [command, "--about", "--format", "json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def definition(name: str) -> dict[str, Any]:
    """The Hub-format plugin definition file a user adds with `meltano add --from-ref`."""
    kind, _ = PLUGINS[name]
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "plugins" / kind / f"{name}.yml").read_text())
    return loaded


def kind_matches(kind: str | None, spec: dict[str, Any]) -> bool:
    """A Meltano kind fits a JSON schema type: enumerations are options, dates are text."""
    if "enum" in spec:
        return kind == "options"
    expected = json_kind(spec)
    return kind == expected or (expected == "string" and kind == "date_iso8601")


@pytest.mark.parametrize("name", PLUGINS)
def test_meltano_yml_declares_exactly_the_plugin_settings(name: str) -> None:
    declared = schema_settings(PLUGINS[name][1])
    meltano = meltano_settings(name)
    assert set(meltano) - SDK_GENERIC == set(declared)
    for setting, spec in declared.items():
        entry = meltano[setting]
        assert kind_matches(entry.get("kind"), spec), setting
        assert bool(entry.get("sensitive")) == bool(spec.get("secret")), setting
        assert entry.get("label") and entry.get("description"), setting


@pytest.mark.parametrize("name", PLUGINS)
def test_definition_and_meltano_yml_declare_what_about_reports(name: str) -> None:
    """Settings (kind, default, secret, options, description), groups, capabilities: `--about`'s.

    Rewrite both from the connectors with `python -m tests.helpers.plugin_definitions`.
    """
    reported = about(name)
    settings = reported["settings"]["properties"]
    plugin = definition(name)
    project = meltano_settings(name)
    defined = {entry["name"]: entry for entry in plugin["settings"]}
    assert list(defined) == list(settings), "definition settings differ from --about's"
    assert plugin["capabilities"] == reported["capabilities"]
    for setting, spec in settings.items():
        entry = defined[setting]
        assert entry == project[setting], f"{setting}: meltano.yml and the definition differ"
        assert kind_matches(entry["kind"], spec), setting
        assert entry.get("value") == spec.get("default"), setting
        assert bool(entry.get("sensitive")) == bool(spec.get("secret")), setting
        assert entry["label"] and entry["description"], setting
        assert entry["description"] == spec.get("description", entry["description"]), setting
        if "enum" in spec:
            assert [option["value"] for option in entry["options"]] == spec["enum"], setting
    assert plugin["settings_group_validation"]
    for group in plugin["settings_group_validation"]:
        assert set(group) <= set(defined), group


@pytest.mark.parametrize("setting", [prop.name for prop in CONNECTION_SETTINGS])
def test_connection_settings_read_the_same_for_both_connectors(setting: str) -> None:
    """One declaration (emarsys_singer.connection_settings), one wording everywhere."""
    tap, target = schema_settings(TapEmarsys)[setting], schema_settings(TargetEmarsys)[setting]
    assert tap == target
    for name in PLUGINS:
        entry = meltano_settings(name)[setting]
        assert entry["description"] == tap["description"], f"meltano.yml {name} {setting}"
        if "default" in tap:
            assert entry.get("value") == tap["default"], f"meltano.yml {name} {setting}"


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
