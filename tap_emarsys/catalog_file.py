"""The tap's `--catalog` checks: the file is read and checked before any request.

The SDK parses the catalog without a check, so a cut-short file, a list, or a stream entry of
the wrong shape ended in a JSONDecodeError, RuntimeError or TypeError traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from singer_sdk.singerlib import Catalog

from emarsys_singer.command_errors import UserFacingError
from emarsys_singer.json_files import NotJsonError, load_json_text, wrong_kind

if TYPE_CHECKING:
    from singer_sdk import Stream

#: What to do about any catalog the tap cannot read.
RERUN = "rerun the tap with --discover to write a new catalog"


class CatalogFileError(UserFacingError, ValueError):
    """The `--catalog` file cannot be used; names the file and the entry."""


def read_catalog_file(file: IO[str]) -> str:
    """The text of a `--catalog` file, checked to have the shape `--discover` writes.

    Raises:
        CatalogFileError: not JSON, or an entry of the wrong shape (names file and key).
    """
    name = getattr(file, "name", "--catalog")
    text = file.read()
    try:
        catalog = load_json_text(text)
    except NotJsonError as error:
        where = str(error) if text.strip() else "the file is empty"
        raise CatalogFileError(f"the catalog file {name} is not JSON ({where}); {RERUN}") from None
    problem = catalog_problem(catalog)
    if not problem:
        try:  # what the SDK reads beyond the shape checked here
            Catalog.from_dict(catalog)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            problem = f"the SDK cannot read it ({type(error).__name__}: {error})"
    if problem:
        raise CatalogFileError(f"the catalog file {name}: {problem}; {RERUN}")
    return text


def catalog_problem(catalog: object) -> str:
    """What is wrong with the shape of a parsed catalog (empty: nothing)."""
    if not isinstance(catalog, Mapping):
        return "it is not a JSON object with `streams`"
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        return f"`streams` is {streams!r}, not a list of stream entries"
    for number, entry in enumerate(streams):
        where = f"streams[{number}]"
        if not isinstance(entry, Mapping):
            return f"{where} is not an object"
        if not isinstance(entry.get("tap_stream_id"), str):
            return f"{where} has no `tap_stream_id`"
        wrong = wrong_kind(entry, {"schema": Mapping, "metadata": list, "key_properties": list})
        if wrong:
            return f"{where}.{wrong}"
        for item_number, item in enumerate(entry.get("metadata") or []):
            if not isinstance(item, Mapping) or not isinstance(item.get("metadata", {}), Mapping):
                return f"{where}.metadata[{item_number}] is not an object with `metadata`"
            if not isinstance(item.get("breadcrumb", []), list):
                return f"{where}.metadata[{item_number}].breadcrumb is not a list"
    return ""


ANNOTATIONS = frozenset({"title", "description", "examples", "$comment"})
"""JSON schema keywords that describe a value without constraining it."""


def same_type(found: Any, wanted: Any) -> bool:
    """Whether two property schemas say the same of a value: `type` as a name or a list, in
    any order, and annotations (`ANNOTATIONS`) aside."""

    def rule(schema: Any) -> Any:
        if not isinstance(schema, dict):
            return schema
        kept = {k: v for k, v in schema.items() if k not in ANNOTATIONS}
        kinds = kept.get("type")
        if isinstance(kinds, str) or (
            isinstance(kinds, list) and all(isinstance(k, str) for k in kinds)
        ):
            kept["type"] = sorted({kinds} if isinstance(kinds, str) else set(kinds))
        return kept

    return bool(rule(found) == rule(wanted))


def check_key_properties(stream: Stream, catalog: Catalog) -> None:
    """Refuse a catalog entry that retypes, deselects (made `available`) or removes one of
    `stream`'s key properties: the records still carry it as discovered, so SCHEMA and
    RECORDs would disagree, or SCHEMA would name a key it does not describe.

    Raises:
        CatalogFileError: naming the stream and the key property.
    """
    entry = catalog.get_stream(stream.tap_stream_id)
    if entry is None or not entry.metadata.root.selected:
        return
    properties = entry.schema.to_dict().get("properties") or {}
    for key in stream.primary_keys or ():
        wanted = stream.schema["properties"].get(key)
        found = properties.get(key)
        item = entry.metadata.get(("properties", key))
        if found is None:
            what = f"removes key property {key} from its schema"
        elif not same_type(found, wanted):
            what = f"retypes key property {key} to {json.dumps(found)} ({json.dumps(wanted)})"
        elif item is not None and item.selected is False and item.inclusion != "automatic":
            # A key left `automatic` stays whatever `selected` says (the Singer spec, and the
            # SDK); one made `available` and deselected would leave SCHEMA without it.
            what = f"deselects key property {key}"
        else:
            continue
        msg = (
            f"the catalog's stream {stream.name} {what}, which every record carries as "
            f"discovered; restore it, or {RERUN}"
        )
        raise CatalogFileError(msg)
