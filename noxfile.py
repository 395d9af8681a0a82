"""Build, test and check every distribution of the braingeneers monorepo.

Sessions (``nox -l`` lists them):

* ``build`` — every sdist and wheel into ``dist/`` (wheels built from the
  sdists), then ``tools/check_dists.py`` and ``twine check``.
* ``tests(package, siblings)`` — a fresh venv holding only that package's wheel,
  its declared dependencies and its ``test`` dependency group, running
  ``packages/<dist>/tests``. ``siblings='head'`` takes sibling distributions
  from ``dist/``; ``siblings='floor'`` builds each sibling the package declares
  at the lowest version it allows, from the repository's own history.
* ``all`` — ``braingeneers[all]`` from ``dist/`` plus the repository-level ``tests/``.
* ``lint``, ``typecheck``, ``docs``, ``bench``, ``demo``.
* ``ci`` — what ``.ci/run`` and the README's test command run.

Every install passes ``--no-sources`` (``UV_NO_SOURCES=1``) so that uv never
silently replaces a sibling wheel with the in-tree workspace source.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import nox
import tomllib

ROOT = Path(__file__).resolve().parent
# BRAINGENEERS_DIST_DIR lets two nox runs share a checkout without clobbering
# each other's artefacts (combine with ``nox --envdir``).
DIST = Path(os.environ.get("BRAINGENEERS_DIST_DIR", ROOT / "dist")).resolve()
FLOOR_DIST = DIST.parent / f"{DIST.name}-floor"
WORK = ROOT / ".nox" / f"_work-{DIST.name}"

COMPONENTS = {
    "core": "braingeneers-core",
    "data": "braingeneers-data",
    "iot": "braingeneers-iot",
    "analysis": "braingeneers-analysis",
    "ml": "braingeneers-ml",
}
META = "braingeneers"
ALL_DISTS = [*COMPONENTS.values(), META]
# The only torch these sessions may install: a CPU build is on disk on the lab's
# CI machines (found through PIP_FIND_LINKS); an unpinned torch would pull CUDA.
TORCH_PIN = "torch==2.13.0"
# A rebuilt wheel can keep its version (``+dirty``): always reinstall our own
# distributions so a reused venv never tests stale code.
_REINSTALL = [arg for dist in ALL_DISTS for arg in ("--reinstall-package", dist)]

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["ci"]

os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
os.environ["UV_NO_SOURCES"] = "1"


def _find_links() -> list[str]:
    """``--find-links`` arguments for uv from pip's ``PIP_FIND_LINKS`` (uv ignores it)."""
    args: list[str] = []
    for location in os.environ.get("PIP_FIND_LINKS", "").split():
        args += ["--find-links", location]
    return args


def _wheel(dist: str, folder: Path = DIST) -> Path:
    pattern = re.sub(r"[-.]", "_", dist) + "-*.whl"
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise RuntimeError(
            f"expected one {pattern} in {folder}, found {[p.name for p in found]}: run `nox -s build`"
        )
    return found[0]


