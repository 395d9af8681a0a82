"""The session-wide real Strapi 4 fixture (schemas and lockfile in ``tests/strapi``)."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from braingeneers.core.testing import services_required
from braingeneers.iot.testing import StrapiServer, provision_strapi, running_strapi

STRAPI_PROJECT = Path(__file__).parent / "strapi"


def _unavailable(message: str) -> None:
    if services_required():
        pytest.fail(message + "; BRAINGENEERS_REQUIRE_SERVICES is set")
    pytest.skip(message)


@pytest.fixture(scope="session")
def strapi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StrapiServer]:
    """A real Strapi 4 with the five lab collections, SQLite in a temp dir, and a full-access API token.

    The npm install is cached in ``~/.cache/braingeneers-strapi/<lockfile hash>``. Skips when
    node/npm or the npm registry are unavailable, fails instead under
    ``BRAINGENEERS_REQUIRE_SERVICES=1``.
    """
    try:
        provision_strapi(STRAPI_PROJECT)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"Strapi cannot be provisioned from npm: {exc}")
    for attempt in (1, 2):  # one retry: a start-up once hung here on a heavily loaded machine
        workdir = tmp_path_factory.mktemp("strapi")
        try:
            server_context = running_strapi(STRAPI_PROJECT, workdir, timeout=120)
            server = server_context.__enter__()
            break
        except RuntimeError as exc:
            if attempt == 2:
                _unavailable(f"Strapi did not start: {exc}")
            warnings.warn(f"Strapi did not start, retrying once: {exc}", stacklevel=1)
    try:
        yield server
    finally:
        server_context.__exit__(None, None, None)
