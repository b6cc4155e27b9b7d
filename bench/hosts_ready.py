"""Create -> `ready` of an appliance whose backends span three hosts (issue 13's target: <= 1 s),
against the same appliance on one host, in one run (root, in a sandbox of its own:
`tests/integration/sandbox`).

A real control plane with bench/scale.py's layout; appliances of three backends are created one
after the other and timed until `ready` (polled every 10 ms), first with the local host alone
(every backend on it), then with two simulated hosts added (`facade host add h1|h2
--simulated`), when the scheduler puts one backend on each of local, h1 and h2 (checked for
each appliance). Each appliance is deleted before the next is made, so both columns see the
same world. Prints a Markdown table; docs/benchmarks.md records its output.

    tests/integration/sandbox .venv/bin/python bench/hosts_ready.py [--sample 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import ECHO_LAYOUT as LAYOUT
from common import ControlPlane, control_plane_with


def _one(cp: ControlPlane, name: str) -> tuple[float, list[str]]:
    started = time.monotonic()
    r = cp.api("POST", "/v1/appliances", json={
        "name": name, "account": "acme", "service": "echo", "subnet": "acme-vpc/app",
        "backends": 3})
    assert r.status_code == 202, r.text
    while True:
        app = cp.get(f"/v1/appliances/{name}")
        if app["status"] == "ready":
            took = time.monotonic() - started
            break
        assert time.monotonic() - started < 30, app
        time.sleep(0.01)
    hosts = sorted(b["host"] for b in app["backends"])
    assert cp.api("DELETE", f"/v1/appliances/{name}").status_code in (202, 204)
    cp.wait_for(lambda: cp.api("GET", f"/v1/appliances/{name}").status_code == 404,
                timeout=30, what=f"{name} deleted")
    return took, hosts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=7, help="appliances timed in each column")
    args = ap.parse_args()
    rows = []
    with control_plane_with(LAYOUT) as cp:
        one = [_one(cp, f"one{i}") for i in range(args.sample)]
        assert all(h == ["local"] * 3 for _, h in one)
        for host in ("h1", "h2"):
            cp.cli("host", "add", host, "--simulated")
        three = [_one(cp, f"three{i}") for i in range(args.sample)]
        assert all(h == ["h1", "h2", "local"] for _, h in three), [h for _, h in three]
        for host in ("h1", "h2"):
            cp.cli("host", "remove", host)
        rows = [("one host (local)", one), ("three hosts (local, h1, h2)", three)]
    print(f"create -> ready of an appliance of 3 backends, {args.sample} at each, one after "
          "the other\n")
    print("| backends on | median | min | max |")
    print("|---|---|---|---|")
    for label, got in rows:
        times = [t for t, _ in got]
        print(f"| {label} | {statistics.median(times):.3f} s | {min(times):.3f} s | "
              f"{max(times):.3f} s |")
    for label, got in rows:
        print(f"{label}, one after the other: " + ", ".join(f"{t:.2f}" for t, _ in got))


if __name__ == "__main__":
    main()