def _wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def _pyproject(dist: str) -> dict[str, object]:
    with (ROOT / "packages" / dist / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def _sibling_floors(dist: str) -> dict[str, str]:
    """Sibling distributions ``dist`` depends on, with the lowest version each allows."""
    project = _pyproject(dist)["project"]
    assert isinstance(project, dict)
    floors: dict[str, str] = {}
    for requirement in project.get("dependencies", []):
        match = re.match(r"^\s*(braingeneers(?:-[a-z]+)?)\s*>=\s*([0-9.]+)", requirement)
        if match and match.group(1) in ALL_DISTS:
            parts = match.group(2).split(".")
            floors[match.group(1)] = ".".join([*parts, "0", "0", "0"][:3])
    return floors


def _constraints(session: nox.Session, name: str, pins: dict[str, str]) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"constraints-{name}.txt"
    lines = [TORCH_PIN, *(f"{dist}=={ver}" for dist, ver in sorted(pins.items()))]
    path.write_text("\n".join(lines) + "\n")
    session.log("constraints: " + ", ".join(lines))
    return path


def _head_pins() -> dict[str, str]:
    return {dist: _wheel_version(_wheel(dist)) for dist in ALL_DISTS}


def _install_all(session: nox.Session, *extra: str) -> None:
    """Install ``braingeneers[all]`` with every sibling pinned to its ``dist/`` wheel."""
    constraints = _constraints(session, "all", _head_pins())
    session.install(
        *_REINSTALL,
        "--find-links",
        str(DIST),
        *_find_links(),
        "-c",
        str(constraints),
        "braingeneers[all]",
        *extra,
    )


def _build_floor(session: nox.Session, dist: str, version: str) -> Path:
    """Build ``dist`` at release ``version`` from git history into ``dist-floor/``."""
    out = FLOOR_DIST / f"{dist}-{version}"
    if out.is_dir():
        try:
            return _wheel(dist, out)
        except RuntimeError:
            shutil.rmtree(out)
    commit = session.run(
        "python",
        str(ROOT / "tools" / "braingeneers_version.py"),
        "--release-commit",
        dist,
        version,
        silent=True,
        external=True,
    )
    assert isinstance(commit, str)
    commit = commit.strip()
    worktree = WORK / f"worktree-{dist}-{version}"
    if worktree.exists():
        session.run(
            "git", "worktree", "remove", "--force", str(worktree), external=True, success_codes=[0, 128]
        )
        shutil.rmtree(worktree, ignore_errors=True)
    session.run("git", "worktree", "prune", external=True)
    session.run("git", "worktree", "add", "--detach", str(worktree), commit, external=True)
    try:
        pretend = "BRAINGENEERS_PRETEND_VERSION_" + re.sub(r"\W", "_", dist).upper()
        session.run(
            "uv",
            "build",
            "--no-sources",
            "--wheel",
            "--out-dir",
            str(out),
            str(worktree / "packages" / dist),
            env={pretend: version},
            external=True,
        )
    finally:
        session.run("git", "worktree", "remove", "--force", str(worktree), external=True)
    return _wheel(dist, out)


@nox.session
def build(session: nox.Session) -> None:
    """Build every sdist and wheel into dist/ and check them."""
    session.install("twine>=6", "packaging>=24")
    shutil.rmtree(DIST, ignore_errors=True)
    for dist in ALL_DISTS:
        # No --sdist/--wheel flags: uv builds the sdist, then the wheel from the
        # unpacked sdist, which proves that an sdist builds without git or tools/.
        session.run(
            "uv",
            "build",
            "--no-sources",
            "--out-dir",
            str(DIST),
            str(ROOT / "packages" / dist),
            external=True,
        )
    expect: list[str] = []
    if os.environ.get("BRAINGENEERS_VERSION_STRICT", "").lower() in {"1", "true", "yes"}:
        # A strict (release) build at a tagged commit must produce exactly the tagged versions.
        tags = session.run("git", "tag", "--points-at", "HEAD", silent=True, external=True)
        for tag in str(tags).split():
            dist, _, version = tag.partition("/v")
            if dist in ALL_DISTS:
                expect += ["--expect", f"{dist}={version}"]
    session.run("python", str(ROOT / "tools" / "check_dists.py"), str(DIST), *expect)
    artefacts = sorted(str(p) for p in DIST.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    session.run("twine", "check", "--strict", *artefacts)


@nox.session(requires=["build"])
@nox.parametrize("siblings", ["head", "floor"])
@nox.parametrize("package", list(COMPONENTS))
def tests(session: nox.Session, package: str, siblings: str) -> None:
    """Test one component's wheel against its siblings at head or at their floor."""
    dist = COMPONENTS[package]
    wheel = _wheel(dist)
    find_links = ["--find-links", str(DIST)]
    pins = _head_pins()
    if siblings == "floor":
        floors = _sibling_floors(dist)
        if not floors:
            session.log(f"{dist} depends on no sibling: its floor run equals its head run")
        for sibling, version in floors.items():
            floor_wheel = _build_floor(session, sibling, version)
            find_links = ["--find-links", str(floor_wheel.parent), *find_links]
            pins[sibling] = _wheel_version(floor_wheel)
    pins.pop(dist)
    constraints = _constraints(session, f"{package}-{siblings}", pins)
    session.install(
        *_REINSTALL,
        *find_links,
        *_find_links(),
        "-c",
        str(constraints),
        str(wheel),
        "--group",
        f"{ROOT / 'packages' / dist / 'pyproject.toml'}:test",
    )
    session.run(
        "python",
        "-c",
        "import importlib.metadata as m; "
        "print({d.metadata['Name']: d.version for d in m.distributions() "
        "if d.metadata['Name'].lower().startswith('braingeneers')})",
    )
    session.run("pytest", str(ROOT / "packages" / dist / "tests"), *session.posargs)


@nox.session(name="all", requires=["build"])
def all_(session: nox.Session) -> None:
    """Install braingeneers[all] from dist/ and run the repository-level tests."""
    _install_all(session, "pytest>=8", "hypothesis>=6", "uv", "packaging>=24")
    session.run("pytest", str(ROOT / "tests"), *session.posargs, env={"BRAINGENEERS_DIST_DIR": str(DIST)})


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff: lint and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", str(ROOT))
    session.run("ruff", "format", "--check", str(ROOT))


@nox.session(requires=["build"])
def typecheck(session: nox.Session) -> None:
    """Mypy strict across every package, with their real dependencies installed."""
    _install_all(session, "mypy>=1.11", "pytest>=8", "nox>=2025.2.9")
    sources = [str(ROOT / "packages" / dist / "src") for dist in ALL_DISTS]
    session.run("mypy", *sources, str(ROOT / "tools"), *session.posargs)


@nox.session(requires=["build"])
def docs(session: nox.Session) -> None:
    """Build the Sphinx site; warnings are errors."""
    _install_all(session, "sphinx>=7", "myst-parser>=3", "furo>=2024.1")
    out = ROOT / "docs" / "_build" / "html"
    shutil.rmtree(out, ignore_errors=True)
    session.run("sphinx-build", "-W", "--keep-going", "-n", "-b", "html", str(ROOT / "docs"), str(out))
    session.log(f"docs written to {out / 'index.html'}")


BENCH_RESULTS = ROOT / "docs" / "benchmarks"


def _machine_description() -> str:
    import platform

    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line
        ]
        cpu = names[0] if names else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        total = next(
            (line.split()[1] for line in meminfo.read_text().splitlines() if line.startswith("MemTotal")), ""
        )
        memory = f", {int(total) / 2**20:.0f} GiB RAM" if total else ""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}){memory}; "
        f"Python {platform.python_version()}; load average {load:.1f} at the start"
    )


