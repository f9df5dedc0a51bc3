"""The Singer SDK's standard tap tests, all streams, against a small sandbox."""

from __future__ import annotations

import atexit

from singer_sdk.testing import get_tap_test_class

from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys

# The SDK builds the test class (and discovers the catalog) at collection time, so the sandbox
# has to be up before fixtures exist.
_SANDBOX = Sandbox(contacts=40, seed=11).start()
atexit.register(_SANDBOX.close)

TestTapEmarsys = get_tap_test_class(
    TapEmarsys,
    config=_SANDBOX.wsse_config(
        start_date="2026-03-27",
        end_date="2026-03-31T12:00:00",
        export_window_days=2,
        export_poll_interval=0.02,
        contact_fields=[1, 3, 4, 31, 1000, 1001, 1004],
    ),
)
