"""Write ``docs/benchmarks.md`` from the tables ``nox -s bench`` keeps in ``docs/benchmarks/``.

Usage: ``python tools/benchmarks_page.py`` (after ``nox -s bench``). The page's summary of
targets is kept in ``docs/benchmarks/summary.md`` (written by hand from the tables), followed
by every table, verbatim, grouped by distribution.
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
RESULTS = DOCS / "benchmarks"

INTRO = """# Benchmarks

`nox -s bench` runs every distribution's benchmark scripts
(`packages/<dist>/benchmarks/bench_*.py`) with each distribution's `bench` dependency group,
beside their baselines in the same run — the legacy approach, a peer library (spikedata 0.2.2,
neo's Maxwell reader, bare paho-mqtt, bare redis-py, plain boto3 or urllib) or the physical
bound — and prints the ratios. It keeps each script's output in `docs/benchmarks/`; this page
shows the latest run (`python tools/benchmarks_page.py` rebuilds it). Select scripts with
`BRAINGENEERS_BENCH=braingeneers-data nox -s bench`; `nox -s bench -- --quick` runs the small
sizes. Timings are never asserted in tests; every benchmark checks that ours and the baseline
return the same values before timing them.

**Machine of the latest run:** {machine}. The machine was shared with other work during the
runs (load average in each table's header), so absolute times are pessimistic; the ratios
are measured side by side in one process and are the numbers to read.
"""


def main() -> None:
    """Write the page."""
    machine = (RESULTS / "machine.txt").read_text().strip()
    parts = [INTRO.format(machine=machine)]
    summary = RESULTS / "summary.md"
    if summary.is_file():
        parts.append(summary.read_text())
    tables = sorted(RESULTS.glob("*--bench_*.txt"))
    dist = ""
    for table in tables:
        name, _, script = table.stem.partition("--")
        if name != dist:
            parts.append(f"## {name}\n")
            dist = name
        parts.append(f"### {script}\n\n```{{literalinclude}} benchmarks/{table.name}\n:language: text\n```\n")
    (DOCS / "benchmarks.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
