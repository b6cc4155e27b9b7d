"""Isolation at the edge, proved with packets (issue 12; the edge's part of the property test of
test_isolation_property.py, docs/edge.md).

Hypothesis generates small topologies: 2-3 tenants, each with one network 10.0.0.0/16 and one
subnet 10.0.1.0/24 (overlapping on purpose), a public gateway or not, outbound NAT or not, 1-3
instances each with a standard public address, a customer public address or none, a customer
site or not (192.168.0.0/16 for every tenant, one host at 192.168.1.10, joined to the tenant's
network by a vpn), and 1-2 external hosts on the intermediate network. Each topology is built with ONE `facade apply -f`
(the scenario file's edge keys) and removed with `facade destroy -f`.

Every instance and external host runs an identity server (test-side, in its namespace) that
answers "NAME PEER" (its name and the address it saw the client come from). Then real TCP
connections are compared with this model:

- from an external host, to every address Facade handed out (private, public, the gateways'
  and the other external hosts'): a public address associated with an instance answers with
  THAT instance's name and the external host's own address (the translation keeps the
  client's address); another external host answers (same segment); nothing else connects,
  and no reset comes back either (a reset proves a packet reached a host);
- from an instance, to every external host and every public address: it connects iff the
  instance reaches out (it has a public address, seen as that address; or its network has
  outbound NAT, seen as its gateway's address) and the target answers from the Internet (an
  external host, or an associated public address: a hairpin through the core), except one
  case the gateway does not do: through outbound NAT to an address its own gateway
  translates (the answer is addressed to the gateway itself; docs/edge.md);
- from a site's host, to every private address of the topology (the same addresses in every
  tenant): only its own tenant's instance answers, seeing the host's own address; to every
  external host and public address: it reaches out through its site's gateway (seen as that
  gateway's address), as an office does;
- from an instance, to the site host's address: its own tenant's site host answers (seeing
  the instance's own address) iff the tenant has a site; never another tenant's;
- from an external host, to a site host's address or a site's gateway: nothing.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root

PORT = 7000
DESK = "192.168.1.10"
TIMEOUT = 0.4
TOTAL = {"pairs": 0, "topologies": 0}
SETTLED: list[float] = []  # per topology: seconds until its positive pairs first answered


@dataclass(frozen=True)
class Tenant:
    gateway: bool
    outbound: bool
    addresses: tuple[str, ...]  # per instance: "standard" | "customer" | "none"
    site: bool = False  # a customer site joined to the network by a vpn


@dataclass(frozen=True)
class Topology:
    tenants: tuple[Tenant, ...]
    externals: int

    def yaml(self) -> str:
        acct = [f"edge{i}" for i in range(len(self.tenants))]
        lines = ["accounts:", *(f"  - {{name: {a}}}" for a in acct), "networks:"]
        for i, t in enumerate(self.tenants):
            lines.append(f"  - {{name: {acct[i]}-vpc, account: {acct[i]}, cidr: 10.0.0.0/16, "
                         f"public_gateway: {str(t.gateway).lower()}, "
                         f"outbound_nat: {str(t.outbound).lower()}, "
                         "subnets: [{name: app, cidr: 10.0.1.0/24}]}")
        lines.append("instances:")
        public = []
        for i, t in enumerate(self.tenants):
            for j, kind in enumerate(t.addresses):
                lines.append(f"  - {{name: {acct[i]}-x{j}, account: {acct[i]}, "
                             f"interfaces: [{acct[i]}-vpc/app], "
                             f"public_ip: {str(kind == 'standard').lower()}}}")
                if kind == "customer":
                    public.append(f"  - {{account: {acct[i]}, instance: {acct[i]}-x{j}}}")
        lines += ["external_hosts:", *(f"  - {{name: edge-ext{k}, account: {acct[0]}}}"
                                       for k in range(self.externals))]
        with_site = [a for a, t in zip(acct, self.tenants, strict=True) if t.site]
        if with_site:
            lines += ["sites:", *(f"  - {{name: {a}-hq, account: {a}, cidr: 192.168.0.0/16, "
                                  f"hosts: [{{name: {a}-desk, ip: {DESK}}}]}}"
                                  for a in with_site)]
            lines += ["vpns:", *(f"  - {{name: {a}-link, network: {a}-vpc, site: {a}-hq}}"
                                 for a in with_site)]
        if public:
            lines += ["public_ips:", *public]
        return "\n".join(lines) + "\n"


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    tenants = []
    for _ in range(draw(st.integers(2, 3))):
        gateway = draw(st.booleans())
        outbound = gateway and draw(st.booleans())
        kinds = st.sampled_from(("standard", "customer", "none")) if gateway \
            else st.just("none")
        tenants.append(Tenant(gateway, outbound,
                              tuple(draw(kinds) for _ in range(draw(st.integers(1, 3)))),
                              draw(st.booleans())))
    return Topology(tuple(tenants), draw(st.integers(1, 2)))


# always run: every kind of address in one topology, the same private addresses in all three
# and sites with the same range: one behind a public gateway, one behind none
HARD = Topology((Tenant(True, True, ("standard", "none", "customer"), True),
                 Tenant(True, False, ("standard", "none")),
                 Tenant(False, False, ("none",), True)), 2)


def outcome(netns: str, ip: str) -> tuple[str, str] | str:
    return nsclient.greeting(netns, ip, PORT, TIMEOUT)


def _observe(cp: ControlPlane) -> dict[str, Any]:
    instances = {i["name"]: i for i in cp.items("/v1/instances") if i["name"].startswith("edge")}
    externals = {e["name"]: e for e in cp.items("/v1/externals")}
    public = {p["address"]: p["associated"]["instance"] for p in cp.items("/v1/public-ips")
              if p["associated"]}
    networks = {n["name"]: n for n in cp.items("/v1/networks")}
    sites = {s["account"]: s for s in cp.items("/v1/sites")}
    desks = {h["name"]: cp.get(f"/v1/instances/{h['name']}") for s in sites.values()
             for h in s["hosts"]}
    return {"instances": instances, "externals": externals, "public": public,
            "networks": networks, "sites": sites, "desks": desks}


def _settle(pairs: list[tuple[str, str, Any]], bound: float = 10.0) -> float:
    """Seconds until every pair the model says answers did answer once (bounded): `facade
    apply` returns once each object's reconciler ran, and a path through two gateways and the
    core may take a moment more to carry its first packet; the model is then checked on every
    pair, the negative ones included."""
    started = time.monotonic()
    waiting = [p for p in pairs if p[2] != "none"]
    while waiting and time.monotonic() - started < bound:
        with ThreadPoolExecutor(max_workers=16) as pool:
            got = list(pool.map(lambda p: outcome(p[0], p[1]), waiting))
        waiting = [p for p, g in zip(waiting, got, strict=True) if g != p[2]]
        if waiting:
            time.sleep(0.1)
    return time.monotonic() - started


def _routers(seen: dict[str, Any]) -> str:
    """What the gateways hold, read from the kernel (for a failure's message)."""
    out = []
    for net in [*seen["networks"].values(), *seen["sites"].values()]:
        netns = net["router"]
        out.append(f"--- {net['name']} {netns}: " + nsclient.run(
            "ip", "netns", "exec", netns, "sh", "-c",
            "ip -4 -o addr; ip -4 route; nft list ruleset; wg show", check=False))
    return "\n".join(out)


def check(cp: ControlPlane, topo: Topology, folder: Path) -> None:
    path = folder / "edge.yaml"
    path.write_text(topo.yaml())
    cp.cli("apply", "-f", str(path), timeout=120)
    servers: list[nsclient.Greeter] = []
    try:
        seen = _observe(cp)
        instances, externals, public = seen["instances"], seen["externals"], seen["public"]
        assert len(instances) == sum(len(t.addresses) for t in topo.tenants)
        assert len(externals) == topo.externals
        sites, desks = seen["sites"], seen["desks"]
        assert len(sites) == sum(t.site for t in topo.tenants)
        servers = [nsclient.Greeter(n["netns"], name, PORT)
                   for name, n in {**instances, **externals, **desks}.items()]
        face = {name: addr for addr, name in public.items()}  # instance -> its public address
        network_of = {name: i["interfaces"][0]["subnet"].split("/")[0]
                      for name, i in instances.items()}
        gateway = {}  # instance -> the address it reaches out with, if it does
        for name, inst in instances.items():
            net = seen["networks"][inst["interfaces"][0]["subnet"].split("/")[0]]
            if name in face:
                gateway[name] = face[name]
            elif net["outbound_nat"]:
                gateway[name] = net["gateway_ip"]
        targets = {*public, *(e["ip"] for e in externals.values()),
                   *(i["interfaces"][0]["ip"] for i in instances.values()),
                   *(n["gateway_ip"] for n in seen["networks"].values() if n["gateway_ip"]),
                   *(s["gateway_ip"] for s in sites.values()), DESK}
        ext_ip = {e["ip"]: name for name, e in externals.items()}
        pairs: list[tuple[str, str, Any]] = []
        for ext in externals.values():
            for ip in sorted(targets):
                if ip == ext["ip"]:
                    continue
                want: Any = "none"
                if ip in public:
                    want = (public[ip], ext["ip"])
                elif ip in ext_ip:
                    want = (ext_ip[ip], ext["ip"])
                pairs.append((ext["netns"], ip, want))
        for name, inst in instances.items():
            net = inst["interfaces"][0]["subnet"].split("/")[0]
            for ip in sorted({*public, *ext_ip} - {face.get(name)}):
                answers = public.get(ip) or ext_ip.get(ip)
                want = (answers, gateway[name]) if name in gateway else "none"
                if name not in face and ip in public and network_of[public[ip]] == net:
                    # through outbound NAT to an address its own gateway translates: the
                    # answer would come back to the gateway's own address (docs/edge.md)
                    want = "none"
                pairs.append((inst["netns"], ip, want))
            # the site host's address: its own tenant's host, over its vpn, or nobody
            own = sites.get(inst["account"])
            pairs.append((inst["netns"], DESK, (own["hosts"][0]["name"],
                                                inst["interfaces"][0]["ip"]) if own else "none"))
        private = {i["interfaces"][0]["ip"] for i in instances.values()}
        for account, site in sites.items():
            desk = desks[site["hosts"][0]["name"]]
            mine = {i["interfaces"][0]["ip"]: name for name, i in instances.items()
                    if i["account"] == account}
            for ip in sorted(private):
                pairs.append((desk["netns"], ip, (mine[ip], DESK) if ip in mine else "none"))
            for ip in sorted({*public, *ext_ip}):
                pairs.append((desk["netns"], ip, (public.get(ip) or ext_ip[ip],
                                                  site["gateway_ip"])))
        SETTLED.append(_settle(pairs))
        with ThreadPoolExecutor(max_workers=16) as pool:
            got = list(pool.map(lambda p: outcome(p[0], p[1]), pairs))
        wrong = [(ns, ip, want, g) for (ns, ip, want), g in zip(pairs, got, strict=True)
                 if g != want]
        assert not wrong, (f"{len(wrong)} of {len(pairs)} pairs differ from the model: "
                           f"{wrong[:10]}\n{_routers(seen)}")
        TOTAL["pairs"] += len(pairs)
        TOTAL["topologies"] += 1
    finally:
        for server in servers:
            server.close()
        cp.cli("destroy", "-f", str(path), timeout=120)
    assert not cp.items("/v1/public-ips") and not cp.items("/v1/externals")
    assert not cp.items("/v1/sites") and not cp.items("/v1/vpns")


def test_the_edge_isolates_as_the_model_says(cp: ControlPlane,
                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("edge-iso")

    @settings(max_examples=3, derandomize=True, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @example(HARD)
    @given(topologies())
    def run(topo: Topology) -> None:
        check(cp, topo, folder)

    run()
    assert TOTAL["topologies"] >= 2 and TOTAL["pairs"] >= 30, TOTAL
    print(f"\nedge isolation: {TOTAL['pairs']} pairs checked over {TOTAL['topologies']} "
          f"topologies, 0 violations (paths answering {max(SETTLED):.2f} s at most after "
          "apply returned)")
