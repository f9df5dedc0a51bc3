"""The import rules of the project's packages, read from the source with `ast`.

- The two connectors are peers: no module of one imports the other. What both need lives in
  `emarsys_singer` (Singer-side) or `emarsys_api` (the client).
- `emarsys_api` knows nothing of Singer: it imports neither connector, `emarsys_singer` nor
  singer-sdk. `emarsys_singer` imports no connector.
- The sandbox stands alone (it plays Emarsys): it imports none of the project's other packages.
- No import cycle in any package, counting every import: function-level ones and those under
  `if TYPE_CHECKING:` too (a type-only cycle is still two modules that need each other).

And the tests are on one axis: under `tests/` a folder per package, `e2e` (end to end) and
`helpers` (what test modules import; no test module imports a conftest, whose fixtures pytest
finds by itself, nor another test module). Outside `helpers` a folder holds only `test_*.py`,
`conftest.py` and `__init__.py`. The test modules that run Meltano are exactly those
`make test` runs in its serial phase (the Makefile's `MELTANO_TESTS`): they share the
repository's `.meltano/`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("emarsys_api", "emarsys_singer", "tap_emarsys", "target_emarsys", "emarsys_sandbox")
CONNECTORS = ("tap_emarsys", "target_emarsys")

Graph = Mapping[str, set[str]]


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` under `root`."""
    files: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def imported_names(module: str, path: Path, modules: Collection[str] = ()) -> set[str]:
    """Every module the file imports, anywhere in it (relative imports resolved).

    `from a.b import c` is an import of `a.b.c` when that is one of `modules`, else of `a.b`
    (where the name `c` is defined).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                names.add(submodule if submodule in modules else base)
    return names


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (the names that are modules of `packages`).

    Importing `a.b.c` runs `a/__init__` and `a/b/__init__` too, but those are not edges here:
    otherwise every package whose `__init__` re-exports its submodules would be a cycle.
    """
    files: dict[str, Path] = {}
    for package in packages:
        files.update(module_files(root, package))
    return {
        module: {name for name in imported_names(module, path, files) if name in files} - {module}
        for module, path in files.items()
    }


