"""Per-distribution ``A.B.C.N`` versions computed from git history.

Standard library only: hatchling's built-in ``code`` version source loads this
file while building a package, so it must work in an isolated build
environment that has nothing but hatchling installed.

Rules (documented in ``docs/releasing.md``):

* The release of distribution ``D`` at version ``A.B.C`` is the git tag
  ``D/vA.B.C``.  Clones may lack tags, so ``tools/releases.json`` records the
  commit of each release too; a tag wins over the table when both exist.
* At the release commit the version is ``A.B.C``.  After it, it is
  ``A.B.C.N`` where ``N`` counts the first-parent commits since the release
  that touched ``packages/D/`` or this file.  Commits to other packages do not
  change ``D``'s version.
* Uncommitted changes to those paths add ``+dirty``.
* No release yet gives ``0.0.0.N`` (``N`` counted from the root commit).
* A shallow clone is an error: the count would be wrong.
* ``BRAINGENEERS_PRETEND_VERSION_<DIST>`` (``DIST`` upper-cased, ``-`` as
  ``_``) forces a version, e.g. ``BRAINGENEERS_PRETEND_VERSION_BRAINGENEERS_DATA``.
* ``BRAINGENEERS_VERSION_STRICT=1`` (releases, CI) turns every fallback into an
  error: no git, no release, or a dirty tree.

Run ``python tools/braingeneers_version.py [DIST ...]`` to print versions, or
``python tools/braingeneers_version.py --release-commit DIST VERSION`` to print
the commit of a release.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RELEASES_FILE = REPO / "tools" / "releases.json"
# Paths whose changes alter every built artefact, so they bump every package.
SHARED_PATHS = ("tools/braingeneers_version.py",)
_RELEASE = re.compile(r"^\d+\.\d+\.\d+$")
_PEP440_PRETEND = re.compile(r"^\d+(\.\d+)*([a-z0-9.+-]*)$", re.IGNORECASE)


class VersionError(RuntimeError):
    """The version of a distribution cannot be computed reliably."""


def _strict() -> bool:
    return os.environ.get("BRAINGENEERS_VERSION_STRICT", "").lower() in {"1", "true", "yes"}


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, ["git", *args], proc.stdout, proc.stderr)
    return proc.stdout.strip()


def pretend_variable(dist: str) -> str:
    """Name of the environment variable that forces ``dist``'s version."""
    return "BRAINGENEERS_PRETEND_VERSION_" + re.sub(r"\W", "_", dist).upper()


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def release_table() -> dict[str, dict[str, str]]:
    """Read ``tools/releases.json``: ``{dist: {version: commit}}``."""
    if not RELEASES_FILE.is_file():
        return {}
    data = json.loads(RELEASES_FILE.read_text(encoding="utf-8"))
    table: dict[str, dict[str, str]] = {}
    for dist, releases in data.items():
        if dist.startswith("_"):
            continue  # comments
        table[dist] = {str(v): str(c) for v, c in releases.items()}
    return table


def _is_ancestor(commit: str) -> bool:
    try:
        _git("merge-base", "--is-ancestor", commit, "HEAD")
    except subprocess.CalledProcessError:
        return False
    return True


def releases(dist: str) -> dict[str, str]:
    """All known releases of ``dist`` reachable from HEAD: ``{version: commit}``.

    Tags ``dist/vA.B.C`` take precedence over entries of ``tools/releases.json``.
    """
    found: dict[str, str] = {}
    for version, commit in release_table().get(dist, {}).items():
        if _RELEASE.match(version) and _is_ancestor(commit):
            found[version] = _git("rev-parse", f"{commit}^{{commit}}")
    for tag in _git("tag", "--merged", "HEAD", "--list", f"{dist}/v*").splitlines():
        version = tag[len(dist) + 2 :]
        if _RELEASE.match(version):
            found[version] = _git("rev-parse", f"{tag}^{{commit}}")
    return found


def release_commit(dist: str, version: str) -> str:
    """Commit of release ``version`` of ``dist``: its tag, else the table entry."""
    try:
        return _git("rev-parse", f"{dist}/v{version}^{{commit}}")
    except subprocess.CalledProcessError:
        pass
    commit = release_table().get(dist, {}).get(version)
    if commit is None:
        raise VersionError(
            f"{dist} {version}: no tag {dist}/v{version} and no entry in {RELEASES_FILE}; "
            "fetch tags (git fetch --tags) or add the release to the table"
        )
    return _git("rev-parse", f"{commit}^{{commit}}")


def version(dist: str) -> str:
    """Return the version of distribution ``dist`` (e.g. ``"braingeneers-data"``)."""
    pretend = os.environ.get(pretend_variable(dist))
    if pretend:
        if not _PEP440_PRETEND.match(pretend):
            raise VersionError(f"{pretend_variable(dist)}={pretend!r} is not a version")
        return pretend
    if not (REPO / "packages" / dist).is_dir():
        raise VersionError(f"unknown distribution {dist!r}: no folder packages/{dist}")
    try:
        shallow = _git("rev-parse", "--is-shallow-repository") == "true"
    except (OSError, subprocess.CalledProcessError) as exc:
        message = (
            f"cannot compute the version of {dist}: git history unavailable ({exc}); "
            f"build from a git clone or set {pretend_variable(dist)}"
        )
        if _strict():
            raise VersionError(message) from exc
        warnings.warn(message + "; using 0.0.0", stacklevel=2)
        return "0.0.0"
    if shallow:
        raise VersionError(
            f"cannot compute the version of {dist} in a shallow clone: fetch the full history "
            "(git fetch --unshallow, or actions/checkout with fetch-depth: 0)"
        )
    known = releases(dist)
    paths = ("--", f"packages/{dist}", *SHARED_PATHS)
    if known:
        base = max(known, key=_key)
        count = int(_git("rev-list", "--count", "--first-parent", f"{known[base]}..HEAD", *paths))
    else:
        if _strict():
            raise VersionError(f"{dist} has no release: tag it ({dist}/vA.B.C) before a strict build")
        base = "0.0.0"
        count = int(_git("rev-list", "--count", "--first-parent", "HEAD", *paths))
    result = base if count == 0 else f"{base}.{count}"
    if _git("status", "--porcelain", "--untracked-files=no", *paths):
        if _strict():
            raise VersionError(f"{dist} has uncommitted changes; commit them before a strict build")
        result += "+dirty"
    return result


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--release-commit"] and len(argv) == 3:
        print(release_commit(argv[1], argv[2]))
        return 0
    dists = argv or sorted(p.name for p in (REPO / "packages").iterdir() if p.is_dir())
    for dist in dists:
        print(f"{dist} {version(dist)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_main(sys.argv[1:]))
    except VersionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
