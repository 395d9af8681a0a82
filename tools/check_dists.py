"""Check the sdists and wheels in a folder built by ``nox -s build``.

Usage: ``python tools/check_dists.py DIST_DIR [--expect DIST=VERSION ...]``

Checks, for each of the six distributions:

* exactly one wheel and one sdist, of the same version;
* a component's wheel holds only ``braingeneers/<sub>/...`` plus its
  ``.dist-info``, including ``braingeneers/<sub>/py.typed``; the meta-package's
  wheel holds only ``braingeneers/demo/`` (the ``braingeneers demo`` command);
* no ``braingeneers/__init__.py`` and no ``braingeneers/py.typed`` in any wheel
  or sdist (the namespace must stay implicit);
* with ``BRAINGENEERS_VERSION_STRICT=1``, no ``+dirty`` local version;
* ``--expect`` pins a distribution's version (the release job passes the tag).

Exits 1 and lists every problem when a check fails.
"""

from __future__ import annotations

import os
import sys
import tarfile
import zipfile
from pathlib import Path

COMPONENTS = {
    "braingeneers-core": "core",
    "braingeneers-data": "data",
    "braingeneers-iot": "iot",
    "braingeneers-analysis": "analysis",
    "braingeneers-ml": "ml",
}
# Extra namespace portions a distribution owns besides its own subpackage.
EXTRA_PORTIONS = {"braingeneers-core": ("utils",)}  # the legacy braingeneers.utils compatibility layer
META = "braingeneers"
FORBIDDEN = ("braingeneers/__init__.py", "braingeneers/py.typed")


def _norm(dist: str) -> str:
    return dist.replace("-", "_")


def check_wheel(path: Path, dist: str) -> list[str]:
    """Return the problems found in one wheel."""
    problems: list[str] = []
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    code = [n for n in names if ".dist-info/" not in n.split("/", 1)[0] + "/"]
    for name in names:
        if name in FORBIDDEN:
            problems.append(f"{path.name}: ships {name}, which turns the namespace into a regular package")
    if dist == META:
        # The meta-package holds only the `braingeneers demo` command, which needs several components.
        outside = [n for n in code if not n.startswith("braingeneers/demo/")]
        if outside:
            problems.append(f"{path.name}: the meta-package may hold only braingeneers/demo/: {outside[:5]}")
        return problems
    sub = COMPONENTS[dist]
    owned = (sub, *EXTRA_PORTIONS.get(dist, ()))
    outside = [n for n in code if not n.startswith(tuple(f"braingeneers/{p}/" for p in owned))]
    if outside:
        problems.append(f"{path.name}: files outside braingeneers/{sub}/: {outside[:5]}")
    for required in (f"braingeneers/{sub}/__init__.py", f"braingeneers/{sub}/py.typed"):
        if required not in names:
            problems.append(f"{path.name}: missing {required}")
    return problems


def check_sdist(path: Path) -> list[str]:
    """Return the problems found in one sdist."""
    problems: list[str] = []
    with tarfile.open(path) as archive:
        names = archive.getnames()
    root = names[0].split("/", 1)[0] if names else ""
    if f"{root}/PKG-INFO" not in names:
        problems.append(f"{path.name}: no PKG-INFO, so a wheel cannot be built from it without git")
    for name in names:
        inner = name.split("/", 1)[1] if "/" in name else ""
        if inner in (f"src/{f}" for f in FORBIDDEN):
            problems.append(f"{path.name}: ships {inner}")
    return problems


def check(folder: Path, expected: dict[str, str]) -> list[str]:
    """Return every problem found in ``folder``."""
    problems: list[str] = []
    strict = os.environ.get("BRAINGENEERS_VERSION_STRICT", "").lower() in {"1", "true", "yes"}
    for dist in [*COMPONENTS, META]:
        wheels = sorted(folder.glob(f"{_norm(dist)}-*.whl"))
        sdists = sorted(folder.glob(f"{_norm(dist)}-*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            problems.append(
                f"{dist}: expected one wheel and one sdist, found {len(wheels)} and {len(sdists)}"
            )
            continue
        wheel_version = wheels[0].name.split("-")[1]
        sdist_version = sdists[0].name[len(_norm(dist)) + 1 : -len(".tar.gz")]
        if wheel_version != sdist_version:
            problems.append(f"{dist}: wheel {wheel_version} and sdist {sdist_version} differ")
        if strict and "+" in wheel_version:
            problems.append(f"{dist}: local version {wheel_version} in a strict build")
        if dist in expected and wheel_version != expected[dist]:
            problems.append(f"{dist}: built {wheel_version}, expected {expected[dist]}")
        problems += check_wheel(wheels[0], dist)
        problems += check_sdist(sdists[0])
    return problems


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    if not argv:
        print(__doc__)
        return 2
    folder = Path(argv[0])
    expected: dict[str, str] = {}
    rest = argv[1:]
    while rest:
        if rest[0] != "--expect" or len(rest) < 2 or "=" not in rest[1]:
            print(f"bad arguments: {rest}", file=sys.stderr)
            return 2
        name, value = rest[1].split("=", 1)
        expected[name] = value
        rest = rest[2:]
    problems = check(folder, expected)
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    if not problems:
        print(f"ok: 6 wheels and 6 sdists in {folder} passed the checks")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
