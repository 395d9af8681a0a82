"""Legacy ``braingeneers.utils.s3wrangler``: awswrangler's S3 functions bound to the current endpoint.

Needs the ``wrangler`` extra (``pip install "braingeneers-core[wrangler]"``).
Every name of ``awswrangler.s3`` is available here, e.g.
``list_directories("s3://braingeneers/ephys/")``. The endpoint follows
:func:`braingeneers.core.set_default_endpoint`, including later changes.
"""

from __future__ import annotations

from typing import Any

from braingeneers.core.endpoint import Endpoint, current_endpoint, on_endpoint_change
from braingeneers.core.errors import ConfigError
from braingeneers.utils._deprecation import warn_moved

warn_moved("braingeneers.utils.s3wrangler", "braingeneers.core storage functions (list_objects, ...)")

try:
    import awswrangler
    from awswrangler.s3 import *  # noqa: F403 - this module is awswrangler.s3, configured
except ImportError as exc:  # pragma: no cover - exercised in environments without the extra
    raise ImportError(
        "braingeneers.utils.s3wrangler needs awswrangler: pip install 'braingeneers-core[wrangler]'"
    ) from exc


def _configure(where: Endpoint) -> None:
    from botocore.config import Config

    if where.url is None:
        raise ConfigError(f"awswrangler works only with S3 endpoints, not the local directory {where}")
    awswrangler.config.s3_endpoint_url = where.url
    awswrangler.config.botocore_config = Config(
        retries={"max_attempts": 10, "mode": "standard"}, connect_timeout=20, max_pool_connections=50
    )


def _on_change(where: Endpoint) -> None:
    if where.url is not None:
        _configure(where)


def __getattr__(name: str) -> Any:
    return getattr(awswrangler.s3, name)


_on_change(current_endpoint())  # under a local endpoint awswrangler keeps its own settings
on_endpoint_change(_on_change)
