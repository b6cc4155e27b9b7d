"""Benchmark: how fast a failed backend leaves the rotation, and how fast the appliance is
whole again.

One real control plane, an http-echo appliance with 3 backends. Each round breaks one backend
and times, reading the front-end's nftables map directly (`nft -j list map` in its namespace):
 - hang: the workload is stopped (SIGSTOP): time until it leaves the rotation; then SIGCONT
   and time until it is back;
 - crash: the workload is killed (SIGKILL): time until it leaves the rotation, and until a
   restarted workload is back in it;
 - node loss: the backend's namespace is deleted behind the control plane's back: time until
   the node is rebuilt and back in the rotation;
 - hung node replaced: the workload stays stopped: time until a NEW backend node replaced it
   and the rotation is back to 3 backends (the appliance's desired size).
Targets (issue 3): out of rotation within 3 s; back to full size within 10 s.

    sudo .venv/bin/python bench/failover.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Callable

from common import ControlPlane, control_plane_with

from facade.controller.healing import STARTUP_GRACE

LAYOUT = """
accounts: [{name: acme}, {name: echoco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: echo-vpc, account: echoco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - {name: echo, account: echoco, workload: http-echo, port: 80,
     backend_subnet: echo-vpc/backend, management_subnet: echo-vpc/mgmt}
appliances:
  - {name: echo1, account: acme, service: echo, subnet: acme-vpc/app, backends: 3}
"""


def rotation(fe: str) -> set[str]:
    out = subprocess.run(["ip", "netns", "exec", fe, "nft", "-j", "list", "map", "ip", "fcd_fe",
                          "backends"], capture_output=True, text=True, timeout=10).stdout
    for obj in json.loads(out)["nftables"]:
        if "map" in obj:
            return {e[1] for e in obj["map"].get("elem", [])}
    return set()


def until(predicate: Callable[[], bool], timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if predicate():
            return time.perf_counter() - start
        time.sleep(0.01)
    raise TimeoutError("condition not met in time")


def workload_pid(node: str) -> int:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    cmd = fh.read().replace(b"\0", b" ").decode()
            except OSError:
                continue
            # the workload itself, not the bwrap that started it in its sandboxes (whose
            # command line holds the workload's)
            if "facade.workloads.http_echo" in cmd and f"--name {node} " in cmd \
                    and not cmd.split(" ", 1)[0].endswith("bwrap"):
                return int(pid)
    raise LookupError(node)


def one_round(cp: ControlPlane, k: int) -> dict[str, float]:
    app = cp.get("/v1/appliances/echo1")
    fe = app["frontend"]["netns"]
    victim = app["backends"][k % len(app["backends"])]
    ip = victim["interfaces"][0]["ip"]
    until(lambda: ip in rotation(fe))
    times: dict[str, float] = {}
    pid = workload_pid(victim["name"])
    os.kill(pid, signal.SIGSTOP)
    times["hang: out of rotation"] = until(lambda: ip not in rotation(fe))
    os.kill(pid, signal.SIGCONT)
    times["hang: back after SIGCONT"] = until(lambda: ip in rotation(fe))
    os.kill(workload_pid(victim["name"]), signal.SIGKILL)
    start = time.perf_counter()
    times["crash: out of rotation"] = until(lambda: ip not in rotation(fe))
    until(lambda: ip in rotation(fe))
    times["crash: back in rotation"] = time.perf_counter() - start
    old = workload_pid(victim["name"])
    subprocess.run(["ip", "netns", "delete", victim["netns"]], check=True, timeout=10)
    start = time.perf_counter()

    def rebuilt() -> bool:
        try:
            serving = workload_pid(victim["name"]) != old
        except LookupError:
            return False
        return (serving and os.path.exists(f"/run/netns/{victim['netns']}")
                and ip in rotation(fe))

    until(rebuilt)
    times["node loss: rebuilt and back in rotation"] = time.perf_counter() - start
    time.sleep(STARTUP_GRACE)  # nodes younger than this are never replaced
    pid = workload_pid(victim["name"])
    os.kill(pid, signal.SIGSTOP)
    start = time.perf_counter()

    def replaced() -> bool:
        now = rotation(fe)
        return len(now) == 3 and ip not in now

    try:
        until(replaced)
        times["hung node: replaced, desired size again"] = time.perf_counter() - start
    finally:
        if os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGCONT)
    until(lambda: not os.path.exists(f"/run/netns/{victim['netns']}"))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    results: dict[str, list[float]] = {}
    with control_plane_with(LAYOUT) as cp:
        for k in range(args.rounds):
            for step, t in one_round(cp, k).items():
                results.setdefault(step, []).append(t)
    print(f"failover, http-echo appliance with 3 backends, {args.rounds} rounds (ms)\n")
    print("| what | median | min | max |\n|---|---|---|---|")
    for step, xs in results.items():
        print(f"| {step} | {statistics.median(xs) * 1000:.0f} | {min(xs) * 1000:.0f} | "
              f"{max(xs) * 1000:.0f} |")


if __name__ == "__main__":
    main()
