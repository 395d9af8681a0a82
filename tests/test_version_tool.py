"""Per-package versions from tags, checked in throw-away git repositories.

The repository's own tracked files are copied into a temporary repository,
then tags and commits are made there and the real build (``uv build``, which
runs hatchling's ``code`` version source on ``tools/braingeneers_version.py``)
must name every artefact by the tag rule.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

DISTS = [
    "braingeneers-core",
    "braingeneers-data",
    "braingeneers-iot",
    "braingeneers-analysis",
    "braingeneers-ml",
    "braingeneers",
]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def _env_without_overrides() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BRAINGENEERS_PRETEND_VERSION") and k != "BRAINGENEERS_VERSION_STRICT"
    }


def _versions(repo: Path, *dists: str, env: dict[str, str] | None = None) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, str(repo / "tools" / "braingeneers_version.py"), *dists],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env or _env_without_overrides(),
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip())
    return dict(line.split() for line in proc.stdout.splitlines())


def _touch(repo: Path, dist: str, name: str = "change.txt") -> None:
    path = repo / "packages" / dist / name
    path.write_text(path.read_text() + "x\n" if path.exists() else "x\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"change {dist}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A new git repository holding this repository's tracked files, without its history or table."""
    target = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    if files.returncode != 0 or not files.stdout:
        pytest.fail("the repository-level tests need a git checkout of the project")
    for rel in files.stdout.splitlines():
        source = ROOT / rel
        if source.is_file() and not rel.startswith("tools/releases.json"):
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    _git(target, "init", "-q", "-b", "main")
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "initial")
    return target


def test_no_tag_gives_0_0_0_n(repo: Path) -> None:
    assert _versions(repo, "braingeneers-data") == {"braingeneers-data": "0.0.0.1"}
    _touch(repo, "braingeneers-data")
    _touch(repo, "braingeneers-core")
    assert _versions(repo, "braingeneers-data", "braingeneers-core") == {
        "braingeneers-data": "0.0.0.2",
        "braingeneers-core": "0.0.0.2",
    }


def test_tags_scope_counts_to_each_package_and_builds_follow(repo: Path, tmp_path: Path) -> None:
    for dist in DISTS:
        _git(repo, "tag", f"{dist}/v0.4.0")
    assert set(_versions(repo, *DISTS).values()) == {"0.4.0"}
    _touch(repo, "braingeneers-data")
    _touch(repo, "braingeneers-data")
    _touch(repo, "braingeneers-core")
    _touch(repo, "braingeneers-iot")
    _git(repo, "tag", "braingeneers-iot/v0.5.0")
    _touch(repo, "braingeneers-analysis")  # not tagged again: 0.4.0.1
    expected = {
        "braingeneers-core": "0.4.0.1",
        "braingeneers-data": "0.4.0.2",
        "braingeneers-iot": "0.5.0",
        "braingeneers-analysis": "0.4.0.1",
        "braingeneers-ml": "0.4.0",
        "braingeneers": "0.4.0",
    }
    assert _versions(repo, *DISTS) == expected
    # The real build names every artefact by the same rule (wheels built from the sdists).
    from uv import find_uv_bin

    out = tmp_path / "out"
    for dist in DISTS:
        subprocess.run(
            [
                find_uv_bin(),
                "build",
                "--no-sources",
                "--quiet",
                "--out-dir",
                str(out),
                str(repo / "packages" / dist),
            ],
            check=True,
            capture_output=True,
            timeout=300,
            env=_env_without_overrides(),
        )
    built = sorted(p.name for p in out.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    want = sorted(
        name
        for dist, version in expected.items()
        for name in (
            f"{dist.replace('-', '_')}-{version}-py3-none-any.whl",
            f"{dist.replace('-', '_')}-{version}.tar.gz",
        )
    )
    assert built == want


def test_version_tool_change_bumps_everyone_and_dirty_is_marked(repo: Path) -> None:
    for dist in DISTS:
        _git(repo, "tag", f"{dist}/v1.2.3")
    tool = repo / "tools" / "braingeneers_version.py"
    tool.write_text(tool.read_text() + "\n# comment\n")
    assert _versions(repo, "braingeneers-ml")["braingeneers-ml"] == "1.2.3+dirty"
    _git(repo, "commit", "-q", "-am", "touch the version tool")
    assert set(_versions(repo, *DISTS).values()) == {"1.2.3.1"}
    (repo / "packages" / "braingeneers-data" / "README.md").write_text("edited\n")
    versions = _versions(repo, "braingeneers-data", "braingeneers-core")
    assert versions == {"braingeneers-data": "1.2.3.1+dirty", "braingeneers-core": "1.2.3.1"}


def test_highest_reachable_release_wins_and_table_stands_in_for_missing_tags(repo: Path) -> None:
    first = _git(repo, "rev-parse", "HEAD")
    _touch(repo, "braingeneers-core")
    second = _git(repo, "rev-parse", "HEAD")
    (repo / "tools" / "releases.json").write_text(
        f'{{"braingeneers-core": {{"0.4.0": "{first}", "0.5.0": "{second}"}}}}'
    )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "record releases")
    assert _versions(repo, "braingeneers-core") == {"braingeneers-core": "0.5.0"}
    _touch(repo, "braingeneers-core")
    assert _versions(repo, "braingeneers-core") == {"braingeneers-core": "0.5.0.1"}
    # A tag for a later release beats the table.
    _git(repo, "tag", "braingeneers-core/v0.6.0")
    assert _versions(repo, "braingeneers-core") == {"braingeneers-core": "0.6.0"}


