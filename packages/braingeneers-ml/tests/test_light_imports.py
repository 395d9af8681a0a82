"""Importing braingeneers.ml or any of its modules loads no torch, scipy, h5py or zarr."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import braingeneers.ml

HEAVY = {"torch", "scipy", "h5py", "zarr", "boto3", "pandas"}


def test_every_module_imports_without_heavy_dependencies():
    names = ["braingeneers.ml"] + [
        f"braingeneers.ml.{m.name}" for m in pkgutil.iter_modules(braingeneers.ml.__path__)
    ]
    assert "braingeneers.ml.windows" in names
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(json.loads(proc.stdout))
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_lazy_names_resolve():
    assert braingeneers.ml.WindowDataset.__module__ == "braingeneers.ml.windows"
    assert set(braingeneers.ml.__all__) >= {"ChunkStream", "EphysDataset", "WindowDataset"}
    with pytest.raises(AttributeError, match="NoSuchThing"):
        braingeneers.ml.NoSuchThing  # noqa: B018
