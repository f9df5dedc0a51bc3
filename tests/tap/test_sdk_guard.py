"""The tap's private singer-sdk surface is fenced: an SDK upgrade that changes it fails here.

`tap_emarsys.sdk_overrides` overrides or calls the SDK's private members (mirroring singer-sdk
0.54.x). Each one's source is pinned by its sha256: when an upgrade changes one, the test
names it and what to re-check in `sdk_overrides` (its `MIRRORED` entry); once re-checked,
the pin is updated here in the same change. No other tap module may override an SDK member
whose name starts with `_`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import inspect
import pkgutil
from importlib.metadata import version
from typing import Any

import pytest
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

import tap_emarsys
from tap_emarsys import sdk_overrides
from tap_emarsys.sdk_overrides import (
    MIRRORED,
    SDK_SERIES,
    encode_record_into,
    instant_text,
    record_messages,
)

#: sha256 of `inspect.getsource(member)` in the singer-sdk release the overrides were checked on
PINNED: dict[str, str] = {
    "singer_sdk.singerlib.encoding.simple.RecordMessage.to_dict": (
        "821fe177d16c97aa492e33f6b4297f67b61b12149f7d799b7e7c58aa56735626"
    ),
    "singer_sdk.singerlib.encoding.simple.RecordMessage.__post_init__": (
        "dd3f2d7ace58e0a57046e18767c4097e4e7a7e5d3449b090399b271c187670ec"
    ),
    "singer_sdk.plugin_base.BaseSingerWriter.write_message": (
        "2a8ca3137acb5bd905435168447660f33fef58a7571054c2f8ab678631efc676"
    ),
    "singer_sdk.streams.core.Stream._sync_records": (
        "8928dc7f50e9bf57cc98734b30e3953b0e19007f85fe020a0c80ccdbcf5d329f"
    ),
    "singer_sdk.streams.core.Stream._process_record": (
        "8529b9f3ce2f849db6858c120e7ea1b8ff246714ea48edb355ca3eb6a9c27c0b"
    ),
    "singer_sdk.streams.core.Stream._check_max_record_limit": (
        "1e2a5ba02d427833ec5f1eea22636a9148f0d4fa900899534976e4c42527e26d"
    ),
    "singer_sdk.streams.core.Stream._get_state_partition_context": (
        "e621b72985cafacf9fe5bb139434643063f3687ab27c587b1d10509e2c943de2"
    ),
    "singer_sdk.streams.core.Stream._write_starting_replication_value": (
        "0a24e5d05cd5353cc33b0f41b1097a011f065e048ce7b0facb54fbcec72001a0"
    ),
    "singer_sdk.streams.core.Stream._finalize_state": (
        "e08e1d0714a904b2e8d93175c708ca3e66b24cfe8c00c8cc8cb785b750df7904"
    ),
    "singer_sdk.mapper.SameRecordTransform.transform": (
        "db46d82cacfd5593cfc76f63521added9f53b974413f29ae0820f2cee718c7af"
    ),
    "singer_sdk.mapper.StreamMap.flatten_record": (
        "ccb0ee05e2c2b8600293fe4af8668305249024c9b0aa115d1105594ed4c474e0"
    ),
    "singer_sdk.streams.core.Stream._write_record_message": (
        "292b7bed39883bd999839ea8ac5153ab52287f6120f7203902892510b0cfbd08"
    ),
    "singer_sdk.streams.core.Stream._generate_record_messages": (
        "9b5f9fbcdedb7a1aec5673a44f51fd9bd88840f19f0fb29cba9953b9d9095bfe"
    ),
    "singer_sdk.streams.core.Stream._increment_stream_state": (
        "cabc0edb2fd4f0000dbd140a870dae871400ba13293bd2ecd8bdd93d0fb033bc"
    ),
    "singer_sdk.streams.core.Stream._write_state_message": (
        "f82ecd8d169868234742e45a855006fd2596c96cab9d3d9f975a13517c6e3fda"
    ),
    "singer_sdk.streams.core.Stream._write_activate_version_message": (
        "b5295d35a81b3da68d0522d9eee9888e6cea3e4531d9a30c1b1bd00ff16dab52"
    ),
    "singer_sdk.streams.core.Stream.__init__": (
        "d688dac686f01d3b6a550656497b4a0c0f0070a27ffae9f179da2e977871be9c"
    ),
    "singer_sdk.plugin_base.PluginBase._validate_config": (
        "0584b9e347e353fa7fd5151422a67881f8a8c790a2681e53fc5bdd4beb1c7ce5"
    ),
    "singer_sdk.tap_base.Tap._handle_termination": (
        "2bb79ae47769883a865515c9ad282da5f2a8c5e167e155c148ac76e7cb5306ee"
    ),
    "singer_sdk.contrib.msgspec.serialize_jsonl": (
        "0ed6a3e279467f0d151baadf5484c5a9ca2afbfdceb88fa7dc90b1206b7b14a1"
    ),
    "singer_sdk.contrib.msgspec.MsgSpecWriter.serialize_message": (
        "e00a8a7be058c6fd002ed659f1d7d881906286aa5bbd4f3c997860b1b7b710fd"
    ),
    "singer_sdk.plugin_base._ConfigInput": (
        "9af0dd6ae9800be99fa103517ae39eb112b99cb60f599af352de8452fcafc079"
    ),
}


def resolve(qualified: str) -> Any:
    """`singer_sdk.streams.core.Stream._sync_records` -> the function (module, then attributes)."""
    parts = qualified.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise LookupError(qualified)


def source_hash(member: Any) -> str:
    return hashlib.sha256(inspect.getsource(member).encode()).hexdigest()


def test_the_installed_sdk_is_the_series_the_overrides_mirror() -> None:
    installed = version("singer-sdk")
    assert installed.startswith(f"{SDK_SERIES}."), (
        f"singer-sdk {installed} is installed; tap_emarsys.sdk_overrides mirrors {SDK_SERIES}.x: "
        "re-check every member in its MIRRORED list against the new SDK, then update SDK_SERIES "
        "and the pins in tests/tap/test_sdk_guard.py"
    )


def test_every_mirrored_member_is_pinned() -> None:
    assert set(PINNED) == set(MIRRORED)


@pytest.mark.parametrize("qualified", sorted(MIRRORED))
def test_overridden_sdk_member_is_unchanged(qualified: str) -> None:
    try:
        member = resolve(qualified)
    except (AttributeError, LookupError):
        pytest.fail(
            f"{qualified} no longer exists in singer-sdk {version('singer-sdk')}: "
            f"tap_emarsys.sdk_overrides relies on it ({MIRRORED[qualified]})"
        )
    assert source_hash(member) == PINNED[qualified], (
        f"singer-sdk {version('singer-sdk')} changed {qualified}. Re-check in "
        f"tap_emarsys/sdk_overrides.py: {MIRRORED[qualified]}. Then pin the new hash in "
        "tests/tap/test_sdk_guard.py (and SDK_SERIES if the series changed)."
    )


def tap_classes() -> list[type]:
    """Every class defined in a tap_emarsys module."""
    classes: list[type] = []
    for info in pkgutil.iter_modules(tap_emarsys.__path__, "tap_emarsys."):
        module = importlib.import_module(info.name)
        classes.extend(
            value
            for value in vars(module).values()
            if isinstance(value, type) and value.__module__ == module.__name__
        )
    return classes


def test_private_sdk_members_are_overridden_only_in_sdk_overrides() -> None:
    outside: list[str] = []
    unlisted: list[str] = []
    for cls in tap_classes():
        sdk_bases = [base for base in cls.__mro__[1:] if base.__module__.startswith("singer_sdk")]
        for name in vars(cls):
            if not name.startswith("_") or name.startswith("__"):
                continue
            owner = next((base for base in sdk_bases if name in vars(base)), None)
            if owner is None or not callable(vars(owner)[name]):
                continue  # the tap's own private helper, or an SDK attribute set in __init__
            where = f"{cls.__module__}.{cls.__qualname__}.{name}"
            if cls.__module__ != sdk_overrides.__name__:
                outside.append(where)
            if f"{owner.__module__}.{owner.__qualname__}.{name}" not in MIRRORED:
                unlisted.append(f"{where} (overrides {owner.__module__}.{owner.__qualname__})")
    assert not outside, f"private SDK members overridden outside sdk_overrides: {outside}"
    assert not unlisted, f"overridden SDK members missing from MIRRORED: {unlisted}"


def test_the_block_writer_encodes_records_as_the_sdk_writer_does() -> None:
    message = RecordMessage(
        stream="contact_changes",
        record={"contact_id": 7, "email": "a@example.com", "score": 1.5, "gone": None},
        version=1_767_225_600_000,
        time_extracted=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc),
    )
    block = bytearray(b"earlier line\n")
    encode_record_into(message, block)
    encode_record_into(message, block)
    line = bytes(MsgSpecWriter().serialize_message(message))
    assert bytes(block) == b"earlier line\n" + line + line


@pytest.mark.parametrize("version", [1_767_225_600_000, None])
def test_the_record_fast_path_writes_what_the_sdk_writer_writes(version: int | None) -> None:
    vienna = dt.timezone(dt.timedelta(hours=1))
    moment = dt.datetime(2026, 3, 1, 13, 0, 0, 123456, tzinfo=vienna)  # not UTC: converted
    record = {"contact_id": 7, "email": "a@example.com", "gone": None}
    block = bytearray()
    encode_record_into(record_messages("s", version)(record, instant_text(moment)), block)
    expected = MsgSpecWriter().serialize_message(
        RecordMessage(stream="s", record=record, version=version, time_extracted=moment)
    )
    assert bytes(block) == bytes(expected)
