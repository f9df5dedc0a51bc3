"""The distribution: its packages and commands, dependencies that say what the code imports, and
the Meltano Hub plugin definitions (`plugins/`) that install it.

The runtime install carries what the connectors import and nothing the sandbox alone needs
(werkzeug, wsgidav: the `[sandbox]` extra); `backoff` comes from python-backoff only; the lint and
type tools are pinned to exact versions. The definition files (and `meltano.yml`'s connector
entries) say what the connectors' `--about` reports; installing them with Meltano is
tests/e2e/meltano/test_add_from_ref.py.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib
import importlib.metadata
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement

from emarsys_sandbox import launcher
from tests.helpers.plugin_definitions import PLUGINS, expected_files

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT_PACKAGES = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
CONNECTOR_PACKAGES = [package for package in PROJECT_PACKAGES if package != "emarsys_sandbox"]


def requirement_names(requirements: list[str]) -> set[str]:
    """Normalised distribution names of requirement strings (`singer-sdk[msgspec]>=0.54`)."""
    return {Requirement(text).name.lower().replace("_", "-") for text in requirements}


RUNTIME = requirement_names(PYPROJECT["project"]["dependencies"])
EXTRAS = {
    extra: requirement_names(requirements)
    for extra, requirements in PYPROJECT["project"]["optional-dependencies"].items()
}


def third_party_imports(package: str) -> set[str]:
    """Top-level modules `package` imports that are neither stdlib nor the project's own."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    own = set(PROJECT_PACKAGES) | {"__future__", "_typeshed"}  # _typeshed: type checking only
    return {name for name in found - own if name not in sys.stdlib_module_names}


def distributions_of(modules: set[str]) -> dict[str, set[str]]:
    """Module -> the installed distributions that provide it."""
    provided = importlib.metadata.packages_distributions()
    return {
        module: {name.lower().replace("_", "-") for name in provided.get(module, [])}
        for module in modules
    }


@pytest.mark.parametrize("package", PROJECT_PACKAGES)
def test_package_imports(package: str) -> None:
    assert importlib.import_module(package).__doc__


@pytest.mark.parametrize("script", ["tap-emarsys", "target-emarsys", "emarsys-sandbox"])
def test_console_script_installed(script: str) -> None:
    assert shutil.which(script, path=str(Path(sys.executable).parent)) is not None


@pytest.mark.parametrize(
    ("script", "entry"),
    [("tap-emarsys", "tap_emarsys.tap:main"), ("target-emarsys", "target_emarsys.target:main")],
)
def test_connector_scripts_run_as_processes(script: str, entry: str) -> None:
    """Through `emarsys_singer.process_end.run_as_process`, not the SDK's `cli` directly."""
    (point,) = importlib.metadata.entry_points(group="console_scripts", name=script)
    assert point.value == entry
    source = inspect.getsource(point.load())
    assert "run_as_process(" in source


