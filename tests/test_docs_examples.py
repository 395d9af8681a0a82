"""Every ``python`` code block in the docs runs, so the examples cannot rot.

The blocks of one page run in order in one namespace, in a fresh working directory whose
default endpoint is a local mirror there (no S3, broker or network). A block that must not
run (it needs lab credentials, a broker or a GPU) is preceded by a MyST comment line
``% not-executed: <reason>``; the reason is required.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(
    r"^(?P<indent> *)(?P<fence>`{3,})python[ \t]*\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)
SKIP = re.compile(r"^% not-executed: *(?P<reason>\S.*)$")


def _blocks(page: Path) -> list[tuple[int, str, str | None]]:
    """(line number, code, skip reason) of each python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    found: list[tuple[int, str, str | None]] = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        skip = SKIP.match(before)
        indent = len(match.group("indent"))
        body = "\n".join(row[indent:] for row in match.group("body").splitlines())
        found.append((line, body, skip.group("reason") if skip else None))
    return found


PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and _blocks(p))


def test_skip_markers_carry_a_reason() -> None:
    for page in DOCS.rglob("*.md"):
        for number, row in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if row.startswith("% not-executed"):
                assert SKIP.match(row), f"{page}:{number}: give the reason after '% not-executed:'"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from braingeneers.core import endpoint

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for name in ("ENDPOINT", "AWS_PROFILE", "BRAINGENEERS_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setattr(endpoint, "_current", None)
    endpoint.set_default_endpoint(tmp_path / "mirror")
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    ran = 0
    for line, code, skip in _blocks(page):
        if skip is not None:
            continue
        try:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)  # the docs' own examples
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{page.relative_to(DOCS)} line {line}: example raised {exc!r}")
        ran += 1
    os.environ.pop("ENDPOINT", None)
    if ran == 0:
        pytest.skip(f"every example of {page.name} is marked not-executed")
