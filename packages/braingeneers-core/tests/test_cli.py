"""The ``braingeneers`` console script installed by braingeneers-core."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("braingeneers", path=str(Path(sys.executable).parent))
    assert exe is not None, "the braingeneers console script is not installed next to python"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def test_help_lists_commands() -> None:
    proc = _run("--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: braingeneers" in proc.stdout
    assert "version" in proc.stdout


def test_version_command_lists_core() -> None:
    proc = _run("version")
    assert proc.returncode == 0, proc.stderr
    assert f"braingeneers-core {version('braingeneers-core')}" in proc.stdout.splitlines()


def test_no_command_prints_help_and_fails() -> None:
    proc = _run()
    assert proc.returncode == 2
    assert "usage: braingeneers" in proc.stdout