def test_strict_mode_and_pretend_variable(repo: Path) -> None:
    strict = {**_env_without_overrides(), "BRAINGENEERS_VERSION_STRICT": "1"}
    with pytest.raises(RuntimeError, match="no release"):
        _versions(repo, "braingeneers-data", env=strict)
    _git(repo, "tag", "braingeneers-data/v0.4.0")
    assert _versions(repo, "braingeneers-data", env=strict) == {"braingeneers-data": "0.4.0"}
    (repo / "packages" / "braingeneers-data" / "README.md").write_text("edited\n")
    with pytest.raises(RuntimeError, match="uncommitted"):
        _versions(repo, "braingeneers-data", env=strict)
    pretend = {**_env_without_overrides(), "BRAINGENEERS_PRETEND_VERSION_BRAINGENEERS_DATA": "9.9.9"}
    assert _versions(repo, "braingeneers-data", "braingeneers-core", env=pretend) == {
        "braingeneers-data": "9.9.9",
        "braingeneers-core": "0.0.0.1",
    }


def test_shallow_clone_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    _touch(repo, "braingeneers-data")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)], check=True, capture_output=True
    )
    with pytest.raises(RuntimeError, match="shallow clone"):
        _versions(clone, "braingeneers-data")


def test_sdist_builds_a_wheel_without_git_or_tools(repo: Path, tmp_path: Path) -> None:
    """Unpacked outside any repository, the sdist builds a wheel of the same version (PKG-INFO)."""
    import tarfile

    from uv import find_uv_bin

    _git(repo, "tag", "braingeneers-core/v0.7.0")
    _touch(repo, "braingeneers-core")
    sdists = tmp_path / "sdist"
    subprocess.run(
        [
            find_uv_bin(),
            "build",
            "--no-sources",
            "--sdist",
            "--quiet",
            "--out-dir",
            str(sdists),
            str(repo / "packages" / "braingeneers-core"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env=_env_without_overrides(),
    )
    (sdist,) = sdists.glob("*.tar.gz")
    assert sdist.name == "braingeneers_core-0.7.0.1.tar.gz"
    unpacked = tmp_path / "elsewhere"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (source,) = unpacked.iterdir()
    wheels = tmp_path / "wheels"
    subprocess.run(
        [find_uv_bin(), "build", "--no-sources", "--wheel", "--quiet", "--out-dir", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
        env=_env_without_overrides(),
    )
    assert [p.name for p in wheels.glob("*.whl")] == ["braingeneers_core-0.7.0.1-py3-none-any.whl"]
