"""Running tap-emarsys in-process against a sandbox and reading its output (RECORD, STATE)."""

from __future__ import annotations

import contextlib
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tap_emarsys.tap import TapEmarsys

FAST = {"export_poll_interval": 0.02, "export_timeout": 30}


@dataclass
class TapOutput:
    """The Singer messages of one run, by kind."""

    messages: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records[message["stream"]].append(message["record"])
            elif message["type"] == "STATE":
                self.states.append(message["value"])

    @property
    def state(self) -> dict[str, Any]:
        """The last STATE value (what a runner would store)."""
        return self.states[-1] if self.states else {}

    def bookmark(self, stream: str) -> str | None:
        """The stream's `window_end` in the last state."""
        return self.state.get("bookmarks", {}).get(stream, {}).get("window_end")


def selected_catalog(tap: TapEmarsys, streams: Iterable[str]) -> dict[str, Any]:
    """The tap's catalog with only `streams` selected."""
    wanted = set(streams)
    catalog = json.loads(json.dumps(tap.catalog_dict))
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if not item["breadcrumb"]:
                item["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return catalog


def run_tap(
    config: dict[str, Any],
    streams: Iterable[str] | None = None,
    state: dict[str, Any] | None = None,
) -> TapOutput:
    """Sync in-process and parse stdout; exceptions propagate (with the output so far lost)."""
    catalog = None
    if streams is not None:
        catalog = selected_catalog(TapEmarsys(config=config), streams)
    tap = TapEmarsys(config=config, catalog=catalog, state=state)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    out.seek(0)
    return TapOutput([json.loads(line) for line in out])


def run_tap_until_error(
    config: dict[str, Any], streams: Iterable[str], state: dict[str, Any] | None = None
) -> tuple[TapOutput, BaseException]:
    """Sync in-process expecting a failure; returns what was written before it and the error."""
    catalog = selected_catalog(TapEmarsys(config=config), streams)
    tap = TapEmarsys(config=config, catalog=catalog, state=state)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
        except Exception as caught:
            error = caught
        tap.message_writer.flush()  # type: ignore[attr-defined]
    assert error is not None, "the run was expected to fail"
    out.seek(0)
    return TapOutput([json.loads(line) for line in out]), error
