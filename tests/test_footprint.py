"""A lab user who installs one component gets only what it declares."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FORBIDDEN_FOR_DATA = {"torch", "paho-mqtt", "redis", "awswrangler", "pandas", "matplotlib", "numba"}


def _fresh_venv_with(tmp_path: Path, dist_dir: Path, requirement: str) -> set[str]:
    from uv import find_uv_bin

    uv = find_uv_bin()
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--no-sources",
            "--python",
            str(python),
            "--find-links",
            str(dist_dir),
            requirement,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    listing = subprocess.run(
        [
            str(python),
            "-c",
            "import json, importlib.metadata as m; "
            "print(json.dumps(sorted({d.metadata['Name'].lower() for d in m.distributions()})))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {name.replace("_", "-") for name in json.loads(listing.stdout)}


@pytest.mark.slow
def test_data_alone_installs_no_torch_mqtt_redis_pandas_or_plotting(tmp_path: Path, dist_dir: Path) -> None:
    wheel = next(dist_dir.glob("braingeneers_data-*.whl"))
    installed = _fresh_venv_with(tmp_path, dist_dir, str(wheel))
    assert {"braingeneers-data", "braingeneers-core", "numpy", "h5py"} <= installed
    assert not FORBIDDEN_FOR_DATA & installed, sorted(FORBIDDEN_FOR_DATA & installed)
    assert not {"braingeneers-iot", "braingeneers-ml", "braingeneers-analysis", "braingeneers"} & installed


@pytest.mark.slow
def test_core_alone_is_light(tmp_path: Path, dist_dir: Path) -> None:
    wheel = next(dist_dir.glob("braingeneers_core-*.whl"))
    installed = _fresh_venv_with(tmp_path, dist_dir, str(wheel))
    assert {"braingeneers-core", "boto3", "smart-open", "pyjwt"} <= installed
    heavy = {"numpy", "torch", "paho-mqtt", "redis", "awswrangler", "pandas", "numba", "h5py"}
    assert not heavy & installed, sorted(heavy & installed)
    # The console script works from that bare install, auth subcommands included.
    script = tmp_path / "venv" / "bin" / "braingeneers"
    for args in (["--help"], ["auth", "--help"], ["auth", "status"]):
        proc = subprocess.run(
            [str(script), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)},
        )
        assert proc.returncode in ((0,) if "--help" in args else (1,)), proc.stderr
        assert "Traceback" not in proc.stderr
    assert "No service-account token found" in proc.stdout
