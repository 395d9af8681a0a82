"""Each wheel holds only its own subpackage; the meta-package's extras name the right components."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from .conftest import COMPONENTS, ROOT


def _wheel(dist_dir: Path, dist: str) -> Path:
    found = sorted(dist_dir.glob(dist.replace("-", "_") + "-*.whl"))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("sub", COMPONENTS)
def test_component_wheel_file_list(dist_dir: Path, sub: str) -> None:
    names = zipfile.ZipFile(_wheel(dist_dir, f"braingeneers-{sub}")).namelist()
    code = [n for n in names if not n.split("/")[0].endswith(".dist-info")]
    assert code, "empty wheel"
    owned = (f"braingeneers/{sub}/", "braingeneers/utils/") if sub == "core" else (f"braingeneers/{sub}/",)
    assert all(n.startswith(owned) for n in code), code
    assert f"braingeneers/{sub}/py.typed" in code
    assert "braingeneers/__init__.py" not in names
    assert "braingeneers/py.typed" not in names
    assert not any("/tests/" in n for n in code)


def test_meta_wheel_holds_only_the_demo(dist_dir: Path) -> None:
    names = zipfile.ZipFile(_wheel(dist_dir, "braingeneers")).namelist()
    code = [n for n in names if not n.split("/")[0].endswith(".dist-info")]
    assert "braingeneers/demo/cli.py" in code
    assert all(n.startswith("braingeneers/demo/") for n in code), code


def _meta_requirements(dist_dir: Path) -> list[str]:
    wheel = _wheel(dist_dir, "braingeneers")
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(meta_name).decode())
    return metadata.get_all("Requires-Dist") or []


def test_meta_version_sorts_above_the_legacy_package(dist_dir: Path) -> None:
    from packaging.version import Version

    version = _wheel(dist_dir, "braingeneers").name.split("-")[1]
    assert Version(version) > Version("0.3.1.16")


def test_meta_extras_name_the_right_components(dist_dir: Path) -> None:
    requirements = _meta_requirements(dist_dir)
    by_extra: dict[str, set[str]] = {}
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.\[\],-]+", requirement)
        assert name is not None
        extra = re.search(r"extra == ['\"]([a-z]+)['\"]", requirement)
        by_extra.setdefault(extra.group(1) if extra else "", set()).add(name.group(0))
        # Lower bounds, never exact lock-step pins.
        spec = requirement.split(";")[0]
        assert "==" not in spec, requirement
        assert ">=" in spec or "[" in spec, requirement
    assert by_extra[""] == {"braingeneers-core"}
    for sub in ("data", "iot", "analysis", "ml"):
        assert by_extra[sub] == {f"braingeneers-{sub}"}
    assert by_extra["demo"] == {"braingeneers-data", "braingeneers-analysis[plot]"}
    # hatchling expands the self-referencing extra "braingeneers[data,iot,analysis,ml,demo]".
    assert by_extra["all"] in (
        {"braingeneers[data,iot,analysis,ml,demo]", "braingeneers-analysis[criticality]"},
        {"braingeneers-data", "braingeneers-iot", "braingeneers-analysis", "braingeneers-ml"}
        | {"braingeneers-analysis[plot]", "braingeneers-analysis[criticality]"},
    )


@pytest.mark.parametrize(
    ("extra", "expected", "absent"),
    [
        (
            "iot",
            {"braingeneers-core", "braingeneers-iot", "paho-mqtt", "redis"},
            {"braingeneers-data", "braingeneers-ml", "torch", "numba"},
        ),
        (
            "analysis",
            {"braingeneers-core", "braingeneers-analysis", "numba"},
            {"braingeneers-iot", "braingeneers-ml", "torch", "paho-mqtt"},
        ),
    ],
)
def test_meta_extras_resolve(
    dist_dir: Path, tmp_path: Path, extra: str, expected: set[str], absent: set[str]
) -> None:
    """Resolve ``braingeneers[<extra>]`` against dist/ (siblings) and the package index."""
    if importlib.util.find_spec("uv") is None:
        pytest.fail("the uv package is needed for this test (installed by `nox -s all`)")
    from uv import find_uv_bin

    requirement = tmp_path / "requirements.in"
    requirement.write_text(f"braingeneers[{extra}]\n")
    proc = subprocess.run(
        [
            find_uv_bin(),
            "pip",
            "compile",
            "--no-sources",
            "--no-header",
            "--quiet",
            "--find-links",
            str(dist_dir),
            "--python",
            sys.executable,
            str(requirement),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    resolved = {
        line.split("==")[0].strip().lower()
        for line in proc.stdout.splitlines()
        if line and not line.startswith(" ") and not line.startswith("#")
    }
    assert expected <= resolved, resolved
    assert not absent & resolved, resolved


def test_check_dists_tool_passes(dist_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_dists.py"), str(dist_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
