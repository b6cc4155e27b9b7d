"""Benchmark: the edge (docs/edge.md), issue 12's targets, in one run.

One real control plane; acme-vpc is a public gateway; `web` and `db` are its instances; `laptop`
is an external host on the intermediate network.
 - API: allocate, associate (a remap once associated), disassociate, release, each timed
   through the REST API (httpx), ROUNDS times: median and longest (target <= 100 ms each).
 - Throughput: `laptop` runs iperf3 against `web` through its public address (core, gateway,
   1:1 NAT) and through the same hops without NAT (the bench adds, in the core and the gateway
   only, a route and an accept rule for web's private address: same namespaces, same links,
   no translation), alternately, ROUNDS times each; the ratio of medians is the figure
   (target >= 0.85).
 - Remap: a loop in `laptop` opens a connection to the address every few ms (bounded in count
   and time); the address is remapped web <-> db through the API, REMAPS times; the figure is
   the time from the call's return to the first answer from the new target (target <= 1 s).
 - The private channel: site `hq` (192.168.0.0/16) with host `desk`, joined to acme-vpc by vpn
   `hq-link` (WireGuard; wireguard-go here). iperf3 desk -> web over the channel, and over the
   same hops without it (the bench replaces, in the two gateways only, the tunnel's routes by
   routes via the other gateway's address on the intermediate network, with accept rules and
   no NAT: the same namespaces and links, no encryption), alternately, ROUNDS times each; and
   the round trip of a TCP connection with a greeting (median of PINGS), both ways: the
   channel's added latency.

    sudo .venv/bin/python bench/edge.py [--rounds 5] [--seconds 3] [--remaps 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from typing import Any

from common import ControlPlane, control_plane_with
from tests.integration import nsclient

LAYOUT = """
accounts: [{name: acme}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.50.0.0/16,
     subnets: [{name: app, cidr: 10.50.1.0/24}]}
instances:
  - {name: web, account: acme, interfaces: [acme-vpc/app]}
  - {name: db, account: acme, interfaces: [acme-vpc/app]}
"""
NAME_PORT = 8080


def timed(cp: ControlPlane, method: str, path: str, **kw: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    r = cp.api(method, path, **kw)
    took = time.perf_counter() - start
    assert r.status_code in (200, 201, 204), r.text
    return took, (r.json() if r.content else None)


def api_rounds(cp: ControlPlane, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"allocate": [], "associate": [], "remap": [],
                                   "disassociate": [], "release": []}
    for _ in range(rounds):
        took, row = timed(cp, "POST", "/v1/public-ips", json={"account": "acme"})
        out["allocate"].append(took)
        address = row["address"]
        out["associate"].append(timed(cp, "POST", f"/v1/public-ips/{address}/associate",
                                      json={"instance": "db"})[0])
        out["remap"].append(timed(cp, "POST", f"/v1/public-ips/{address}/associate",
                                  json={"instance": "web"})[0])
        out["disassociate"].append(timed(cp, "POST",
                                         f"/v1/public-ips/{address}/disassociate")[0])
        out["release"].append(timed(cp, "DELETE", f"/v1/public-ips/{address}")[0])
    return out


def iperf(cp: ControlPlane, target: str, seconds: int, client: str = "laptop") -> float:
    res = cp.cli("exec", client, "--timeout", str(seconds + 20), "--", "iperf3", "-c",
                 target, "-p", "5201", "-t", str(seconds), "-A", "0,1", "-J")
    return float(json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9


def ns_run(netns: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns, *argv], check=True, capture_output=True)


def who(netns: str, ip: str) -> str | None:
    said = nsclient.greeting(netns, ip, NAME_PORT, 0.2)
    return said[0] if isinstance(said, tuple) else None


def remaps(cp: ControlPlane, laptop: str, address: str, count: int) -> list[float]:
    """`address` is web's: remapped to db, back to web, and so on."""
    out = []
    target = "web"
    for _ in range(count):
        target = "db" if target == "web" else "web"
        timed(cp, "POST", f"/v1/public-ips/{address}/associate", json={"instance": target})
        returned = time.perf_counter()
        for _attempt in range(2000):  # bounded: 2,000 tries, 10 s
            if who(laptop, address) == target or time.perf_counter() - returned > 10:
                break
            time.sleep(0.002)
        out.append(time.perf_counter() - returned)
    timed(cp, "POST", f"/v1/public-ips/{address}/disassociate")
    timed(cp, "DELETE", f"/v1/public-ips/{address}")
    return out


