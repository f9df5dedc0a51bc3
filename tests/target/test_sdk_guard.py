# ruff: noqa: E501  (the pinned sha256 lines)
"""The singer-sdk code target-emarsys mirrors has not changed under it.

`target_emarsys/sdk_overrides.py` overrides private SDK members and re-implements the SDK's
record path; it is written against singer-sdk 0.54.x. These tests pin the sha256 of the source
of every SDK member it mirrors, so an SDK upgrade that changes one fails here, naming it,
instead of drifting silently. They also check that no other module of the target overrides a
private SDK member, so the pins cover everything.
"""

from __future__ import annotations

import hashlib
import inspect
from importlib.metadata import version

import pytest

from target_emarsys import sdk_overrides
from target_emarsys.reader import SingerLineReader
from target_emarsys.sdk_overrides import MIRRORED_SDK_MEMBERS, SDK_SERIES
from target_emarsys.sinks import BehaviorSink, ContactsSink, RelationalFileSink, RelationalSink
from target_emarsys.target import TargetEmarsys

PINNED_SOURCE_SHA256 = {
    "Target._process_record_message": "08aaf4096e2d39e7c3826848feebbaac40fb7b3e67fe863576cde90e4e425dfc",
    "Target._process_state_message": "e27158e2b1e7ea6d685a57a87051c435fe52fa161e657bbcc81fac2b63e1d7cf",
    "Target._process_schema_message": "ed6e8449bc8ff234f071aa48b35b1543e0abb23c9db9323dbbf1f9af54cf64a4",
    "Target._process_activate_version_message": "377950028ca9b3eb0b43344027872490c28075f8122842d69406aa61de06e676",
    "Target._process_batch_message": "f26fbe519745daf2e9fb9c01ca01030aaa7549a97210ffa51a7003a8fcdb24cc",
    "Target._write_state_message": "bf40aa5e36ebef4d9921fd7874c6bf2e8ddc2ba5ca7d431abcc1c3554709a218",
    "Target._handle_termination": "0d610b822293792b2ec1602b2a95a3b3579e1bb88c577b42266a026ee1ba72d1",
    "PluginBase._validate_config": "0584b9e347e353fa7fd5151422a67881f8a8c790a2681e53fc5bdd4beb1c7ce5",
    "Sink._parse_timestamps_in_record": "b99dc17613b2e3acd049d263869ddb57383a5d65612c8009304d5e7849093cf3",
    "Sink._singer_validate_message": "018b08ee7f624f618b592153319c95009911e2d216e7ac692bd5d46a34d844d4",
    "Sink._after_process_record": "185b5536ec21f7fbe122833ce98e28a0a2795bae930eb6518613ef95ce9bbca6",
    "Sink.is_full": "662da81db8ad2d5a8dd315c3ac5da66350ade46a21b57595b8e23ea9f4dec605",
    "Sink.include_sdc_metadata_properties": "15fc7038b734c4844ed3126a0f1cf353740e0c6f73c662f6d1f8e3061d510cca",
    "Target._assert_sink_exists": "cf81086896d5421f75bc43b85d11b24d99af96fca00d7feb61311e35af0dbaaf",
    "Target._handle_max_record_age": "5762750ab10354049bb9fd31787d353050ca44fe48ddefb8442980b988f494f0",
    "Target._reset_max_record_age": "37d69f04fba3e162ead61f2017169290957bc36ae006f38e51f4c03769c671c3",
    "Target.drain_all": "1da0109210d345c4eb560910ef74e0b1eb34c605aef604f59d78986d4b130721",
    "Sink.__init__": "8013bcca4771f0ee116bf46c4a4aa1f13742bc079bbe38a2ef1e98e7d2a20ae2",
    "Sink.tally_record_read": "b1cfae5f7a3fab1f5160e787ec04259aa9e6fcab6c87909bb07dc52e66f4fae5",
    "Sink._add_sdc_metadata_to_record": "0ac381cf306bfc0c53a9635b73e6ba9491bb807f4f95d4e6ffcf15e21d221c81",
    "Sink._remove_sdc_metadata_from_record": "7cd9e5fb192f13ec47940ea5d50cb2ac5080d60acd3a473ceeaf629753eb0f63",
    "Sink._validate_and_parse": "970aadabcc4da8c7fd3b877bdd4d32e497db8f53f2f1a02bde60b6f097b11c24",
    "Sink.preprocess_record": "f8282df62eb5388bf0f290caf109733449e7c76da7910189a6e8be214eb83feb",
    "Sink.mark_drained": "b134f77ef2c594891de767a4934db91bf455e105b3ceba3dd7bc58e3e72f1a8e",
    "Sink.record_counter_metric": "f53ce85c45913f908bd62efa68baf071532aa756b37b3b415041d6e08491d242",
    "BatchSink._get_context": "4e0d39040097dc9b9be88c7c3c7d57544c4533175731ea077b62e72fbf448184",
    "SameRecordTransform.transform": "db46d82cacfd5593cfc76f63521added9f53b974413f29ae0820f2cee718c7af",
    "DefaultStreamMap.transform": "3d21910fbf85f850545ea4db19984353ec25d669532f92d31a6146fbfb51ccd2",
    "StreamMap.flatten_record": "ccb0ee05e2c2b8600293fe4af8668305249024c9b0aa115d1105594ed4c474e0",
    "StreamMap.flattening_enabled": "9e9ab2f48c35207ea0eac37759a01f6e7c1bdd093d4998f8b09cfc23e78d9f1f",
    "GenericSingerReader.process_lines": "f6d848854616d1d8f15ee84c52d07d1e04b96bd188832a8fddf1c35e96c4b35a",
    "GenericSingerReader._process_unknown_message": "8798370ec9695cdb5f4d4c4d68cb8070f6b304ee5ff406147aa68dbdd1cf2afe",
    "MsgSpecReader.deserialize_json": "eec0fe447cd2ae9ec12a6a31fbf4e07ae017a6852c5e1f9682432bd372abf092",
}
"""sha256 of `inspect.getsource` of each member, as installed with singer-sdk 0.54.9."""

