"""Sphinx configuration for the Braingeneers toolkit documentation.

Built by ``nox -s docs`` with every distribution installed from its wheel
(``braingeneers[all]``); warnings are errors (``-W -n``).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

project = "Braingeneers"
author = "Braingeneers, UC Santa Cruz"
copyright = "Braingeneers, UC Santa Cruz"

try:
    release = _dist_version("braingeneers-core")
except PackageNotFoundError:  # building without the wheels installed
    release = "0.0.0+unknown"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]

root_doc = "index"
exclude_patterns = ["_build", "_generated", "benchmarks/**"]

myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]  # "term\n: definition" lists

napoleon_google_docstring = False
napoleon_numpy_docstring = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"

# ``-n`` is on: references into the standard library cannot resolve without
# intersphinx (the build has no network), so ignore exactly those.
nitpick_ignore = [
    ("py:class", "argparse.ArgumentParser"),
    ("py:class", "argparse.Namespace"),
    ("py:class", "collections.abc.Sequence"),
    ("py:class", "collections.abc.Callable"),
    ("py:class", "collections.abc.Mapping"),
    ("py:class", "logging.Logger"),
    # paho-mqtt and redis-py have no intersphinx here; braingeneers.iot signatures name them.
    ("py:class", "redis.Redis"),
    ("py:class", "mqtt.MQTTMessageInfo"),
    ("py:class", "mqtt.MQTTMessage"),
    ("py:class", "paho.mqtt.client.Client"),
    ("py:class", "MQTTErrorCode"),
    ("py:class", "CallbackAPIVersion"),  # in the signature BurstClient inherits from paho
    ("py:class", "MQTTProtocolVersion"),
    ("py:class", "paho.mqtt.enums.MQTTErrorCode"),
    ("py:class", "paho.mqtt.client.MQTTMessage"),
    ("py:class", "paho.mqtt.properties.Properties"),
    ("py:meth", "paho.mqtt.client.Client.publish"),
    ("py:meth", "paho.mqtt.properties.Properties.unpack"),
    ("py:exc", "paho.mqtt.properties.MalformedPacket"),
    ("py:class", "collections.abc.Iterable"),
    ("py:class", "datetime.datetime"),
    ("py:class", "datetime.timedelta"),
    ("py:class", "timedelta"),
    ("py:class", "os.PathLike"),
    ("py:class", "pathlib.Path"),
    ("py:class", "Path"),
    ("py:class", "subprocess.Popen"),
    ("py:class", "datetime"),
    # the type variable of braingeneers.iot.shadows' generic record methods (any Record subclass)
    ("py:class", "braingeneers.iot.records.R"),
    # torch has no intersphinx here; braingeneers.ml signatures name its tensor and dtype types.
    ("py:class", "torch.Tensor"),
    ("py:class", "torch.dtype"),
    # numpy has no intersphinx here; braingeneers.data's own types appear under these
    # names in signatures because they are imported only for type checking.
    ("py:class", "numpy.ndarray"),
    ("py:class", "numpy.dtype"),
    ("py:class", "collections.abc.Iterator"),
    ("py:class", "np.ndarray"),
    ("py:class", "ByteSource"),
    ("py:class", "BatchMetadata"),
    ("py:class", "ExperimentMetadata"),
    ("py:class", "BlockMetadata"),
    ("py:class", "braingeneers.data.formats._base.ChannelInfo"),
    # braingeneers.analysis signatures: numpy scalar/generator types, scipy and matplotlib
    # classes (no intersphinx), and names imported only for type checking.
    ("py:class", "numpy.float64"),
    ("py:class", "numpy.int64"),
    ("py:class", "numpy.bool"),
    ("py:class", "np.random.Generator"),
    ("py:class", "numpy.random._generator.Generator"),
    ("py:class", "collections.abc.Iterable"),
    ("py:class", "types.EllipsisType"),
    ("py:class", "scipy.sparse.csr_array"),
    ("py:class", "Axes"),
    ("py:class", "Figure"),
    ("py:class", "DCCResult"),
    ("py:class", "SpikeData"),
    ("py:class", "ArrayLike"),
    ("py:class", "npt.ArrayLike"),
    # zarr's store interface and the stdlib's module type (no intersphinx in the offline build)
    ("py:class", "Store"),
    ("py:class", "ModuleType"),
    ("py:class", "types.ModuleType"),
]

# numpy's private typing aliases (what ``numpy.typing.ArrayLike`` expands to in signatures)
nitpick_ignore_regex = [("py:class", r"numpy\._typing\..*")]

html_theme = "furo"
html_title = f"Braingeneers {release}"


def _demo_figures(app: object) -> None:
    """Run ``braingeneers demo`` once per build so the tutorial shows the figures of this code."""
    import shutil
    import tempfile
    from pathlib import Path

    target = Path(__file__).resolve().parent / "_generated" / "demo"
    from braingeneers.demo.pipeline import run

    with tempfile.TemporaryDirectory() as scratch:
        summary = run(Path(scratch) / "demo")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(summary.parent, target, ignore=shutil.ignore_patterns("*.npz"))


def setup(app: object) -> None:
    """Sphinx hook: generate the demo's figures before the sources are read."""
    app.connect("builder-inited", _demo_figures)  # type: ignore[attr-defined]
