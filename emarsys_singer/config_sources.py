"""The `--config` sources, checked while the command line is read.

The SDK reads each `--config` file with a bare JSON reader and, for `--config ENV`, converts
environment variables by the setting's type with `int()` or a JSON parser. A missing, empty or
malformed file, or an environment variable like ``TAP_EMARSYS_EXPORT_WINDOW_DAYS=abc``, ended in
a traceback that named neither the file nor the setting. Each source is checked here first, and
a bad one stops the command with click's usage error (exit status 2, as a missing `--state`
file does): ``Error: Invalid value for '--config': the config file x.json is not JSON ...``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from emarsys_api.settings import json_types
from emarsys_singer.json_files import NotJsonError, load_json_text


def checked_config_callback(callback: Callable[..., Any], plugin: Any | None) -> Callable[..., Any]:
    """The SDK's `--config` callback, run once every source in the value has been checked.

    Args:
        callback: the SDK's callback (`PluginBase.cb_config` of `plugin`).
        plugin: the connector class (its `name` and `config_jsonschema` name the variables);
            without it, environment variables are left to the SDK.
    """

    def read(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
        for source in value or ():
            if source == "ENV":
                if plugin is not None:
                    check_environment(plugin)
            else:
                check_config_file(source)
        return callback(ctx, param, value)

    return read


def check_config_file(source: str) -> None:
    """A `--config` file must be readable UTF-8 text holding one JSON object (a pipe or
    other special file is left to the SDK: it can be read only once).

    Raises:
        click.BadParameter: naming the file and what is wrong with it.
    """
    name = f"the config file {source}"
    path = Path(source)
    if path.exists() and not path.is_dir() and not path.is_file():
        return  # a pipe (`--config /dev/stdin`): reading it here would leave the SDK nothing
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.BadParameter(f"{name} does not exist") from None
    except IsADirectoryError:
        raise click.BadParameter(f"{name} is a folder, not a JSON file of settings") from None
    except UnicodeDecodeError:
        raise click.BadParameter(f"{name} is not UTF-8 text; save it as UTF-8 JSON") from None
    except (OSError, ValueError) as error:  # no permission, a NUL in the path, ...
        reason = getattr(error, "strerror", None) or str(error)
        raise click.BadParameter(f"{name} cannot be read ({reason})") from None
    if not text.strip():
        raise click.BadParameter(f"{name} is empty; write the settings as one JSON object")
    try:
        config = load_json_text(text)
    except NotJsonError as error:
        raise click.BadParameter(f"{name} is not JSON ({error}); fix it") from None
    if not isinstance(config, dict):
        kind = "list" if isinstance(config, list) else type(config).__name__
        raise click.BadParameter(
            f"{name} holds a JSON {kind}; it must be one JSON object of settings"
        )


def check_environment(plugin: Any) -> None:
    """Each setting's environment variable must convert the way the SDK converts it.

    The SDK reads ``<NAME>_<SETTING>`` (upper case, dashes as underscores) and converts an
    integer setting with `int()`, and an object or array setting (other than a list of text,
    which it also takes as ``a,b,c``) as JSON. Those are the conversions that can fail.

    Raises:
        click.BadParameter: naming the variable and its setting (a secret's value unshown).
    """
    schema = plugin.config_jsonschema
    prefix = f"{plugin.name.upper().replace('-', '_')}_"
    for setting, spec in (schema.get("properties") or {}).items():
        variable = prefix + setting.upper().replace("-", "_")
        text = os.environ.get(variable)
        if text is None or not isinstance(spec, Mapping):
            continue
        wanted = _failing_conversion(spec, text)
        if wanted is None:
            continue
        shown = "" if spec.get("secret") or spec.get("writeOnly") else f", got {text!r}"
        raise click.BadParameter(
            f"the environment variable {variable} (setting `{setting}`) must be {wanted}"
            f"{shown}; fix or unset it"
        )


def _failing_conversion(spec: Mapping[str, Any], text: str) -> str | None:
    """What `text` should be when the SDK's conversion for `spec` would fail, else None."""
    kinds = json_types(spec)
    if "integer" in kinds:
        try:
            int(text)
        except ValueError:
            if "string" in kinds:  # text is a valid value, but not from the environment
                return (
                    "a whole number when it comes from the environment (the SDK reads it as "
                    "one there); give a text value in a --config file instead"
                )
            return "a whole number"
        return None
    if "boolean" in kinds:
        return None
    if "array" in kinds:
        items = spec.get("items")
        if isinstance(items, Mapping) and "string" in json_types(items):
            return None  # the SDK falls back to splitting at commas
        return None if _is_json(text) else "a JSON array"
    if "object" in kinds:
        return None if _is_json(text) else "a JSON object"
    return None


def _is_json(text: str) -> bool:
    try:
        load_json_text(text)
    except NotJsonError:
        return False
    return True