@nox.session(requires=["build"])
def bench(session: nox.Session) -> None:
    """Run every package's benchmarks beside their baselines, print the ratios, keep the tables.

    Each script's output is also written to ``docs/benchmarks/<dist>--<script>.txt`` (with the
    machine in ``docs/benchmarks/machine.txt``), which the docs' benchmarks page includes.
    """
    import subprocess
    import time

    scripts = sorted(ROOT.glob("packages/*/benchmarks/bench_*.py"))
    # BRAINGENEERS_BENCH=data,zarr runs only the scripts whose path contains one of the words.
    only = [w for w in os.environ.get("BRAINGENEERS_BENCH", "").split(",") if w]
    if only:
        scripts = [s for s in scripts if any(w in str(s.relative_to(ROOT)) for w in only)]
    groups = [
        f"{ROOT / 'packages' / dist / 'pyproject.toml'}:bench"
        for dist in COMPONENTS.values()
        if "bench" in _pyproject(dist).get("dependency-groups", {})  # type: ignore[operator]
    ]
    extra = [arg for group in groups for arg in ("--group", group)]
    _install_all(session, *extra)
    if not scripts:
        session.log("no benchmarks yet: packages/<dist>/benchmarks/bench_*.py are run here")
    BENCH_RESULTS.mkdir(parents=True, exist_ok=True)
    machine = _machine_description()
    session.log(machine)
    python = str(Path(session.bin) / "python")
    failed = []
    for script in scripts:
        session.log(f"== {script.relative_to(ROOT)}")
        started = time.perf_counter()
        proc = subprocess.Popen(
            [python, str(script), *session.posargs],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
        code = proc.wait()
        took = time.perf_counter() - started
        name = f"{script.parent.parent.name}--{script.stem}.txt"
        header = (
            f"# {script.relative_to(ROOT)} {' '.join(session.posargs)}\n"
            f"# {machine}\n# {took:.0f} s, exit {code}\n"
        )
        (BENCH_RESULTS / name).write_text(header + "".join(lines))
        if code:
            failed.append(str(script.relative_to(ROOT)))
    (BENCH_RESULTS / "machine.txt").write_text(machine + "\n")
    if failed:
        session.error(f"benchmarks failed: {failed}")


@nox.session(requires=["build"])
def demo(session: nox.Session) -> None:
    """The main job: `braingeneers demo` on an embedded local endpoint (report in demo-output/)."""
    _install_all(session)
    out = Path(session.posargs[0]) if session.posargs else ROOT / "demo-output"
    session.run("braingeneers", "demo", "--out", str(out), env={"MPLBACKEND": "Agg"})


@nox.session(venv_backend="none")
def ci(session: nox.Session) -> None:
    """Everything CI runs: lint, build, the test matrix, repository tests, types, docs."""
    session.notify("lint")
    session.notify("build")
    for package in COMPONENTS:
        for siblings in ("head", "floor"):
            session.notify(f"tests(package='{package}', siblings='{siblings}')")
    session.notify("all")
    session.notify("typecheck")
    session.notify("docs")
    session.log(f"queued the CI sessions on Python {sys.version.split()[0]}")
