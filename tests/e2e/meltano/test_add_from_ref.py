"""`meltano add --from-ref` with the Hub-format plugin definitions (`plugins/`), in a new project.

What docs/meltano.md "Add to an existing Meltano project" shows: a new project in a temporary
folder outside this repository, both connectors added with `meltano add --from-ref <definition
file>` (their `pip_url` pointed at this checkout), installed by Meltano into venvs of their own,
and `meltano run tap-emarsys target-jsonl` against the sandbox. It runs Meltano, so `make test`
runs it in its second, serial phase with the other tests in this folder. That the definition
files say what the connectors report is checked in tests/test_packaging.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from emarsys_sandbox import Sandbox
from tap_emarsys.tap import TapEmarsys
from tests.helpers.loaders import TARGET_JSONL
from tests.helpers.meltano import MELTANO, clean_environ, run_meltano
from tests.helpers.plugin_definitions import PLUGINS, ROOT
from tests.helpers.truth import expected_records

STREAMS = ["contact_lists", "contact_list_members"]


def meltano(project: Path, env: dict[str, str], *args: str) -> str:
    """`run_meltano` in `project` (outside this checkout), with time to install plugins."""
    return run_meltano(env, *args, cwd=project, timeout=600)


def definition_for_checkout(name: str, folder: Path) -> Path:
    """A copy of the definition file whose pip_url is this checkout (instead of the release)."""
    _, _, path = PLUGINS[name]
    definition = yaml.safe_load(path.read_text(encoding="utf-8"))
    definition["pip_url"] = str(ROOT)
    copy = folder / path.name
    copy.write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
    return copy


def jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.slow
def test_meltano_add_from_ref_in_a_new_project_runs_against_the_sandbox(
    tmp_path: Path,
) -> None:
    """Outside the repository: `meltano init`, `add --from-ref`, install, config, run.

    Meltano installs each plugin into its own venv (with uv: a few seconds each), and the
    connectors' venvs hold only the runtime install: the sandbox's werkzeug is not in them.
    """
    assert not tmp_path.is_relative_to(ROOT)
    target_jsonl = TARGET_JSONL.ensure()
    env = clean_environ()
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", PATH=f"{Path(MELTANO).parent}:{env['PATH']}"
    )
    meltano(tmp_path, env, "init", "project", "--no-usage-stats")
    project = tmp_path / "project"
    for name, (plugin_type, _, _) in PLUGINS.items():
        reference = definition_for_checkout(name, tmp_path)
        meltano(
            project,
            env,
            "add",
            "--plugin-type",
            plugin_type[:-1],
            "--from-ref",
            str(reference),
            name,
        )
    loader = tmp_path / "target-jsonl.yml"
    loader.write_text(
        yaml.safe_dump(
            {
                "name": "target-jsonl",
                "namespace": "target_jsonl",
                "executable": str(target_jsonl),
                "settings": [
                    {"name": "destination_path", "kind": "string"},
                    {"name": "do_timestamp_file", "kind": "boolean"},
                ],
            }
        ),
        encoding="utf-8",
    )
    meltano(
        project, env, "add", "--plugin-type", "loader", "--from-ref", str(loader), "target-jsonl"
    )

    tap_python = project / ".meltano/extractors/tap-emarsys/venv/bin/python"
    for module, installed in (("tap_emarsys", True), ("backoff", True), ("werkzeug", False)):
        found = subprocess.run(
            [str(tap_python), "-c", f"import {module}"], capture_output=True, timeout=60
        )
        assert (found.returncode == 0) is installed, module
    # The sandbox's command is installed too, and says in one line which extra it needs.
    sandbox = subprocess.run(
        [str(tap_python.parent / "emarsys-sandbox"), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sandbox.returncode == 1
    assert sandbox.stderr.strip().splitlines() == [
        "emarsys-sandbox needs the sandbox extra (werkzeug, wsgidav not installed): "
        "pip install 'emarsys-singer[sandbox]'"
    ]
    about = meltano(project, env, "invoke", "target-emarsys", "--about", "--format", "json")
    assert '"name": "target-emarsys"' in about

    output = tmp_path / "output"
    output.mkdir()
    with Sandbox(contacts=60, seed=5) as sb:
        config = {
            **sb.wsse_config(),
            "start_date": "2026-03-15",
            "end_date": "2026-03-22",
            "export_poll_interval": 0.05,
        }
        # As a user would: settings from the environment, except a decimal (Meltano 4.4 cannot
        # pass a decimal it read from the environment on: README "With Meltano").
        env.update(
            {
                f"TAP_EMARSYS_{k.upper()}": str(v)
                for k, v in config.items()
                if k != "export_poll_interval"
            },
            TAP_EMARSYS__SELECT=json.dumps([f"{stream}.*" for stream in STREAMS]),
            TARGET_JSONL_DESTINATION_PATH=str(output),
            TARGET_JSONL_DO_TIMESTAMP_FILE="false",
        )
        meltano(project, env, "config", "set", "tap-emarsys", "export_poll_interval", "0.05")
        meltano(project, env, "run", "tap-emarsys", "target-jsonl")

        streams = TapEmarsys(config=config).streams
        lists = jsonl_rows(output / "contact_lists.jsonl")
        assert sorted(row["id"] for row in lists) == sorted(
            int(item["id"]) for item in streams["contact_list_members"].audiences()
        )
        members = jsonl_rows(output / "contact_list_members.jsonl")
        expected = expected_records(sb, streams["contact_list_members"])
        assert members and all(row.pop("snapshot_at") for row in members)
        for row in expected:
            row.pop("snapshot_at", None)
        key = ("contact_list_id", "contact_id")
        assert sorted(members, key=lambda r: [r[k] for k in key]) == sorted(
            expected, key=lambda r: [r[k] for k in key]
        )
