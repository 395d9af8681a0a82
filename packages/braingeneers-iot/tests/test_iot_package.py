"""The installed ``braingeneers-iot`` wheel: import, version and typing marker."""

from __future__ import annotations

import importlib
import re
from importlib.metadata import files, version
from pathlib import Path


def test_version_matches_installed_metadata() -> None:
    module = importlib.import_module("braingeneers.iot")
    assert module.__version__ == version("braingeneers-iot")
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.\d+)?(\+dirty)?", module.__version__), module.__version__


def test_imported_from_the_installed_wheel_not_the_source_tree() -> None:
    module = importlib.import_module("braingeneers.iot")
    assert module.__file__ is not None
    assert "site-packages" in Path(module.__file__).parts, module.__file__


def test_wheel_ships_only_its_subpackage_and_py_typed() -> None:
    shipped = [str(f) for f in files("braingeneers-iot") or []]
    code = [f for f in shipped if ".dist-info/" not in f and not f.startswith("..")]
    assert "braingeneers/iot/py.typed" in code
    assert "braingeneers/iot/__init__.py" in code
    assert all(f.startswith("braingeneers/iot/") for f in code), code


def test_legacy_names_import_from_the_package() -> None:
    import braingeneers.iot as iot
    from braingeneers.iot.device import Device
    from braingeneers.iot.messaging import MessageBroker
    from braingeneers.iot.shadows import DatabaseInteractor

    assert iot.MessageBroker is MessageBroker
    assert iot.Device is Device
    assert iot.DatabaseInteractor is DatabaseInteractor
