"""The installed ``braingeneers-data`` wheel: import, version and typing marker."""

from __future__ import annotations

import importlib
import re
from importlib.metadata import files, version
from pathlib import Path


def test_version_matches_installed_metadata() -> None:
    module = importlib.import_module("braingeneers.data")
    assert module.__version__ == version("braingeneers-data")
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.\d+)?(\+dirty)?", module.__version__), module.__version__


def test_imported_from_the_installed_wheel_not_the_source_tree() -> None:
    module = importlib.import_module("braingeneers.data")
    assert module.__file__ is not None
    assert "site-packages" in Path(module.__file__).parts, module.__file__


def test_wheel_ships_only_its_subpackage_and_py_typed() -> None:
    shipped = [str(f) for f in files("braingeneers-data") or []]
    code = [f for f in shipped if ".dist-info/" not in f and not f.startswith("..")]
    assert "braingeneers/data/py.typed" in code
    assert "braingeneers/data/__init__.py" in code
    assert all(f.startswith("braingeneers/data/") for f in code), code


def test_everyday_names_import_from_the_package() -> None:
    import braingeneers.data as data
    from braingeneers.data.metadata import load_metadata
    from braingeneers.data.recording import Recording, open_experiment

    assert data.open_experiment is open_experiment
    assert data.load_metadata is load_metadata
    assert data.Recording is Recording
    assert set(data.__all__) <= set(dir(data)) | {"__version__"}
