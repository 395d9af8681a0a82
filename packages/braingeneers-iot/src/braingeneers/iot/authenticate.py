"""``python -m braingeneers.iot.authenticate``: the legacy login command, now ``braingeneers auth login``.

Options before ``login`` in the core command (``--token-file``, ``--url``) are accepted here
too. The legacy ``picroscope`` flow, which stored a token in the credentials file, is gone:
every client reads the one service-account token through :mod:`braingeneers.core.auth`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``braingeneers auth [options] login`` and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["picroscope"]:
        sys.stderr.write(
            "The picroscope token flow is gone: run 'braingeneers auth login' (the token is shared "
            "by every braingeneers client; see 'braingeneers auth --help').\n"
        )
        return 2
    from braingeneers.core.cli import main as braingeneers_main

    return braingeneers_main(["auth", *args, "login"])


if __name__ == "__main__":
    sys.exit(main())
