"""The ``braingeneers`` namespace stays implicit (PEP 420) once everything is installed."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import COMPONENTS, ROOT


def test_namespace_has_no_init_and_spans_site_packages() -> None:
    import braingeneers

    assert getattr(braingeneers, "__file__", None) is None, "a braingeneers/__init__.py is installed"
    assert type(braingeneers.__path__).__name__ == "_NamespacePath"
    paths = [str(p) for p in braingeneers.__path__]
    assert not any(str(ROOT / "packages") in p for p in paths), f"source tree on the path: {paths}"


@pytest.mark.parametrize("sub", COMPONENTS)
def test_each_component_imports_from_its_wheel(sub: str) -> None:
    module = importlib.import_module(f"braingeneers.{sub}")
    assert module.__file__ is not None
    assert "site-packages" in Path(module.__file__).parts
    assert (Path(module.__file__).parent / "py.typed").is_file()


def test_no_py_typed_or_init_at_namespace_level() -> None:
    import braingeneers

    for folder in braingeneers.__path__:
        assert not (Path(folder) / "__init__.py").exists(), folder
        assert not (Path(folder) / "py.typed").exists(), folder


def test_stray_portion_on_pythonpath_does_not_mask_installed_ones(tmp_path: Path) -> None:
    """A ``braingeneers/othermod.py`` elsewhere on the path imports beside the installed portions."""
    stray = tmp_path / "braingeneers"
    stray.mkdir()
    (stray / "othermod.py").write_text("VALUE = 42\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    code = (
        "import braingeneers.othermod as o, braingeneers.core, braingeneers.data, braingeneers.iot, "
        "braingeneers.analysis, braingeneers.ml; assert o.VALUE == 42; print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    module = subprocess.run(
        [sys.executable, "-m", "braingeneers.othermod"], env=env, capture_output=True, text=True, timeout=60
    )
    assert module.returncode == 0, module.stderr
