"""The import rules of the project's packages, read from the source with `ast`.

- The two connectors are peers: no module of one imports the other. What both need lives in
  `emarsys_singer` (Singer-side) or `emarsys_api` (the client).
- `emarsys_api` knows nothing of Singer: it imports neither connector, `emarsys_singer` nor
  singer-sdk. `emarsys_singer` imports no connector.
- The sandbox stands alone (it plays Emarsys): it imports none of the project's other packages.
- No import cycle in any package, counting every import: function-level ones and those under
  `if TYPE_CHECKING:` too (a type-only cycle is still two modules that need each other).
"""

from __future__ import annotations

import ast
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
