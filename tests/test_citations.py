"""What the repository cites is in the repository: no comment, docstring or page names a document
it does not hold ("reference 5.1", a design or style page kept elsewhere), every `docs/<page>.md`
named exists, and every `§N` or `§N.M` (all of them cite `docs/emarsys-api.md`) is a section (or,
in §12, a numbered item) of that page."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".sql", ".toml", ".txt", ".cfg", ".json"}
ELSEWHERE = re.compile(r"\breference \d+(?:\.\d+)?\b|\bDESIGN\.md\b|\bSTYLE\.md\b|\.\./shared\b")
PAGE = re.compile(r"(?<![\w/.-])docs/([\w.-]+\.md)")  # the repository's docs/, not a URL's
SECTION = re.compile(r"§\s?(\d+(?:\.\d+)?)")  # every § in the repository is docs/emarsys-api.md's


def tracked_text_files(root: Path) -> list[Path]:
    """The files git tracks under `root` (the test is skipped outside a git checkout)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.decode(errors='replace').strip()}")
    paths = [root / name for name in listed.stdout.decode().split("\0") if name]
    return [p for p in paths if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name == "Makefile")]


def api_sections(page: str) -> set[str]:
    """`N` and `N.M` of each heading, and `N.k` of each numbered item under `## N.`."""
    found = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", page, re.M))
    section = None
    for line in page.splitlines():
        if heading := re.match(r"^## (\d+)\.", line):
            section = heading.group(1)
        elif (item := re.match(r"^(\d+)\. ", line)) and section is not None:
            found.add(f"{section}.{item.group(1)}")
    return found


def citation_problems(root: Path) -> list[str]:
    sections = api_sections((root / "docs" / "emarsys-api.md").read_text(encoding="utf-8"))
    problems = []
    for path in tracked_text_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(root)
        if path.name == Path(__file__).name:
            continue  # names the patterns it looks for
        problems += [f"{where}: cites {m.group()!r}" for m in ELSEWHERE.finditer(text)]
        problems += [
            f"{where}: no such page {m.group()}"
            for m in PAGE.finditer(text)
            if not (root / "docs" / m.group(1)).is_file()
        ]
        problems += [
            f"{where}: docs/emarsys-api.md has no §{m.group(1)}"
            for m in SECTION.finditer(text)
            if m.group(1) not in sections
        ]
    return problems


def test_everything_cited_is_in_the_repository() -> None:
    problems = citation_problems(ROOT)
    assert not problems, "; ".join(problems[:20])


def test_the_checker_finds_each_kind_of_citation(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "emarsys-api.md").write_text(
        "## 5. Status\n### 5.1 Ready\n## 12. X\n1. a\n"
    )
    (tmp_path / "a.py").write_text(
        "# see reference 5.1\n# docs/gone.md\n"
        "# docs/emarsys-api.md §5.1, §12.1 and docs/emarsys-api.md §5.3, §12.2\n"
        "# https://github.com/x/y/blob/main/docs/elsewhere.md is a URL\n"
    )
    (tmp_path / "with space.md").write_text("(§6)")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    assert citation_problems(tmp_path) == [
        "a.py: cites 'reference 5.1'",
        "a.py: no such page docs/gone.md",
        "a.py: docs/emarsys-api.md has no §5.3",
        "a.py: docs/emarsys-api.md has no §12.2",
        "with space.md: docs/emarsys-api.md has no §6",
    ]