def rtt(netns: str, ip: str, count: int) -> float:
    """Median seconds for a new TCP connection and the server's greeting (bounded)."""
    out = []
    for _ in range(count):
        start = time.perf_counter()
        said = nsclient.greeting(netns, ip, NAME_PORT, 1.0)
        if isinstance(said, tuple):
            out.append(time.perf_counter() - start)
    assert out, f"{ip} never answered from {netns}"
    return statistics.median(out)


def channel_paths(net: dict[str, Any], site: dict[str, Any], vpn: dict[str, Any]
                  ) -> tuple[Any, Any]:
    """Two switches between the channel and the same hops without it (bench only)."""
    net_gw, site_gw = net["gateway_ip"], site["gateway_ip"]
    wg_n, wg_s = vpn["interfaces"]["network"], vpn["interfaces"]["site"]
    subnet, site_cidr = "10.50.1.0/24", site["cidr"]
    for netns, peer_side in ((net["router"], site_cidr), (site["router"], subnet)):
        # accepted before the gateways' own rules, not translated by the site's outbound NAT
        ns_run(netns, "nft", "insert", "rule", "ip", "fcd_rt", "forward", "iifname", "inet0",
               "ip", "saddr", peer_side, "accept")
        ns_run(netns, "nft", "insert", "rule", "ip", "fcd_rt", "forward", "oifname", "inet0",
               "ip", "daddr", peer_side, "accept")
        ns_run(netns, "nft", "insert", "rule", "ip", "fcd_rt", "postrouting", "oifname",
               "inet0", "ip", "daddr", peer_side, "accept")

    def direct() -> None:
        ns_run(net["router"], "ip", "route", "replace", site_cidr, "via", site_gw)
        ns_run(site["router"], "ip", "route", "replace", subnet, "via", net_gw)

    def tunnel() -> None:
        ns_run(net["router"], "ip", "route", "replace", site_cidr, "dev", wg_n, "scope", "link")
        ns_run(site["router"], "ip", "route", "replace", subnet, "dev", wg_s, "scope", "link")

    return direct, tunnel