def external_imports(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the top-level names of everything it imports."""
    return {
        module: {name.split(".")[0] for name in imported_names(module, path) if name}
        for module, path in module_files(root, package).items()
    }


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module, each sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        # iterative, so a deep package cannot hit the recursion limit
        work: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def cycle_path(graph: Graph, component: list[str]) -> str:
    """One concrete loop through the component, `a -> b -> a`, for the failure message."""
    members = set(component)
    start = component[0]
    path = [start]
    seen = {start}
    node = start
    while True:
        nxt = sorted(graph[node] & members)
        back = start if start in nxt else None
        step = back or next((n for n in nxt if n not in seen), nxt[0])
        path.append(step)
        if step in seen:
            break
        seen.add(step)
        node = step
    return " -> ".join(path[path.index(path[-1]) :])


def describe(graph: Graph, found: list[list[str]]) -> str:
    return "; ".join(cycle_path(graph, component) for component in found)


GRAPH = import_graph(ROOT, PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    graph = {m: targets for m, targets in GRAPH.items() if m.split(".")[0] == package}
    found = cycles(graph)
    assert not found, (
        f"import cycles in {package} (counting imports under TYPE_CHECKING): "
        f"{describe(graph, found)}; move what both need into a module below them, or pass "
        "the object in instead of importing its class"
    )


def test_no_import_cycle_across_packages() -> None:
    found = cycles(GRAPH)
    assert not found, f"import cycles across packages: {describe(GRAPH, found)}"


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("tap_emarsys", {"target_emarsys"}),
        ("target_emarsys", {"tap_emarsys"}),
        ("emarsys_api", {"tap_emarsys", "target_emarsys", "emarsys_singer", "singer_sdk"}),
        ("emarsys_singer", {"tap_emarsys", "target_emarsys", "emarsys_sandbox"}),
        ("emarsys_sandbox", {"emarsys_api", "emarsys_singer", "tap_emarsys", "target_emarsys"}),
    ],
)
def test_package_imports_only_what_it_may(package: str, forbidden: set[str]) -> None:
    wrong = {
        module: sorted(names & forbidden)
        for module, names in external_imports(ROOT, package).items()
        if names & forbidden
    }
    assert not wrong, f"{package} must not import {sorted(forbidden)}: {wrong}"


# --- the layout of tests/ ---------------------------------------------------------------------

# Test folder -> the package (a folder of the repository) whose tests it holds.
PACKAGE_TEST_FOLDERS = {
    "api": "emarsys_api",
    "tap": "tap_emarsys",
    "target": "target_emarsys",
    "sandbox": "emarsys_sandbox",
    "dbt": "dbt_emarsys",
}
# End to end (what crosses packages or runs Meltano), and what test modules import.
OTHER_TEST_FOLDERS = ("e2e", "helpers")


def stray_test_folders(tests: Path) -> list[str]:
    """Folders right under `tests` that are neither a package's, `e2e` nor `helpers`."""
    allowed = {*PACKAGE_TEST_FOLDERS, *OTHER_TEST_FOLDERS}
    return sorted(
        path.name
        for path in tests.iterdir()
        if path.is_dir() and not path.name.startswith((".", "__")) and path.name not in allowed
    )


TEST_FOLDER_FILES = ("__init__.py", "conftest.py")


def misplaced_modules(tests: Path) -> list[str]:
    """Test modules in `helpers`, and helper modules anywhere else under `tests`.

    Outside `helpers` a folder holds tests, conftest files and `__init__.py` only: a module the
    tests import belongs in `helpers` (so one test folder never reaches into another), which
    holds no test (pytest would collect it there as if it were one of the tests).
    """
    helpers = tests / "helpers"
    wrong = []
    for path in sorted(tests.rglob("*.py")):
        relative = path.relative_to(tests.parent)
        if any(part.startswith((".", "__")) for part in path.relative_to(tests).parts[:-1]):
            continue  # __pycache__, .pytest_cache and the like
        if path.is_relative_to(helpers):
            if path.name.startswith("test_") or path.name == "conftest.py":
                wrong.append(f"{relative} (a test: move it beside its package)")
        elif path.name not in TEST_FOLDER_FILES and not path.name.startswith("test_"):
            wrong.append(f"{relative} (a helper: move it to tests/helpers)")
    return wrong


def imported_test_modules(root: Path, folder: str = "tests") -> dict[str, list[str]]:
    """Module under `folder` -> the test modules (`test_*`) it imports.

    A name counts when it is one of the modules under `folder` (`from tests.dbt.test_x import`,
    `from .test_x import`, `from . import test_x`), starts with `tests.`, or is a bare
    `import test_x` (which pytest's rootdir on `sys.path` can make work).
    """
    files = module_files(root, folder)
    found = {}
    for module, path in files.items():
        names = sorted(
            name
            for name in imported_names(module, path, files)
            if name.split(".")[-1].startswith("test_")
            and (name in files or name.split(".")[0] == folder or "." not in name)
        )
        if names:
            found[module] = names
    return found


def conftest_imports(root: Path, folder: str = "tests") -> dict[str, list[str]]:
    """Module under `folder` -> the conftest modules it imports (`from tests.conftest import`,
    `from .conftest import`, `from . import conftest`, `import conftest`)."""
    files = module_files(root, folder)
    found = {}
    for module, path in files.items():
        names = sorted(
            name for name in imported_names(module, path, files) if "conftest" in name.split(".")
        )
        if names:
            found[module] = names
    return found


#: What `tests/helpers/meltano.py` offers for starting the `meltano` command.
MELTANO_HELPERS = frozenset({"run_meltano", "MELTANO"})


def runs_meltano(path: Path) -> bool:
    """Whether the module starts the `meltano` command: `<bin> / "meltano"`, `["meltano", ...]`,
    `shutil.which("meltano")` (how a test finds the executable next to its Python), or
    `run_meltano` / `MELTANO` imported from `tests.helpers.meltano`."""

    def is_meltano(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and node.value == "meltano"

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "tests.helpers.meltano"
            and any(alias.name in MELTANO_HELPERS for alias in node.names)
        ):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and is_meltano(node.right):
            return True
        if isinstance(node, ast.List) and node.elts and is_meltano(node.elts[0]):
            return True
        if isinstance(node, ast.Call) and any(is_meltano(arg) for arg in node.args):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "which":
                return True
    return False


def makefile_meltano_tests(makefile: Path) -> list[str]:
    """The paths in the Makefile's `MELTANO_TESTS := ...` line."""
    match = re.search(r"^MELTANO_TESTS\s*:=(.*)$", makefile.read_text(encoding="utf-8"), re.M)
    assert match, f"{makefile.name} has no MELTANO_TESTS line"
    return match.group(1).split()


def meltano_phase_misfits(root: Path, serial: list[str]) -> list[str]:
    """Test modules that run Meltano outside the `serial` paths, and ones inside that do not."""
    misfits = []
    for path in sorted((root / "tests").rglob("test_*.py")):
        relative = path.relative_to(root)
        inside = any(relative.is_relative_to(folder) for folder in serial)
        if runs_meltano(path) and not inside:
            misfits.append(f"{relative} runs meltano but is not in MELTANO_TESTS")
        elif inside and not runs_meltano(path):
            misfits.append(f"{relative} is in MELTANO_TESTS but runs no meltano")
    return misfits


def test_tests_have_a_folder_per_package_plus_e2e_and_helpers() -> None:
    missing = [
        f"tests/{folder} ({package})"
        for folder, package in PACKAGE_TEST_FOLDERS.items()
        if not (ROOT / package).is_dir() or not (ROOT / "tests" / folder).is_dir()
    ]
    assert not missing, f"no such package or test folder: {missing}"
    stray = stray_test_folders(ROOT / "tests")
    assert not stray, (
        f"tests/ holds folders {stray}: the tests are on one axis, a folder per package "
        f"({', '.join(PACKAGE_TEST_FOLDERS)}) and {' and '.join(OTHER_TEST_FOLDERS)}; move the "
        "tests beside their package or into tests/e2e, what they import into tests/helpers"
    )
    misplaced = misplaced_modules(ROOT / "tests")
    assert not misplaced, "; ".join(misplaced)


def test_no_test_module_imports_another() -> None:
    found = imported_test_modules(ROOT)
    assert not found, (
        f"{found}: a test module holds tests; move what several test modules share into "
        "tests/helpers"
    )


def test_no_test_module_imports_a_conftest() -> None:
    found = conftest_imports(ROOT)
    assert not found, (
        f"{found}: a conftest holds fixtures (pytest finds them itself); move what a test "
        "imports by name into tests/helpers"
    )


def test_the_meltano_tests_are_the_makefiles_serial_phase() -> None:
    """Phase 1 of `make test` (two workers) ignores MELTANO_TESTS, phase 2 runs them one at a
    time: two `meltano` commands in the repository at once remove each other's run files."""
    makefile = ROOT / "Makefile"
    serial = makefile_meltano_tests(makefile)
    assert serial and all((ROOT / path).is_dir() for path in serial), serial
    text = makefile.read_text(encoding="utf-8")
    assert "-n 2 --dist loadfile \\\n\t\t$(addprefix --ignore=,$(MELTANO_TESTS))" in text, (
        "phase 1 of `make test` must run on 2 workers (--dist loadfile) without MELTANO_TESTS"
    )
    assert "$(BIN)/python -m pytest -q $(MELTANO_TESTS)" in text, (
        "phase 2 of `make test` must run MELTANO_TESTS on one worker"
    )
    misfits = meltano_phase_misfits(ROOT, serial)
    assert not misfits, "; ".join(misfits)


# --- the checker itself, on made-up packages -------------------------------------------------


def write_package(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checker_finds_a_cycle_only_under_type_checking(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "from pkg import b\nclass A: ...\n",
            "pkg/b.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n"
            ),
            "pkg/c.py": "import pkg.a\n",
        },
    )
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.b"] == {"pkg.a"}  # the relative, type-only import is an edge
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert describe(graph, cycles(graph)) == "pkg.a -> pkg.b -> pkg.a"


