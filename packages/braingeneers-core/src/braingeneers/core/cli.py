"""The ``braingeneers`` command.

braingeneers-core owns the console script. Other distributions add command
groups through the ``braingeneers.cli`` entry-point group: each entry point is
named after its command and points at a function that receives the command's
:class:`argparse.ArgumentParser` and configures it, setting a ``handler``
default that takes the parsed :class:`argparse.Namespace` and returns an exit
code. ``braingeneers data ...`` therefore appears only when braingeneers-data
is installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, distributions, entry_points, version

from braingeneers.core.errors import BraingeneersError

__all__ = ["ENTRY_POINT_GROUP", "build_parser", "main"]

ENTRY_POINT_GROUP = "braingeneers.cli"
_log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int]


def _installed_components() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name == "braingeneers" or name.startswith("braingeneers-"):
            found[name] = dist.version
    return dict(sorted(found.items()))


def _version_handler(args: argparse.Namespace) -> int:
    for name, ver in _installed_components().items():
        sys.stdout.write(f"{name} {ver}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the ``braingeneers`` argument parser with every installed command group."""
    try:
        core_version = version("braingeneers-core")
    except PackageNotFoundError:
        core_version = "unknown"
    parser = argparse.ArgumentParser(
        prog="braingeneers",
        description="Braingeneers toolkit: data, devices and analysis for organoid electrophysiology.",
    )
    parser.add_argument("--version", action="version", version=f"braingeneers-core {core_version}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    versions = commands.add_parser("version", help="list the installed braingeneers distributions")
    versions.set_defaults(handler=_version_handler)
    from braingeneers.core.auth_cli import configure as configure_auth

    configure_auth(commands.add_parser("auth", help="manage the service-account token"))
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            configure = ep.load()
        except Exception as exc:  # a broken plugin must not break the other commands
            _log.warning("cannot load command %r from %s: %s", ep.name, ep.value, exc)
            continue
        sub = commands.add_parser(
            ep.name, help=(configure.__doc__ or "").strip().splitlines()[0] if configure.__doc__ else None
        )
        configure(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``braingeneers`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except BraingeneersError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
