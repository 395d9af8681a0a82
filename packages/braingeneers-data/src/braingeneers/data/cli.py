"""The ``braingeneers data`` commands: ``info``, ``generate-metadata``, ``convert`` (Zarr) ``convert``."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

__all__ = ["configure", "configure_convert"]


def _info_handler(args: argparse.Namespace) -> int:
    from braingeneers.core.errors import NotFoundError
    from braingeneers.data.generators import generate_metadata
    from braingeneers.data.metadata import load_metadata
    from braingeneers.data.recording import Recording

    out = sys.stdout
    try:
        batch = load_metadata(args.batch)
        note = ""
    except NotFoundError:
        batch = generate_metadata(args.batch)
        note = " [no metadata.json: generated from the files]"
    out.write(f"batch {batch.uuid}" + (f" ({batch.source})" if batch.source else "") + note + "\n")
    names = args.experiment or list(batch.ephys_experiments)
    for name in names:
        exp = batch.experiment(name)
        seconds = exp.num_frames / exp.sample_rate if exp.sample_rate else 0.0
        out.write(
            f"  {exp.name}: {exp.hardware}{' / ' + exp.data_format if exp.data_format else ''}, "
            f"{exp.num_channels} channels, {exp.sample_rate:g} Hz, "
            f"{exp.num_frames} frames ({seconds:.1f} s), "
            f"{len(exp.blocks)} block(s)\n"
        )
        out.write(f"    {_zarr_copy_summary(batch, exp.name)}\n")
        if args.experiment:
            with Recording(batch, exp) as rec:
                info = rec.channel_info
                out.write(
                    f"    file: {rec.num_channels} channels, {rec.sample_rate:g} Hz, raw {rec.dtype}, "
                    f"gain {float(info.gain_uv[0]) if len(info.gain_uv) else 0:g} µV/count, "
                    f"offset {float(info.offset[0]) if len(info.offset) else 0:g} counts\n"
                )
                for block in exp.blocks:
                    out.write(f"    {batch.block_uri(block)}: {block.num_frames} frames\n")
    return 0


def _generate_handler(args: argparse.Namespace) -> int:
    from braingeneers.data.generators import generate_metadata

    batch = generate_metadata(
        args.batch, experiment_prefix=args.prefix or "", save=args.save, formats=args.format or None
    )
    if not args.save or args.print:
        json.dump(batch.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """Read recordings and batch metadata (info, generate-metadata, convert)."""
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND")
    info = commands.add_parser("info", help="summarise a batch (or one experiment's files)")
    info.add_argument("batch", help="batch UUID, s3:// prefix or local batch folder")
    info.add_argument("--experiment", "-e", action="append", help="also open this experiment's files")
    info.set_defaults(handler=_info_handler)
    generate = commands.add_parser(
        "generate-metadata", help="scan a batch's raw files and print (or --save) its metadata.json"
    )
    generate.add_argument("batch", help="batch UUID, s3:// prefix or local batch folder")
    generate.add_argument("--prefix", help="prepend to every experiment name")
    generate.add_argument(
        "--format",
        action="append",
        choices=["maxwell", "axion", "hengenlab", "mearec", "nwb"],
        help="only these formats (repeatable; default every one found)",
    )
    generate.add_argument("--save", action="store_true", help="write metadata.json (conflict-safe)")
    generate.add_argument("--print", action="store_true", help="also print it when saving")
    generate.set_defaults(handler=_generate_handler)
    _add_convert(commands)

    def _help(_: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_help)


def _zarr_copy_summary(batch: Any, name: str) -> str:
    from braingeneers.data.zarr_convert import zarr_copy_summary

    return zarr_copy_summary(batch, name)


def _add_convert(commands: Any) -> None:
    try:
        import braingeneers.data.zarr_convert  # noqa: F401
    except ImportError:  # zarr needs Python >= 3.11
        return
    configure_convert(commands)


# --- convert (Zarr copies) ------------------------------------------------------------------------


def _parse_task(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or int(match.group(1)) >= int(match.group(2)):
        raise argparse.ArgumentTypeError(f"--task wants I/N with 0 <= I < N, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def _convert_handler(args: argparse.Namespace) -> int:
    from braingeneers.core.errors import FormatError
    from braingeneers.data.metadata import load_metadata
    from braingeneers.data.zarr_convert import convert_experiment

    meta = load_metadata(args.batch)
    names = args.experiment or list(meta.ephys_experiments)
    if args.out is not None and len(names) > 1:
        raise FormatError("--out names one store: give one --experiment with it")
    task = args.task
    if task is None and os.environ.get("JOB_COMPLETION_INDEX") and args.task_count:
        task = (int(os.environ["JOB_COMPLETION_INDEX"]), int(args.task_count))
    for name in names:
        result = convert_experiment(
            meta,
            name,
            args.out,
            workers=args.workers,
            task=task,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
        state = "complete" if result.complete else "partial (task)"
        sys.stdout.write(
            f"{name}: {result.store} {state}; {len(result.converted)} ranges converted, "
            f"{len(result.skipped)} already done, {result.raw_bytes / 1e6:.1f} MB in {result.seconds:.1f} s\n"
        )
    return 0


def configure_convert(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``convert`` (Zarr copies) to the ``braingeneers data`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "convert",
        help="make verified Zarr v3 copies of experiments (resumable)",
        description="Convert experiments into chunked, compressed Zarr v3 copies of their raw counts "
        "(default: <batch>/derived/zarr/<experiment>.zarr). Rerun the same command to resume.",
    )
    parser.add_argument("batch", help="batch UUID, metadata.json path/URI or batch folder")
    parser.add_argument(
        "--experiment", "-e", action="append", help="experiment name (repeatable; default all)"
    )
    parser.add_argument("--out", help="store URI or path (one experiment only)")
    parser.add_argument("--workers", "-j", type=int, default=2, help="ranges converted at once (default 2)")
    parser.add_argument(
        "--task",
        type=_parse_task,
        help="I/N: convert only ranges r %% N == I, without finalizing (job arrays)",
    )
    parser.add_argument(
        "--task-count", type=int, help="N for a Kubernetes indexed Job: I is taken from JOB_COMPLETION_INDEX"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing or complete store")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_convert_handler)
    return parser