def test_checker_finds_a_function_level_cycle_and_passes_a_tree(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low.py": "X = 1\n",
            "pkg/mid.py": "from pkg.low import X\n",
            "pkg/top.py": "from pkg import mid, low\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "def f():\n    from ..top import mid\n",
        },
    )
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.sub.deep"] == {"pkg.top"}
    assert cycles(graph) == []
    (tmp_path / "pkg/low.py").write_text("def g():\n    import pkg.sub.deep\n")
    assert cycles(import_graph(tmp_path, ["pkg"])) == [
        ["pkg.low", "pkg.mid", "pkg.sub.deep", "pkg.top"]
    ]


def test_checker_sees_a_forbidden_import_in_a_function(tmp_path: Path) -> None:
    write_package(tmp_path, {"pkg/__init__.py": "", "pkg/m.py": "def f():\n    import other.x\n"})
    assert external_imports(tmp_path, "pkg")["pkg.m"] == {"other"}


def test_layout_checker_finds_stray_folders_and_misplaced_modules(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    write_package(
        tmp_path,
        {
            "tests/api/test_a.py": "",
            "tests/e2e/test_b.py": "",
            "tests/e2e/meltano/test_c.py": "",
            "tests/e2e/conftest.py": "",
            "tests/helpers/h.py": "",
            "tests/__pycache__/x.py": "",
        },
    )
    assert stray_test_folders(tests) == []
    assert misplaced_modules(tests) == []
    write_package(
        tmp_path,
        {
            "tests/warehouse/test_d.py": "",
            "tests/e2e/meltano/pipeline.py": "",
            "tests/helpers/test_e.py": "",
            "tests/helpers/conftest.py": "",
            "tests/dbt/truth.py": "",
            "tests/api/__init__.py": "",
            "tests/api/conftest.py": "",
            "tests/stray.py": "",
        },
    )
    assert stray_test_folders(tests) == ["warehouse"]
    assert misplaced_modules(tests) == [
        "tests/dbt/truth.py (a helper: move it to tests/helpers)",
        "tests/e2e/meltano/pipeline.py (a helper: move it to tests/helpers)",
        "tests/helpers/conftest.py (a test: move it beside its package)",
        "tests/helpers/test_e.py (a test: move it beside its package)",
        "tests/stray.py (a helper: move it to tests/helpers)",
    ]


def test_conftest_import_checker_finds_every_spelling(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "tests/conftest.py": "X = 1\n",
            "tests/api/conftest.py": "Y = 1\n",
            "tests/api/test_ok.py": "from tests.helpers.h import Z\nimport pytest\n",
            "tests/api/test_absolute.py": "from tests.conftest import X\n",
            "tests/api/test_relative.py": "from .conftest import Y\n",
            "tests/api/test_from_package.py": "def f():\n    from . import conftest\n",
            "tests/api/test_bare.py": "import conftest\n",
            "tests/helpers/h.py": "Z = 1\n",
        },
    )
    assert conftest_imports(tmp_path) == {
        "tests.api.test_absolute": ["tests.conftest"],
        "tests.api.test_bare": ["conftest"],
        "tests.api.test_from_package": ["tests.api.conftest"],
        "tests.api.test_relative": ["tests.api.conftest"],
    }


