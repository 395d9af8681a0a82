"""Benchmark: the shadows client beside bare ``urllib`` requests, against a local Strapi 4.

* list: ``Shadows.find_all`` of 250 interaction-things (three pages of at most 100, typed
  records) against the same three bare GETs with ``json.loads``;
* read: ``Shadows.get_shadow`` (one filtered GET) against the same bare GET;
* update: ``Shadows.update_shadow`` with ``settle=0`` (GET, PUT of the shadow, one re-read
  to check for a concurrent stale write) and with the default ``settle=0.5`` (re-reads for
  half a second), against the legacy pattern: a bare GET and a PUT of the merged shadow,
  which loses concurrent writers' keys.

Sequential, one client, loopback. ``ratio`` is ours/bare in operations per second (above 1
means ours is faster). The Strapi install is reused from ``~/.cache/braingeneers-strapi``
(the first run installs it from npm, a few minutes).

Usage: ``python bench_shadows.py [--quick]``. Needs Node.js with npm.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from braingeneers.iot.shadows import Shadows, Thing
from braingeneers.iot.testing import StrapiServer, running_strapi

PROJECT = Path(__file__).resolve().parent.parent / "tests" / "strapi"


def _rate(count: int, op: Callable[[int], object]) -> float:
    best = 0.0
    for _ in range(2):
        started = time.perf_counter()
        for i in range(count):
            op(i)
        best = max(best, count / (time.perf_counter() - started))
    return best


def _bare(server: StrapiServer, method: str, path: str, query: dict[str, str], body: Any = None) -> Any:
    url = f"{server.url}/{path}?{urllib.parse.urlencode(query)}"
    data = json.dumps(body).encode() if body is not None else None
    headers = {**server.headers(), "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main() -> None:
    quick = "--quick" in sys.argv
    n = 10 if quick else 40
    with tempfile.TemporaryDirectory() as tmp, running_strapi(PROJECT, Path(tmp)) as server:
        fast = Shadows(server.url, token_provider=server, settle=0.0)
        default = Shadows(server.url, token_provider=server)
        for index in range(250):
            fast.create(Thing, {"name": f"bench-{index:03d}", "type": "Other", "shadow": {}})
        name = "bench-000"
        thing_id = fast.thing(name).id

        def bare_list(i: int) -> None:
            for page in (1, 2, 3):
                _bare(server, "GET", "interaction-things", {"pagination[page]": str(page), "populate": "*"})

        def bare_read(i: int) -> Any:
            found = _bare(server, "GET", "interaction-things", {"filters[name][$eq]": name, "populate": "*"})
            return found["data"][0]

        def bare_update(i: int) -> None:
            entry = bare_read(i)
            shadow = {**(entry["attributes"]["shadow"] or {}), "COUNT": i}
            _bare(server, "PUT", f"interaction-things/{thing_id}", {}, {"data": {"shadow": shadow}})

        rows = [
            ("list 250 (3 pages) /s", _rate(n, lambda i: fast.find_all(Thing)), _rate(n, bare_list)),
            ("read shadow /s", _rate(n, lambda i: fast.get_shadow(name)), _rate(n, bare_read)),
            (
                "update, settle=0 /s",
                _rate(n, lambda i: fast.update_shadow(name, {"COUNT": i})),
                _rate(n, bare_update),
            ),
            (
                "update, settle=0.5 /s",
                _rate(max(3, n // 10), lambda i: default.update_shadow(name, {"COUNT": i})),
                _rate(n, bare_update),
            ),
        ]
    run = "quick" if quick else "full"
    print(f"\nShadows client against a local Strapi 4.25 ({run} run, {n} operations)")
    print(f"{'measure':<24}{'ours':>10}{'bare urllib':>13}{'ratio':>8}")
    for label, ours, base in rows:
        print(f"{label:<24}{ours:>10,.1f}{base:>13,.1f}{ours / base:>8.2f}")
    print("bare: the same GET/PUT requests with urllib and json.loads; its update loses concurrent keys")


if __name__ == "__main__":
    main()
