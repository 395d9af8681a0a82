"""Importing any ``braingeneers.*`` subpackage loads no heavy dependency.

Checked in a fresh interpreter of the ``braingeneers[all]`` environment, where
every heavy dependency is installed, so an eager import would show.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import COMPONENTS, ROOT

# Every package (folder with an __init__.py) of the namespace, e.g. braingeneers.data.formats.
SUBPACKAGES = sorted(
    ".".join(init.parent.relative_to(src).parts)
    for src in ROOT.glob("packages/*/src")
    for init in src.glob("braingeneers/**/__init__.py")
)

HEAVY = (
    "boto3",
    "botocore",
    "smart_open",
    "jwt",
    "tqdm",
    "torch",
    "paho",
    "redis",
    "pandas",
    "numba",
    "matplotlib",
    "awswrangler",
    "h5py",
    "zarr",
    "scipy",
    "numcodecs",
    "pytest",
)


def _loaded_after_import(module: str) -> set[str]:
    code = (
        "import sys, json; import " + module + "; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(proc.stdout))


@pytest.mark.parametrize("module", SUBPACKAGES)
def test_subpackage_import_loads_no_heavy_dependency(module: str) -> None:
    loaded = _loaded_after_import(module)
    assert not loaded & set(HEAVY), f"import {module} loaded {sorted(loaded & set(HEAVY))}"


def test_every_component_is_checked() -> None:
    assert {f"braingeneers.{sub}" for sub in COMPONENTS} <= set(SUBPACKAGES)


def test_heavy_modules_are_importable_here() -> None:
    """Guard: the check above means something only if the heavy modules exist in this venv."""
    for name in ("boto3", "torch", "paho", "redis", "numba", "h5py"):
        __import__(name)
