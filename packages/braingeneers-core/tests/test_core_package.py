"""The installed ``braingeneers-core`` wheel: import, version and typing marker."""

from __future__ import annotations

import importlib
import re
from importlib.metadata import files, version
from pathlib import Path


def test_version_matches_installed_metadata() -> None:
    module = importlib.import_module("braingeneers.core")
    assert module.__version__ == version("braingeneers-core")
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.\d+)?(\+dirty)?", module.__version__), module.__version__


def test_imported_from_the_installed_wheel_not_the_source_tree() -> None:
    module = importlib.import_module("braingeneers.core")
    assert module.__file__ is not None
    assert "site-packages" in Path(module.__file__).parts, module.__file__


def test_wheel_ships_only_its_subpackage_and_py_typed() -> None:
    shipped = [str(f) for f in files("braingeneers-core") or []]
    code = [f for f in shipped if ".dist-info/" not in f and not f.startswith("..")]
    assert "braingeneers/core/py.typed" in code
    assert "braingeneers/core/__init__.py" in code
    # braingeneers-core also owns the legacy braingeneers.utils compatibility layer.
    assert all(f.startswith(("braingeneers/core/", "braingeneers/utils/")) for f in code), code
    assert "braingeneers/utils/py.typed" in code
