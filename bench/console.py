"""Benchmark: the console's first paint of the topology with 100 appliances (issue 15's target:
at most 1 s on this machine).

No root needed: a control plane on the fake data plane with its controller running, served by
uvicorn on a loopback port (tests/console_plane.py); the store is filled through the API (acme's
appliances of searchco's service, 2 backends each by default) and the controller makes them ready.
Debian's headless Chromium (Playwright, tests/browser.py) signs in as the customer, the provider
and the operator; for each, RUNS loads of `/#/topology` in a fresh page, each timed from the
navigation's start to the moment the SVG with every node chip is in the document (a
MutationObserver in the page), which is when the browser paints it; also the page's First
Contentful Paint and how long its GET /v1/topology took (the picture is drawn as soon as that
is in; the nodes' health from GET /v1/appliances follows). Prints a Markdown table; docs/benchmarks.md
records its output.

    .venv/bin/python bench/console.py [--appliances 100] [--runs 10] [--backends 2] [--screenshot FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser import available, chromium, sign_in, watched_page
from tests.console_plane import served_plane, world

from facade.api import console

BACKENDS = 2
# records when the topology's SVG first holds `window.wantChips` chips
OBSERVE = """
window.paintAt = null;
new MutationObserver(() => {
  const svg = document.getElementById("topo-svg");
  if (window.paintAt === null && svg && svg.querySelectorAll(".node").length >= window.wantChips) {
    window.paintAt = performance.now();
  }
}).observe(document, {childList: true, subtree: true});
"""


def asset_size() -> int:
    own = [p for p in console.assets().rglob("*") if p.suffix in (".js", ".css")]
    return sum(len(gzip.compress(p.read_bytes(), 9)) for p in own)


def first_paints(browser: object, base: str, token: str, runs: int,
                 screenshot: str | None = None) -> dict[str, list[float]]:
    seen = watched_page(browser)
    sign_in(seen, base, token)
    seen.page.wait_for_selector("#topo-svg .node")
    chips = seen.page.eval_on_selector_all("#topo-svg .node", "els => els.length")
    out: dict[str, list[float]] = {"paint": [], "fcp": [], "api": []}
    seen.page.add_init_script(f"window.wantChips = {chips};\n{OBSERVE}")
    for _ in range(runs):
        seen.page.goto("about:blank")
        seen.page.goto(base + "/#/topology")
        seen.page.wait_for_function("() => window.paintAt !== null", timeout=30_000)
        out["paint"].append(seen.page.evaluate("window.paintAt"))
        out["fcp"].append(seen.page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"))
        out["api"].append(seen.page.evaluate(
            "performance.getEntriesByType('resource').find(e => e.name.endsWith('/v1/topology'))"
            "?.duration ?? -1"))
    assert not seen.errors, seen.errors
    if screenshot:
        seen.page.fill("#topo-search", "app1")  # what search does to a big picture
        seen.page.wait_for_timeout(200)
        seen.page.screenshot(path=screenshot)
    seen.page.context.close()
    out["chips"] = [float(chips)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appliances", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backends", type=int, default=BACKENDS,
                        help="per appliance (a subnet's bridge holds 1,022 interfaces: 500 "
                             "appliances need 1)")
    parser.add_argument("--screenshot", help="save the provider's picture, searched, here")
    args = parser.parse_args()
    why = available()
    if why:
        raise SystemExit(f"cannot run: {why}")
    with tempfile.TemporaryDirectory() as tmp, served_plane(Path(tmp)) as plane:
        t0 = time.perf_counter()
        tokens = world(plane, args.appliances, args.backends, timeout=900)
        filled = time.perf_counter() - t0
        rows = []
        with chromium() as browser:
            for who, token in (("customer (acme)", tokens["acme"]),
                               ("provider (searchco)", tokens["searchco"]),
                               ("operator", plane.token)):
                got = first_paints(browser, plane.base, token, args.runs,
                                   args.screenshot if who.startswith("provider") else None)
                rows.append((who, int(got["chips"][0]), got))
    print(f"{dt.date.today()} · {platform.python_version()} · {args.appliances} appliances of "
          f"{args.backends} backends (store filled through the API in {filled:.1f} s) · "
          f"{args.runs} loads each · own script and styles {asset_size() / 1000:.1f} kB "
          f"compressed · load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| signed in as | node chips | first paint of the topology, median (max) | "
          "first contentful paint, median | its GET /v1/topology, median |")
    print("|---|---|---|---|---|")
    for who, chips, got in rows:
        print(f"| {who} | {chips} | {statistics.median(got['paint']):.0f} ms "
              f"({max(got['paint']):.0f} ms) | {statistics.median(got['fcp']):.0f} ms | "
              f"{statistics.median(got['api']):.0f} ms |")


if __name__ == "__main__":
    main()