UPGRADE_STEPS = (
    "singer-sdk changed {member}, which target_emarsys/sdk_overrides.py mirrors "
    "(written against singer-sdk {series}.x; installed: {installed}). Before updating the pin "
    "in tests/target/test_sdk_guard.py: read the new {member} and re-check the override or "
    "call that relies on it in sdk_overrides.py (the RECORD steps and their order in "
    "TargetOverrides._process_record_message / SinkOverrides.take_record, STATE holding and "
    "writing, signal handling, the metadata columns, the validation log message), then run "
    "tests/target. New sha256: {digest}"
)


def source_sha256(member: object) -> str:
    return hashlib.sha256(inspect.getsource(member).encode()).hexdigest()  # type: ignore[arg-type]


def test_every_mirrored_member_is_pinned() -> None:
    assert set(MIRRORED_SDK_MEMBERS) == set(PINNED_SOURCE_SHA256)


@pytest.mark.parametrize("member", sorted(PINNED_SOURCE_SHA256))
def test_mirrored_sdk_member_is_unchanged(member: str) -> None:
    digest = source_sha256(MIRRORED_SDK_MEMBERS[member])
    assert digest == PINNED_SOURCE_SHA256[member], UPGRADE_STEPS.format(
        member=member, series=SDK_SERIES, installed=version("singer-sdk"), digest=digest
    )


def test_the_installed_sdk_is_the_mirrored_series() -> None:
    installed = version("singer-sdk")
    assert installed.startswith(f"{SDK_SERIES}."), (
        f"singer-sdk {installed} is installed; target_emarsys/sdk_overrides.py mirrors "
        f"{SDK_SERIES}.x: re-check every override there, then change SDK_SERIES"
    )


@pytest.mark.parametrize(
    "cls",
    [
        TargetEmarsys,
        RelationalSink,
        RelationalFileSink,
        BehaviorSink,
        ContactsSink,
        SingerLineReader,
    ],
    ids=lambda cls: cls.__name__,
)
def test_private_sdk_members_are_overridden_only_in_sdk_overrides(cls: type) -> None:
    sdk_classes = [base for base in cls.__mro__ if base.__module__.startswith("singer_sdk.")]
    misplaced = []
    for own in cls.__mro__:
        if not own.__module__.startswith("target_emarsys.") or own.__module__ == (
            sdk_overrides.__name__
        ):
            continue
        for name in vars(own):
            private = name.startswith("_") and not name.startswith("__") and name != "_abc_impl"
            if private and any(name in vars(base) for base in sdk_classes):
                misplaced.append(f"{own.__module__}.{own.__qualname__}.{name}")
    if cls is SingerLineReader:  # the reader's mirrored SDK methods are public names
        misplaced = [name for name in misplaced if not name.endswith("._decoder")]
    assert misplaced == [], "private SDK members overridden outside sdk_overrides.py"
