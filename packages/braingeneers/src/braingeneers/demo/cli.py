"""The ``braingeneers demo`` command (registered through the ``braingeneers.cli`` entry points)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

__all__ = ["configure"]

_log = logging.getLogger(__name__)


def _handler(args: argparse.Namespace) -> int:
    from braingeneers.demo.pipeline import run

    summary = run(Path(args.out), seed=args.seed)
    _log.info("report: %s", summary.parent)
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """Run the toolkit end to end on synthetic data and write a report (``--out DIR``)."""
    parser.description = (
        "Write a synthetic batch (a two-block Maxwell experiment and an Axion 6-well plate) to a local "
        "endpoint, read it back, convert it to Zarr, detect spikes, analyse them and write a report."
    )
    parser.add_argument("--out", default="demo-output", help="folder for the endpoint and the report")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")
    parser.set_defaults(handler=_handler)