def test_test_module_import_checker_finds_every_spelling(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "tests/__init__.py": "",
            "tests/dbt/__init__.py": "",
            "tests/dbt/test_duck.py": "FIGURES = []\n",
            "tests/dbt/test_absolute.py": "from tests.dbt.test_duck import FIGURES\n",
            "tests/dbt/test_relative.py": "from .test_duck import FIGURES\n",
            "tests/dbt/test_from_package.py": "def f():\n    from . import test_duck\n",
            "tests/dbt/test_bare.py": "import test_duck\n",
            "tests/dbt/test_ok.py": (
                "from singer_sdk.testing import get_target_test_class\n"
                "from tests.helpers.dbt_truth import FIGURES\n"
            ),
            "tests/helpers/dbt_truth.py": "FIGURES = []\n",
        },
    )
    assert imported_test_modules(tmp_path) == {
        "tests.dbt.test_absolute": ["tests.dbt.test_duck"],
        "tests.dbt.test_bare": ["test_duck"],
        "tests.dbt.test_from_package": ["tests.dbt.test_duck"],
        "tests.dbt.test_relative": ["tests.dbt.test_duck"],
    }


def test_meltano_checker_sees_each_way_of_starting_it(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "tests/e2e/meltano/test_path.py": 'MELTANO = str(BIN / "meltano")\n',
            "tests/e2e/meltano/test_list.py": 'subprocess.run(["meltano", "run"])\n',
            "tests/e2e/test_which.py": 'shutil.which("meltano")\n',
            "tests/e2e/meltano/test_none.py": 'NAME = "meltano"\nprint("meltano.yml")\n',
            "tests/e2e/meltano/test_helper.py": "from tests.helpers.meltano import run_meltano\n",
            "tests/dbt/test_env_only.py": "from tests.helpers.meltano import clean_environ\n",
            "tests/e2e/test_helper_outside.py": (
                "from tests.helpers.meltano import ROOT, run_meltano\n"
            ),
        },
    )
    assert meltano_phase_misfits(tmp_path, ["tests/e2e/meltano"]) == [
        "tests/e2e/meltano/test_none.py is in MELTANO_TESTS but runs no meltano",
        "tests/e2e/test_helper_outside.py runs meltano but is not in MELTANO_TESTS",
        "tests/e2e/test_which.py runs meltano but is not in MELTANO_TESTS",
    ]