def test_a_command_run_as_a_process_ends_frozen_with_its_exit_status() -> None:
    """Every object is out of the garbage collector's last pass; output and exit status stay."""
    program = (
        "import atexit, gc, click\n"
        "from emarsys_singer.process_end import run_as_process\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 1000))\n"
        "def fail():\n"
        "    print('ran')\n"
        "    raise click.ClickException('stop')\n"
        "run_as_process(click.Command('x', callback=fail))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert proc.stdout.split() == ["ran", "frozen", "True"]
    assert proc.stderr.strip() == "Error: stop"


@pytest.mark.parametrize("package", CONNECTOR_PACKAGES)
def test_connectors_import_only_runtime_dependencies(package: str) -> None:
    """Every third-party module the connectors import comes from a runtime dependency.

    Declared directly, not only through another package (msgspec is singer-sdk's extra, but the
    transport and the target's reader import it themselves).
    """
    for module, distributions in distributions_of(third_party_imports(package)).items():
        assert distributions & RUNTIME, (
            f"{package} imports {module} ({', '.join(sorted(distributions)) or 'not installed'}), "
            "which is not a runtime dependency in pyproject.toml"
        )


def test_sandbox_imports_only_runtime_and_sandbox_extra_dependencies() -> None:
    allowed = RUNTIME | EXTRAS["sandbox"]
    for module, distributions in distributions_of(third_party_imports("emarsys_sandbox")).items():
        assert distributions & allowed, f"emarsys_sandbox imports {module}: not declared"


def test_sandbox_servers_are_an_extra_not_a_runtime_dependency() -> None:
    assert {"werkzeug", "wsgidav"} <= EXTRAS["sandbox"]
    assert not {"werkzeug", "wsgidav"} & RUNTIME
    assert "emarsys-singer" in EXTRAS["dev"], "make, the demo and the tests need [sandbox]"


def test_backoff_comes_from_python_backoff_alone() -> None:
    """`backoff` and python-backoff install the same files; only python-backoff may be there."""
    assert "python-backoff" in RUNTIME and "backoff" not in RUNTIME
    assert importlib.metadata.packages_distributions()["backoff"] == ["python-backoff"]
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("backoff")
    # The module on disk is python-backoff's own copy (its RECORD's hash), not an overwrite.
    distribution = importlib.metadata.distribution("python-backoff")
    record = next(f for f in distribution.files or [] if str(f) == "backoff/__init__.py")
    assert record.hash is not None
    digest = hashlib.new(record.hash.mode, Path(str(record.locate())).read_bytes()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == record.hash.value


@pytest.mark.parametrize("tool", ["ruff", "mypy", "types-requests"])
def test_lint_and_type_tools_pinned_to_the_installed_version(tool: str) -> None:
    pins = [Requirement(text) for text in PYPROJECT["project"]["optional-dependencies"]["dev"]]
    pin = next(requirement for requirement in pins if requirement.name == tool)
    (specifier,) = pin.specifier
    assert specifier.operator == "=="
    assert specifier.version == importlib.metadata.version(tool)


def test_declared_python_versions_include_the_tested_ones() -> None:
    """`.ci/run` tests the oldest and the newest classifier version."""
    classifiers = PYPROJECT["project"]["classifiers"]
    versions = [c.rsplit(" ", 1)[1] for c in classifiers if c.count("::") == 2 and "3." in c]
    assert PYPROJECT["project"]["requires-python"] == f">={versions[0]}"
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert f"{versions[0]}" in ci and f"{versions[-1]}" in ci


def test_installed_requirements_are_consistent() -> None:
    """The dev install (runtime + extras) has no conflicting or missing requirement."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_sandbox_command_without_the_extra_names_it_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without werkzeug the command says what to install (a real venv: tests/e2e/meltano)."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        launcher.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "werkzeug" else real_find_spec(name, *args),
    )
    with pytest.raises(SystemExit) as stopped:
        launcher.main(["serve"])
    message = str(stopped.value.code)
    assert "\n" not in message
    assert "werkzeug" in message and "pip install 'emarsys-singer[sandbox]'" in message


def test_definition_files_and_meltano_yml_are_what_the_connectors_report() -> None:
    """Settings, kinds, defaults, secrets, options and capabilities as `--about` gives them."""
    stale = [
        str(path.relative_to(ROOT))
        for path, text in expected_files().items()
        if path.read_text(encoding="utf-8") != text
    ]
    assert not stale, (
        f"{', '.join(stale)} differ from the connectors' settings: run "
        "`.venv/bin/python -m tests.helpers.plugin_definitions` and review the diff"
    )


def test_definition_files_are_hub_plugin_definitions() -> None:
    """What `meltano add --from-ref` reads: name, namespace, variant, pip_url, executable, ..."""
    for name, (plugin_type, _, path) in PLUGINS.items():
        definition = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert path.parent.name == plugin_type
        assert definition["name"] == name
        assert definition["namespace"] == name.replace("-", "_")
        assert definition["executable"] == name
        for key in ("variant", "label", "description", "pip_url"):
            assert definition[key], f"{path.name}: {key} is empty"
        sensitive = {s["name"] for s in definition["settings"] if s.get("sensitive")}
        assert {"secret", "client_secret"} <= sensitive, path.name