def channel(cp: ControlPlane, rounds: int, seconds: int, pings: int,
            web: dict[str, Any]) -> dict[str, Any]:
    timed(cp, "POST", "/v1/sites", json={"name": "hq", "account": "acme",
                                         "cidr": "192.168.0.0/16"})
    timed(cp, "POST", "/v1/sites/hq/hosts", json={"name": "desk", "ip": "192.168.1.10"})
    took, vpn = timed(cp, "POST", "/v1/vpns", json={"name": "hq-link", "network": "acme-vpc",
                                                   "site": "hq"})
    net, site = cp.get("/v1/networks/acme-vpc"), cp.get("/v1/sites/hq")
    desk = cp.get("/v1/instances/desk")["netns"]
    private = web["interfaces"][0]["ip"]
    server = nsclient.Greeter(web["netns"], "web", NAME_PORT)
    try:
        first = time.perf_counter()
        while who(desk, private) != "web" and time.perf_counter() - first < 10:
            time.sleep(0.002)
        first = time.perf_counter() - first
        direct, tunnel = channel_paths(net, site, vpn)
        wg, plain, wg_rtt, plain_rtt = [], [], [], []
        for _ in range(rounds):
            tunnel()
            wg.append(iperf(cp, private, seconds, client="desk"))
            wg_rtt.append(rtt(desk, private, pings))
            direct()
            plain.append(iperf(cp, private, seconds, client="desk"))
            plain_rtt.append(rtt(desk, private, pings))
        tunnel()
    finally:
        server.close()
    return {"create": took, "first": first, "wg": wg, "plain": plain,
            "wg_rtt": statistics.median(wg_rtt), "plain_rtt": statistics.median(plain_rtt)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--remaps", type=int, default=6)
    ap.add_argument("--pings", type=int, default=200)
    args = ap.parse_args()
    os.environ["FACADE_RESYNC"] = "3600"  # the no-NAT path's two hand-made entries must stay
    with control_plane_with(LAYOUT) as cp:
        net = timed(cp, "PATCH", "/v1/networks/acme-vpc", json={"public_gateway": True})[1]
        cp.cli("external", "create", "laptop", "-a", "acme")
        nodes = {n: cp.get(f"/v1/instances/{n}") for n in ("web", "db")}
        laptop = cp.get("/v1/externals/laptop")["netns"]
        core = next(n["router"] for n in cp.items("/v1/networks") if n["kind"] == "intermediate")
        api = api_rounds(cp, args.rounds * 4)
        address = timed(cp, "POST", "/v1/public-ips", json={"account": "acme"})[1]["address"]
        timed(cp, "POST", f"/v1/public-ips/{address}/associate", json={"instance": "web"})
        private = nodes["web"]["interfaces"][0]["ip"]
        cp.cli("exec", "web", "--", "iperf3", "-s", "-D", "-B", private, "-p", "5201")
        # the same hops without translation: the core routes web's private address to the
        # gateway, and the gateway lets it in (bench only; removed with the namespaces)
        ns_run(core, "ip", "route", "add", f"{private}/32", "via", net["gateway_ip"])
        ns_run(net["router"], "nft", "insert", "rule", "ip", "fcd_rt", "forward",
               "iifname", "inet0", "ip", "daddr", private, "accept")
        nat, plain = [], []
        for _ in range(args.rounds):
            nat.append(iperf(cp, address, args.seconds))
            plain.append(iperf(cp, private, args.seconds))
        servers = [nsclient.Greeter(nodes[n]["netns"], n, NAME_PORT) for n in ("web", "db")]
        try:
            remap = remaps(cp, laptop, address, args.remaps)
        finally:
            for s in servers:
                s.close()
        chan = channel(cp, args.rounds, args.seconds, args.pings, nodes["web"])
    print(f"API, {args.rounds * 4} rounds each (ms): median / longest\n")
    print("| call | median | longest |\n|---|---|---|")
    for call, xs in api.items():
        print(f"| {call} | {statistics.median(xs) * 1e3:.0f} | {max(xs) * 1e3:.0f} |")
    n, p = statistics.median(nat), statistics.median(plain)
    print(f"\nTCP throughput, external host -> web, one iperf3 stream (client on CPU 0, server "
          f"on CPU 1), {args.rounds} x {args.seconds} s each, alternating (Gbit/s)\n")
    print("| path | median | all runs |\n|---|---|---|")
    print(f"| the same hops without NAT (core, gateway, web's private address) | {p:.2f} | "
          f"{', '.join(f'{x:.2f}' for x in plain)} |")
    print(f"| through the public address (core, gateway with 1:1 NAT) | {n:.2f} | "
          f"{', '.join(f'{x:.2f}' for x in nat)} |")
    print(f"\nratio NAT / without NAT: **{n / p:.2f}** (target >= 0.85)")
    print(f"\nremap, {args.remaps} times web <-> db: new target answering after the call "
          f"returned (ms): {', '.join(f'{x * 1e3:.0f}' for x in remap)}; "
          f"longest **{max(remap) * 1e3:.0f} ms** (target <= 1 s)")
    w, d = statistics.median(chan["wg"]), statistics.median(chan["plain"])
    print(f"\nthe private channel: `vpn create` {chan['create'] * 1e3:.0f} ms through the API; "
          f"desk answered by web {chan['first'] * 1e3:.0f} ms after it returned")
    print(f"\nTCP throughput, site host desk -> web, one iperf3 stream, {args.rounds} x "
          f"{args.seconds} s each, alternating (Gbit/s)\n")
    print("| path | median | all runs |\n|---|---|---|")
    print(f"| the same hops without the channel (site gateway, network gateway, routed) | "
          f"{d:.2f} | {', '.join(f'{x:.2f}' for x in chan['plain'])} |")
    print(f"| over the channel (WireGuard) | {w:.2f} | "
          f"{', '.join(f'{x:.2f}' for x in chan['wg'])} |")
    print(f"\nratio channel / without: **{w / d:.2f}**")
    added = (chan["wg_rtt"] - chan["plain_rtt"]) * 1e3
    print(f"\nround trip of a new TCP connection and a greeting, desk -> web, median of "
          f"{args.pings} x {args.rounds}: without the channel {chan['plain_rtt'] * 1e3:.3f} "
          f"ms, over it {chan['wg_rtt'] * 1e3:.3f} ms: **+{added:.3f} ms** added by the "
          "channel")


if __name__ == "__main__":
    main()
