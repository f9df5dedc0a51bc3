"""Property: any valid body's download, read back with csv.reader, equals the ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emarsys_sandbox import Sandbox
from emarsys_sandbox.synthetic import FIELDS
from tests.helpers.sandbox_http import KINDS, Api, parse_csv, typed_cell

EXPORTABLE = [f.id for f in FIELDS if f.exportable]
LABELS_DE = {f.name_de: f.name for f in FIELDS}


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    with Sandbox(contacts=120, seed=21) as sb:
        yield sb


bodies = st.fixed_dictionaries(
    {
        "distribution_method": st.just("local"),
        "contact_fields": st.lists(
            st.sampled_from(EXPORTABLE), min_size=1, max_size=8, unique=True
        ),
        "delimiter": st.sampled_from([",", ";"]),
        "contactlist": st.sampled_from([101, 102, 103]),
        "language": st.sampled_from(["en", "de", "fr"]),
    }
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, offset=st.integers(0, 130), limit=st.one_of(st.none(), st.integers(1, 50)))
def test_any_contact_list_page_round_trips(
    shared: Sandbox, body: dict[str, Any], offset: int, limit: int | None
) -> None:
    api = Api(shared)
    export_id = api.export("email/getcontacts", body)
    params: dict[str, Any] = {"offset": offset}
    if limit is not None:
        params["limit"] = limit
    rows = parse_csv(api.download(export_id, **params).text, body["delimiter"])
    header, data = rows[0], rows[1:]
    if body["language"] == "de":
        assert header[1:] == [
            f.name_de for fid in body["contact_fields"] for f in FIELDS if f.id == fid
        ]
        header = [LABELS_DE.get(h, h) for h in header]
    expected = shared.expected_export("email/getcontacts", body)
    end = None if limit is None else offset + limit
    parsed = [
        {h: typed_cell(v, KINDS.get(h, "text")) for h, v in zip(header, r, strict=True)}
        for r in data
    ]
    assert parsed == expected[offset:end]
