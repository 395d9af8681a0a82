"""Where Braingeneers data lives, how to read and write it, and who you are.

``braingeneers.core`` holds the endpoint (S3 or a local mirror), storage
operations, service-account auth, configuration, the shared error types and the
``braingeneers`` command. Importing it loads none of boto3, botocore,
smart_open or PyJWT; they are imported when first used.
"""

import sys
import warnings
from importlib.metadata import PackageNotFoundError, version

from braingeneers.core.conditional import update, update_json
from braingeneers.core.endpoint import get_default_endpoint, set_default_endpoint
from braingeneers.core.errors import (
    AuthError,
    BraingeneersError,
    ConfigError,
    ConflictError,
    FormatError,
    NotFoundError,
    StorageError,
)
from braingeneers.core.storage import (
    ObjectInfo,
    exists,
    list_directories,
    list_objects,
    open,
    read_range,
    read_ranges,
    size,
)
from braingeneers.core.transfer import download, upload

try:
    __version__: str = version("braingeneers-core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

if getattr(sys.modules.get("braingeneers"), "__file__", None) is not None:
    warnings.warn(
        "the legacy 'braingeneers' 0.3 package is installed: its braingeneers/__init__.py turns "
        "the braingeneers namespace into a regular package. Run "
        "'pip uninstall braingeneers' and then 'pip install \"braingeneers[all]\"' (or the "
        "components you need).",
        RuntimeWarning,
        stacklevel=2,
    )

__all__ = [
    "AuthError",
    "BraingeneersError",
    "ConfigError",
    "ConflictError",
    "FormatError",
    "NotFoundError",
    "ObjectInfo",
    "StorageError",
    "__version__",
    "download",
    "exists",
    "get_default_endpoint",
    "list_directories",
    "list_objects",
    "open",
    "read_range",
    "read_ranges",
    "set_default_endpoint",
    "size",
    "update",
    "update_json",
    "upload",
]
