"""Load sorted spikes from Phy/Kilosort zips into ``SpikeData``.

Sorted output lives under ``ephys/<uuid>/derived/<sorter>/<name>.zip`` in the
``braingeneers`` bucket (or the same layout on a local mirror); the zip holds
Phy's ``.npy`` arrays, ``params.py`` and the cluster-label TSVs. Files are read
through :mod:`braingeneers.core.storage`, so S3 and mirrors behave the same.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import numpy.typing as npt

from braingeneers.core import storage
from braingeneers.core.errors import FormatError, NotFoundError

from .attributes import NeuronAttributes
from .spikedata import SpikeData

__all__ = ["load_spike_data", "read_phy_files"]

log = logging.getLogger(__name__)

DEFAULT_GROUPS: tuple[Any, ...] = ("good", "mua", "", float("nan"), "unsorted")
"""Cluster labels loaded by default (NaN and ``""`` both mean "unlabelled")."""

LABEL_FILES = ("cluster_info.tsv", "cluster_group.tsv", "cluster_KSLabel.tsv")
"""Label files in the order they are looked for; the first present one is used."""

N_NEIGHBORS = 12


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _wanted(groups: Sequence[Any]) -> set[str]:
    """Normalise the label filter: NaN means an empty label."""
    return {"" if _is_nan(g) else str(g) for g in groups}


def _read_params(text: str, where: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise FormatError(f"{where}: params.py is not valid Python ({err})") from err
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                params[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # e.g. r'...' paths built from expressions: not needed here
    return params


def _read_labels(archive: zipfile.ZipFile, names: dict[str, str], where: str) -> dict[int, str] | None:
    for wanted in LABEL_FILES:
        member = names.get(wanted)
        if member is None:
            continue
        rows = list(csv.DictReader(io.StringIO(archive.read(member).decode()), delimiter="\t"))
        if not rows:
            return {}
        columns = rows[0].keys()
        column = "group" if "group" in columns else "KSLabel" if "KSLabel" in columns else None
        id_column = "cluster_id" if "cluster_id" in columns else "id" if "id" in columns else None
        if column is None or id_column is None:
            raise FormatError(f"{where}: {wanted} has no cluster_id/group (or KSLabel) column")
        return {int(row[id_column]): (row[column] or "").strip() for row in rows}
    return None


def _spike_data_from_zip(  # noqa: PLR0917 - private helper
    data: bytes | str | os.PathLike[str],
    where: str,
    fs: float,
    groups_to_load: Sequence[Any],
    experiment_name: str,
    length: float | None,
) -> SpikeData:
    with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as archive:
        names = {PurePosixPath(n).name: n for n in archive.namelist() if not n.endswith("/")}
        if "params.py" not in names:
            raise FormatError(f"{where}: no params.py in the zip; is this a Phy/Kilosort export?")
        params = _read_params(archive.read(names["params.py"]).decode(), where)
        fs = float(params.get("sample_rate", fs))

        def load(name: str) -> npt.NDArray[Any]:
            member = names.get(f"{name}.npy")
            if member is None:
                raise FormatError(f"{where}: {name}.npy is missing from the zip")
            array: npt.NDArray[Any] = np.load(io.BytesIO(archive.read(member)), allow_pickle=False)
            return array

        clusters = load("spike_clusters").astype(np.int64).ravel()
        spike_times = load("spike_times").astype(np.int64).ravel()
        spike_templates = load("spike_templates").astype(np.int64).ravel()
        amplitudes = load("amplitudes").astype(np.float64).ravel()
        templates = load("templates").astype(np.float64)
        winv = load("whitening_mat_inv").astype(np.float64)
        channel_map = load("channel_map").astype(np.int64).ravel()
        positions = load("channel_positions").astype(np.float64)
        labels = _read_labels(archive, names, where)
    if not (clusters.size == spike_times.size == spike_templates.size == amplitudes.size):
        raise FormatError(
            f"{where}: spike_clusters, spike_times, spike_templates and amplitudes differ in length "
            f"({clusters.size}, {spike_times.size}, {spike_templates.size}, {amplitudes.size})"
        )
    if labels is None:
        log.warning(
            "%s: no cluster label TSV (%s); loading every cluster unlabelled", where, ", ".join(LABEL_FILES)
        )
    wanted = _wanted(groups_to_load)
    present = np.unique(clusters)
    keep = [int(c) for c in present if (labels.get(int(c), "") if labels is not None else "") in wanted]
    order = np.argsort(clusters, kind="stable")
    sorted_clusters = clusters[order]
    starts = np.searchsorted(sorted_clusters, keep, side="left")
    stops = np.searchsorted(sorted_clusters, keep, side="right")
    trains = []
    attributes = []
    for cluster, a, b in zip(keep, starts.tolist(), stops.tolist(), strict=True):
        spikes = order[a:b]  # indices of this cluster's spikes, in file order
        trains.append(np.sort(spike_times[spikes] / fs * 1e3))
        template_id = int(spike_templates[spikes[-1]])
        unwhitened = (templates[template_id] @ winv).T  # channels x samples
        peak_to_peak = unwhitened.max(axis=1) - unwhitened.min(axis=1)
        ranked = np.argsort(-peak_to_peak, kind="stable")
        best = int(ranked[0])
        neighbors = ranked[:N_NEIGHBORS]
        attributes.append(
            NeuronAttributes(
                cluster_id=cluster,
                channel=int(channel_map[best]),
                position=tuple(positions[best].tolist()),
                amplitudes=amplitudes[spikes],
                template=unwhitened[best],
                templates=unwhitened,
                label=labels.get(cluster, "") if labels is not None else "",
                neighbor_channels=channel_map[neighbors],
                neighbor_positions=positions[neighbors],
                neighbor_templates=unwhitened[neighbors],
            )
        )
    if length is None:
        length = max((float(t[-1]) for t in trains if t.size), default=0.0)
        log.info("%s: recording length not known; using the last spike (%.1f ms)", where, length)
    return SpikeData(
        trains,
        length=length,
        neuron_attributes=attributes,
        metadata={"experiment": experiment_name, "source": where},
    )


def _recording_length_ms(basepath: str, uuid: str, experiment: str | None) -> float | None:
    """Length (ms) of ``experiment`` from the recording's ``metadata.json``, when it says."""
    if experiment is None:
        return None
    uri = f"{basepath.rstrip('/')}/ephys/{uuid}/metadata.json"
    try:
        with storage.open(uri, "rb") as handle:
            meta = json.load(handle)
        entry = meta.get("ephys_experiments", {}).get(experiment)
        if entry is None:
            return None
        frames = sum(int(block["num_frames"]) for block in entry.get("blocks", []))
        rate = float(entry["sample_rate"])
    except (NotFoundError, KeyError, TypeError, ValueError):
        return None
    return frames / rate * 1e3 if frames and rate > 0 else None


