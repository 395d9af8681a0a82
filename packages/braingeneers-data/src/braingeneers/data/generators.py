"""Build a batch's ``metadata.json`` by scanning its raw files, dispatching on file type.

``*.raw.h5`` → Maxwell, ``recordings_*.h5``/``.hdf5`` → MEArec, ``*.nwb`` → NWB,
``*.raw`` → Axion, ``*.bin`` → Hengenlab. Each format module's
``generate_metadata(files, uuid=..., experiment_prefix=...)`` returns a
:class:`~braingeneers.data.metadata.BatchMetadata`; this module merges them,
keeps the top-level fields (``notes``, ...) of an existing ``metadata.json``,
and optionally saves the result. ``derived/`` and ``shared/`` (NWB and Zarr
copies, sorting results) are not scanned.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from braingeneers.core import storage
from braingeneers.core.errors import FormatError, NotFoundError
from braingeneers.data.metadata import BatchMetadata, batch_prefix, load_metadata, save_metadata

__all__ = ["batch_folder", "classify", "find_batch_files", "generate_metadata", "list_files", "relative_path"]

logger = logging.getLogger(__name__)

#: Top-level batch folders holding copies or results, not raw recordings; never scanned.
SKIPPED_FOLDERS = ("derived", "shared")

#: Format → generator, as ``"module:function"`` (imported on use).
GENERATORS: dict[str, str] = {
    "maxwell": "braingeneers.data.formats.maxwell:generate_metadata",
    "mearec": "braingeneers.data.formats.mearec:generate_metadata",
    "nwb": "braingeneers.data.formats.nwb:generate_metadata",
    "axion": "braingeneers.data.formats.axion:generate_metadata",
    "hengenlab": "braingeneers.data.formats.hengenlab:generate_metadata",
}


def batch_folder(uri: str) -> str:
    """Return the batch folder of a file: the parent of its ``original/`` folder, else its own folder."""
    text = uri.replace(os.sep, "/") if not uri.startswith("s3://") else uri
    parts = text.split("/")
    if "original" in parts[:-1]:
        index = len(parts) - 1 - parts[:-1][::-1].index("original") - 1
        folder = "/".join(parts[:index])
    else:
        folder = "/".join(parts[:-1])
    return folder + "/" if uri.startswith("s3://") else folder


def relative_path(folder: str, uri: str) -> str:
    """Return ``uri`` relative to a batch folder (unchanged when outside it)."""
    if not folder:
        return uri
    if uri.startswith("s3://"):
        prefix = folder if folder.endswith("/") else folder + "/"
        return uri[len(prefix) :] if uri.startswith(prefix) else uri
    try:
        return Path(uri).resolve().relative_to(Path(folder).resolve()).as_posix()
    except ValueError:
        return uri


def list_files(root: str | os.PathLike[str]) -> list[str]:
    """Return every file under a local folder or ``s3://`` prefix, sorted (as paths or URIs)."""
    text = os.fspath(root)
    if not text.startswith("s3://"):
        path = Path(text)
        if not path.is_dir():
            raise NotFoundError(f"{path} is not a directory")
        return sorted(str(p) for p in path.rglob("*") if p.is_file())
    return [info.uri for info in storage.list_objects(text)]


def find_batch_files(
    files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    match: Callable[[str], bool],
    what: str,
    uuid: str | None,
    default_uuid: str,
    *,
    sort_given: bool = True,
) -> tuple[list[str], str, str]:
    """Return a format generator's files, their batch folder and the batch UUID.

    The batch folder is the parent of ``original/`` (see :func:`batch_folder`), else
    the folder given or the folder of the first file.

    Parameters
    ----------
    files
        A list of files (local paths or ``s3://`` URIs), or a local folder or ``s3://``
        prefix whose files accepted by ``match`` (searched recursively) are used.
    match
        Tells whether a file of a folder is one of the format's.
    what
        The files, as named in the error (``"Maxwell .raw.h5 files"``).
    uuid
        The batch UUID, or ``None`` for the name of the batch folder.
    default_uuid
        The UUID when the batch folder has no name.
    sort_given
        Sort a given list of files (a folder's files are always sorted).

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        No files.
    """
    if isinstance(files, (str, bytes)) or hasattr(files, "__fspath__"):
        root = os.fspath(files)
        uris = [u for u in list_files(root) if match(u)]
        if not uris:
            raise FormatError(f"{root}: no {what} found")
        folder = batch_folder(root.rstrip("/") + "/_")
    else:
        uris = [os.fspath(f) for f in files]
        if not uris:
            raise FormatError(f"no {what} given")
        if sort_given:
            uris.sort()
        folder = batch_folder(uris[0])
    if uuid is None:
        uuid = folder.rstrip("/").rsplit("/", 1)[-1] or default_uuid
    return uris, folder, uuid


