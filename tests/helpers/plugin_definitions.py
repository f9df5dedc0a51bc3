"""The plugin definitions in `plugins/` and `meltano.yml`'s connector entries, from `--about`.

One truth for settings: each connector's `config_jsonschema` (what `--about` reports) gives the
names, types, defaults, secrets, enumerations and descriptions; the definition files add what
only Meltano needs (labels, `date_iso8601`, option labels, settings groups). `meltano.yml`
carries the same settings as the definition files, so a project made with
`meltano add --from-ref` and this repository's own project behave alike.

`python -m tests.helpers.plugin_definitions` rewrites both from the connectors (comments and the
rest of `meltano.yml` stay as they are); `tests/test_packaging.py` fails when they differ from
what this would write.
"""

from __future__ import annotations

import copy
import enum
import io
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from tap_emarsys.tap import TapEmarsys
from target_emarsys.target import TargetEmarsys

ROOT = Path(__file__).resolve().parents[2]
MELTANO_YML = ROOT / "meltano.yml"
# plugin name -> (plugin type in meltano.yml, connector class, definition file)
PLUGINS: dict[str, tuple[str, type[TapEmarsys] | type[TargetEmarsys], Path]] = {
    "tap-emarsys": ("extractors", TapEmarsys, ROOT / "plugins/extractors/tap-emarsys.yml"),
    "target-emarsys": ("loaders", TargetEmarsys, ROOT / "plugins/loaders/target-emarsys.yml"),
}
# JSON schema type -> Meltano setting kind.
KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
# Text settings Meltano should treat as dates (it also accepts "30 days ago" for them).
DATE_SETTINGS = {"start_date", "end_date"}


def about_settings(connector: type[TapEmarsys] | type[TargetEmarsys]) -> dict[str, Any]:
    """Every setting `--about` reports: the connector's own and the SDK's built-in ones."""
    schema = copy.deepcopy(connector.config_jsonschema)
    connector.append_builtin_config(schema)
    properties: dict[str, Any] = schema["properties"]
    return properties


def about_capabilities(connector: type[TapEmarsys] | type[TargetEmarsys]) -> list[str]:
    """The capabilities `--about` reports, as Meltano spells them."""
    return [str(capability.value) for capability in connector.capabilities]


def setting_kind(name: str, spec: dict[str, Any]) -> str:
    """The Meltano kind of one setting: `options` for an enumeration, dates as dates."""
    if "enum" in spec:
        return "options"
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else types
    kind = KINDS[next(t for t in types if t != "null")]
    return "date_iso8601" if kind == "string" and name in DATE_SETTINGS else kind


def plain(value: Any) -> Any:
    """An SDK enumeration member (`TargetLoadMethods.UPSERT`) as the text it stands for."""
    return value.value if isinstance(value, enum.Enum) else value


def default_label(name: str) -> str:
    """`max_wait` -> `Max wait`: the label of a setting no definition has labelled yet."""
    return name.replace("_", " ").capitalize()


def expected_settings(
    connector: type[TapEmarsys] | type[TargetEmarsys], current: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The definition's settings: `--about`'s, with the labels the current file gives them."""
    known = {setting["name"]: setting for setting in current}
    settings = []
    for name, spec in about_settings(connector).items():
        old = known.get(name, {})
        entry: dict[str, Any] = {
            "name": name,
            "label": old.get("label") or default_label(name),
            "kind": setting_kind(name, spec),
            "description": DoubleQuotedScalarString(
                spec.get("description") or old.get("description") or ""
            ),
        }
        if spec.get("default") is not None:
            value = plain(spec["default"])
            entry["value"] = DoubleQuotedScalarString(value) if isinstance(value, str) else value
        if spec.get("secret"):
            entry["sensitive"] = True
        if "enum" in spec:
            labels = {option["value"]: option["label"] for option in old.get("options", [])}
            entry["options"] = [
                {"label": labels.get(plain(value), plain(value)), "value": plain(value)}
                for value in spec["enum"]
            ]
        settings.append(entry)
    return settings


def flow(items: list[Any]) -> CommentedSeq:
    """A list written on one line (`[catalog, state, ...]`), as meltano.yml has them."""
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def yaml_io() -> YAML:
    """A round-trip YAML reader/writer that keeps comments, quotes and indentation."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def synced_definition(name: str, text: str) -> str:
    """A definition file's text with settings and capabilities as the connector reports them."""
    _, connector, _ = PLUGINS[name]
    yaml = yaml_io()
    definition = yaml.load(text)
    definition["capabilities"] = flow(about_capabilities(connector))
    definition["settings_group_validation"] = [
        flow(list(group)) for group in definition["settings_group_validation"]
    ]
    definition["settings"] = expected_settings(connector, definition.get("settings") or [])
    out = io.StringIO()
    yaml.dump(definition, out)
    return out.getvalue()


def synced_project(text: str, definitions: dict[str, str]) -> str:
    """`meltano.yml`'s text with each connector's settings, groups and capabilities as defined."""
    yaml = yaml_io()
    project = yaml.load(text)
    for name, (plugin_type, _, _) in PLUGINS.items():
        definition = yaml_io().load(definitions[name])
        entry = next(p for p in project["plugins"][plugin_type] if p["name"] == name)
        for key in ("capabilities", "settings_group_validation", "settings"):
            entry[key] = definition[key]
    out = io.StringIO()
    yaml.dump(project, out)
    return out.getvalue()


def expected_files(project_text: str | None = None) -> dict[Path, str]:
    """Every file this module writes, with the text it should have."""
    definitions = {
        name: synced_definition(name, path.read_text(encoding="utf-8"))
        for name, (_, _, path) in PLUGINS.items()
    }
    files = {PLUGINS[name][2]: text for name, text in definitions.items()}
    project = MELTANO_YML.read_text(encoding="utf-8") if project_text is None else project_text
    files[MELTANO_YML] = synced_project(project, definitions)
    return files


def main() -> None:
    """Rewrite the definition files and meltano.yml's connector entries; say what changed."""
    for path, text in expected_files().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"rewrote {path.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