def load_spike_data(  # noqa: PLR0917 - the legacy positional order is kept
    uuid: str,
    experiment: str | None = None,
    basepath: str | None = None,
    full_path: str | None = None,
    fs: float = 20000.0,
    groups_to_load: Sequence[Any] = DEFAULT_GROUPS,
    sorter: str = "kilosort2",
    *,
    length: float | None = None,
) -> SpikeData:
    """Load one sorted recording from a Phy/Kilosort zip as ``SpikeData``.

    The zip is ``<basepath>/ephys/<uuid>/derived/<sorter>/<experiment>*.zip``
    (the first in name order; a warning names the others), or ``full_path``.
    ``params.py``'s ``sample_rate`` overrides ``fs``. Cluster labels come from the
    first of ``cluster_info.tsv``, ``cluster_group.tsv``, ``cluster_KSLabel.tsv``
    in the zip (column ``group``, else ``KSLabel``); clusters whose label is in
    ``groups_to_load`` and that own at least one spike are loaded, in cluster-id
    order, each with a :class:`~braingeneers.analysis.attributes.NeuronAttributes`
    (template of the cluster's last spike, unwhitened; best channel by
    peak-to-peak amplitude; its 12 largest channels as neighbours).

    Parameters
    ----------
    uuid
        Recording UUID.
    experiment
        Prefix of the zip name (and key in the recording's ``metadata.json``).
    basepath
        Where ``ephys/`` lives; default ``s3://braingeneers`` (served from the
        local mirror when the endpoint is one).
    full_path
        URI or path of the zip; skips the search and names the experiment after the file.
    fs
        Sample rate in Hz when ``params.py`` lacks one.
    groups_to_load
        Labels to keep (NaN or ``""`` = unlabelled).
    sorter
        Sorter directory under ``derived/``.
    length
        Recording length in ms. Default: from ``metadata.json`` when ``experiment``
        is one of its ``ephys_experiments``, else the last spike.

    Raises
    ------
    braingeneers.core.errors.NotFoundError
        No zip matches.
    braingeneers.core.errors.FormatError
        The zip lacks a Phy file or holds inconsistent arrays.
    """
    base = basepath if basepath is not None else "s3://braingeneers"
    if full_path is not None:
        uri = str(full_path)
        name = PurePosixPath(uri).stem
    else:
        folder = f"{base.rstrip('/')}/ephys/{uuid}/derived/{sorter}/"
        prefix = experiment or ""
        try:
            listing = storage.list_objects(folder, recursive=False)
        except NotFoundError as err:
            raise NotFoundError(
                f"no sorted output folder {folder}; check the uuid and sorter {sorter!r}"
            ) from err
        zips = sorted(
            info.uri
            for info in listing
            if PurePosixPath(info.uri).name.startswith(prefix) and info.uri.endswith(".zip")
        )
        if not zips:
            raise NotFoundError(
                f"no {prefix}*.zip under {folder}; check experiment {experiment!r} and sorter {sorter!r}"
            )
        if len(zips) > 1:
            log.warning(
                "several zips match %s%s*.zip; loading %s (others: %s)", folder, prefix, zips[0], zips[1:]
            )
        uri = zips[0]
        name = experiment if experiment is not None else PurePosixPath(uri).stem
        if length is None:
            length = _recording_length_ms(base, uuid, experiment)
    return _read_zip(uri, fs, groups_to_load, name, length)


def _read_zip(
    uri: str, fs: float, groups_to_load: Sequence[Any], name: str, length: float | None
) -> SpikeData:
    from braingeneers.core.endpoint import local_path

    path = local_path(uri)
    if path is not None:
        if not path.is_file():
            raise NotFoundError(f"{path} does not exist")
        return _spike_data_from_zip(path, uri, fs, groups_to_load, name, length)
    with storage.open(uri, "rb") as handle:
        data = handle.read()
    return _spike_data_from_zip(data, uri, fs, groups_to_load, name, length)


def read_phy_files(path: str | os.PathLike[str], fs: float = 20000.0) -> SpikeData:
    """Load a Phy/Kilosort zip at a local path or URI (every label of ``DEFAULT_GROUPS``).

    Same as ``load_spike_data(uuid, full_path=path, fs=fs)``.
    """
    uri = os.fspath(path)
    return _read_zip(uri, fs, DEFAULT_GROUPS, PurePosixPath(uri).stem, None)