def classify(uri: str) -> str | None:  # noqa: PLR0911 (one return per format)
    """Return the format of a file from its name: maxwell, mearec, nwb, axion, hengenlab or ``None``."""
    name = uri.rsplit("/", 1)[-1]
    lower = name.lower()
    if lower == "metadata.json":
        return None
    if lower.endswith(".raw.h5"):
        return "maxwell"
    if lower.startswith("recordings_") and lower.endswith((".h5", ".hdf5")):
        return "mearec"
    if lower.endswith(".nwb"):
        return "nwb"
    if lower.endswith(".raw"):
        return "axion"
    if lower.endswith(".bin"):
        return "hengenlab"
    return None


def _resolve(uuid_or_path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """Return (batch folder or prefix, uuid if known)."""
    text = os.fspath(uuid_or_path)
    if text.startswith("s3://"):
        return text.rstrip("/") + "/", None
    if Path(text).expanduser().is_dir():
        return str(Path(text).expanduser()), None
    if "/" not in text and os.sep not in text:
        return batch_prefix(text), text
    raise NotFoundError(f"{text}: no such batch folder")


def _generator(kind: str) -> Callable[..., BatchMetadata]:
    module_name, _, function = GENERATORS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FormatError(f"no metadata generator for {kind} files in this version ({exc})") from None
    generator: Callable[..., BatchMetadata] = getattr(module, function)
    return generator


def generate_metadata(
    uuid_or_path: str | os.PathLike[str],
    experiment_prefix: str = "",
    save: bool = False,
    formats: list[str] | None = None,
) -> BatchMetadata:
    """Scan a batch's raw files and build its metadata.

    Parameters
    ----------
    uuid_or_path
        A batch UUID (on the current endpoint), an ``s3://`` prefix or a local batch folder.
    experiment_prefix
        Prepended to every generated experiment name.
    save
        Write the result as the batch's ``metadata.json``.
    formats
        Only these formats (``"maxwell"``, ``"axion"``, ...); default: every one found.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        No recognised files, a file is invalid, or two files produce the same experiment name.
    """
    base, uuid = _resolve(uuid_or_path)
    groups: dict[str, list[str]] = {}
    for uri in list_files(base):
        if relative_path(base, uri).split("/", 1)[0] in SKIPPED_FOLDERS:
            continue
        kind = classify(uri)
        if kind is not None and (formats is None or kind in formats):
            groups.setdefault(kind, []).append(uri)
    if not groups:
        raise FormatError(f"{base}: no recording files (.raw.h5, .raw, .bin, .nwb, recordings_*.h5) found")
    if uuid is None:
        uuid = base.rstrip("/").replace(os.sep, "/").rsplit("/", 1)[-1]
    result = BatchMetadata(uuid=uuid, source=None if base.startswith(batch_prefix(uuid)) else base)
    existing: BatchMetadata | None = None
    try:
        existing = load_metadata(base if not base.startswith("s3://") else base + "metadata.json")
    except (NotFoundError, FormatError):
        existing = None
    if existing is not None:
        result.extra.update(existing.extra)
    for kind, uris in sorted(groups.items()):
        logger.info("%s: %d %s file(s)", base, len(uris), kind)
        part = _generator(kind)(uris, uuid=uuid, experiment_prefix=experiment_prefix)
        for name, experiment in part.ephys_experiments.items():
            if name in result.ephys_experiments:
                raise FormatError(
                    f"batch {uuid!r}: experiment name {name!r} is generated twice ({kind} files)"
                )
            for block in experiment.blocks:
                block.path = relative_path(base, part.block_uri(block))
            result.ephys_experiments[name] = experiment
        result.extra.update(part.extra)
    if save:
        save_metadata(result)
    return result
