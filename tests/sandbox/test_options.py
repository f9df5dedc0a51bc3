"""The sandbox's options come from one declaration: `Sandbox(...)`, `SandboxBackend`, `serve`."""

from __future__ import annotations

import inspect
import re
from dataclasses import fields
from pathlib import Path

import pytest

from emarsys_sandbox import Sandbox
from emarsys_sandbox.backend import SandboxBackend
from emarsys_sandbox.cli import build_parser
from emarsys_sandbox.options import ExportVariants, SandboxOptions, option_fields, serve_keywords

README = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"
# where `serve` starts another sandbox than `Sandbox()`: a fixed port, a bigger account
SERVE_DEFAULTS = {"port": 8099, "contacts": 1000, "seed": 1}


def test_every_option_is_a_keyword_of_sandbox_and_a_serve_flag() -> None:
    names = [f.name for f in option_fields()]
    parameters = inspect.signature(Sandbox).parameters
    assert list(parameters) == [
        "contacts",
        "seed",
        *(n for n in names if n not in ("contacts", "seed")),
    ]
    assert {p.name: p.default for p in parameters.values()} == {
        f.name: f.default for f in option_fields()
    }
    served = serve_keywords(build_parser().parse_args(["serve"]))
    library = {f.name: f.default for f in option_fields()}
    assert served == {**library, "rds_tables": {}, **SERVE_DEFAULTS}


def test_readme_options_table_names_every_flag_and_keyword() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Options (`serve` flags") : text.index("## Faults")]
    rows = [line for line in table.splitlines() if line.startswith("| `--")]
    for f in option_fields():
        flag = f.metadata["flag"].name
        assert any(
            re.search(rf"`{re.escape(flag)}[ `]", row) and f"`{f.name}`" in row for row in rows
        ), f"README sandbox options table has no row for {flag} / {f.name}"


def test_keywords_build_the_same_options_everywhere() -> None:
    options = SandboxOptions.of(contacts=5, ready_is_final=True, denied_permissions=["exports"])
    assert options.variants == ExportVariants(ready_is_final=True)
    assert options.denied_permissions == frozenset({"exports"})
    with Sandbox(contacts=5, ready_is_final=True, denied_permissions=("exports",)) as sb:
        assert sb.options == options
        assert sb.backend.options == options
    backend = SandboxBackend(contacts=5, ready_is_final=True, denied_permissions={"exports"})
    try:
        assert backend.options == options
        assert backend.variants.ready_is_final and backend.denied_permissions == {"exports"}
    finally:
        backend.close()


def test_new_serve_flags_reach_the_backend() -> None:
    args = build_parser().parse_args(
        ["serve", "--sftp-retry-interval", "0.5", "--notification-retry-delay", "0.25"]
    )
    backend = SandboxBackend(**serve_keywords(args))
    try:
        assert backend.exports.sftp_retry_interval == 0.5
        assert backend.exports.notification_retry_delay == 0.25
    finally:
        backend.close()


def test_an_unknown_keyword_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"unknown sandbox option.*ready_is_finale"):
        Sandbox(contacts=1, ready_is_finale=True)
    with pytest.raises(TypeError, match="options or keywords"):
        SandboxBackend(SandboxOptions(), contacts=3)


def test_export_variants_are_the_only_nested_options() -> None:
    nested = [f.name for f in fields(SandboxOptions) if "flag" not in f.metadata]
    assert nested == ["variants"]
