"""Import direction between the distributions, checked on the source tree.

core ← data ← ml; core ← iot; analysis independent of iot and ml. Concretely:
core imports no sibling; data, iot and analysis never import ml; nothing but
iot imports iot; and no package imports a sibling it does not declare.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import tomllib

from .conftest import COMPONENTS, ROOT

# Namespace portions shipped by each distribution (core also ships the legacy braingeneers.utils).
OWNED: dict[str, set[str]] = {"core": {"core", "utils"}}
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "data": {"core"},
    "iot": {"core"},
    "analysis": {"core"},  # errors and storage (Phy zips); never data, iot or ml
    "ml": {"core", "data"},
}


def _imports(sub: str, src: Path | None = None) -> dict[str, set[str]]:
    """Sibling subpackages imported by ``sub``, with the files that import them."""
    found: dict[str, set[str]] = {}
    src = src or ROOT / "packages" / f"braingeneers-{sub}" / "src"
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == "braingeneers":
                    names = [f"braingeneers.{alias.name}" for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "braingeneers" and len(parts) > 1 and parts[1] not in OWNED.get(sub, {sub}):
                    found.setdefault(parts[1], set()).add(path.name)
    return found


def _declared(sub: str) -> set[str]:
    with (ROOT / "packages" / f"braingeneers-{sub}" / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in requirements}  # type: ignore[union-attr]
    direct = {n.removeprefix("braingeneers-") for n in names if n.startswith("braingeneers-")}
    # Transitive: what a declared sibling declares is available too.
    closure = set(direct)
    for sibling in direct:
        closure |= _declared(sibling)
    return closure


@pytest.mark.parametrize("sub", COMPONENTS)
def test_imports_follow_the_dependency_direction(sub: str) -> None:
    imported = _imports(sub)
    unexpected = {name: files for name, files in imported.items() if name not in ALLOWED[sub]}
    assert not unexpected, f"braingeneers.{sub} imports siblings it must not: {unexpected}"


@pytest.mark.parametrize("sub", COMPONENTS)
def test_every_imported_sibling_is_declared(sub: str) -> None:
    imported = _imports(sub)
    undeclared = {name: files for name, files in imported.items() if name not in _declared(sub)}
    assert not undeclared, f"braingeneers-{sub} imports siblings it does not declare: {undeclared}"


def test_the_checker_finds_every_import_form(tmp_path: Path) -> None:
    """Guard against a checker that finds nothing: plant each import form in a fake package."""
    pkg = tmp_path / "braingeneers" / "data"
    pkg.mkdir(parents=True)
    (pkg / "a.py").write_text("from braingeneers import ml\n")
    (pkg / "b.py").write_text("def f():\n    import braingeneers.iot.messaging\n")
    (pkg / "c.py").write_text("from braingeneers.core.errors import FormatError\nfrom . import a\n")
    (pkg / "d.py").write_text("import braingeneers.data.x\n")
    assert _imports("data", tmp_path) == {"ml": {"a.py"}, "iot": {"b.py"}, "core": {"c.py"}}
