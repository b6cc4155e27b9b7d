"""Nodes on simulated hosts beside a real control plane (docs/multi-host.md, "What slice 2b
built"): `facade host add` starts two hosts (namespaces on the substrate, FRR each; the
fabric joins the overlay), instances of one subnet on local, h1 and h2 talk TCP to each other
over VXLAN with EVPN as the mapping service; a second tenant's subnet with the same CIDR and
addresses on the same hosts reaches only its own nodes; a security rule blocks on a remote
host as on the local one; a veth deleted on a host is repaired by the resync, an orphan node
on a host removed with its port; an instance naming no host placed by the scheduler and
reached across the overlay; an appliance's backends spread over the hosts and its
front-end on a simulated host, moved with its address and MAC when its host drains or is cut
off (the endpoint answering again, no request lost after), the cut host fenced and swept of a
stale copy before it is ready again; deleting the instances and the hosts leaves no host
namespace, segment, VXLAN link or FRR process behind. Checked with real connections
(nsclient), `ip -j`, `bridge -j fdb`, `nft -j` and /proc."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facade.dataplane.linux import LinuxDataPlane, frr, overlay
from facade.dataplane.linux.procfs import pidns_inode_of
from facade.domain import names
from facade.domain.specs import NodeSpec, PortSpec
from facade.domain.states import NodeRole
from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.nsclient import Greeter, greeting

pytestmark = pytest.mark.root
PORT = 7000
HOSTS = ("h1", "h2")
OVERLAY = {"fcd-h-h1", "fcd-h-h2", "fcd-rr", "fcd-substrate"}
# two tenants, the same CIDR and the same addresses; red on local, h1 and h2, blue on h1, h2
WORLD = """\
accounts: [{name: red}, {name: blue}]
networks:
  - {name: vpc, account: red, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: vpc, account: blue, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
instances:
  - {name: r-loc, account: red, host: local, interfaces: [{subnet: vpc/app, ip: 10.0.1.11}]}
  - {name: r-h1, account: red, host: h1, interfaces: [{subnet: vpc/app, ip: 10.0.1.12}]}
  - {name: r-h2, account: red, host: h2, interfaces: [{subnet: vpc/app, ip: 10.0.1.13}]}
  - {name: b-h1, account: blue, host: h1, interfaces: [{subnet: vpc/app, ip: 10.0.1.12}]}
  - {name: b-h2, account: blue, host: h2, interfaces: [{subnet: vpc/app, ip: 10.0.1.13}]}
"""
RED = {"r-loc": "10.0.1.11", "r-h1": "10.0.1.12", "r-h2": "10.0.1.13"}
BLUE = {"b-h1": "10.0.1.12", "b-h2": "10.0.1.13"}


def _links(netns: str) -> dict[str, dict[str, Any]]:
    out = nsclient.run("ip", "-n", netns, "-j", "-d", "link")
    return {lk["ifname"]: lk for lk in json.loads(out or "[]")}


def _frr_names() -> set[str]:
    """The `-N` names of the FRR daemons running (this sandbox's: /proc shows another's too)."""
    found = set()
    own = pidns_inode_of(os.getpid())
    for pid in frr.running("fcd-"):
        if pidns_inode_of(pid) != own:
            continue
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        found.add(args[args.index(b"-N") + 1].decode())
    return found


def _host_ports(host: str) -> set[str]:
    """The nodes' ports on a simulated host (their fabric-side veth ends)."""
    return {n for n in _links(f"fcd-h-{host}") if n.startswith("fcdv")}


class World:
    """The module's hosts, instances and a Greeter in each instance."""

    def __init__(self, cp: ControlPlane, folder: Path) -> None:
        self.cp = cp
        self.file = folder / "world.yaml"
        self.file.write_text(WORLD)
        started = time.monotonic()
        for host in HOSTS:
            cp.cli("host", "add", host, "--simulated")
        self.hosts_s = time.monotonic() - started
        started = time.monotonic()
        cp.cli("apply", "-f", str(self.file))
        self.apply_s = time.monotonic() - started
        self.netns: dict[str, str] = {}
        for name in [*RED, *BLUE]:
            account = "red" if name in RED else "blue"
            self.netns[name] = cp.get(f"/v1/instances/{name}?account={account}")["netns"]
        self.greeters = [Greeter(self.netns[n], n, PORT) for n in self.netns]

    def hello(self, src: str, ip: str, timeout: float = 3.0) -> tuple[str, str] | str:
        return greeting(self.netns[src], ip, PORT, timeout)

    def close(self) -> None:
        for g in self.greeters:
            g.close()  # its socket would keep its namespace (and its port) alive


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(cp, tmp_path_factory.mktemp("hosts"))
    try:
        yield w
    finally:
        w.close()


def test_hosts_run_with_their_frr_and_the_fabric_joins(cp: ControlPlane, world: World) -> None:
    assert OVERLAY <= nsclient.netns_list()
    assert _frr_names() == {"fcd-fabric", "fcd-h-h1", "fcd-h-h2", "fcd-rr"}
    fabric = _links("fcd-fabric")
    assert "underlay" in fabric  # the local host's leg on the substrate
    for host in HOSTS:
        shown = cp.get(f"/v1/hosts/{host}")
        assert shown["state"] == "ready" and "namespace and FRR run" in shown["detail"]
        assert shown["nodes"] == 2
    print(f"\n2 hosts added (namespaces, FRR) in {world.hosts_s:.2f} s; "
          f"5 instances applied in {world.apply_s:.2f} s")


def test_instances_of_a_subnet_talk_tcp_across_hosts(cp: ControlPlane, world: World) -> None:
    times = []
    for src in RED:
        for dst, ip in RED.items():
            if src == dst:
                continue
            started = time.monotonic()
            assert world.hello(src, ip) == (dst, RED[src]), (src, dst)
            times.append(time.monotonic() - started)
    print(f"\nTCP connect + greeting across hosts: max {max(times) * 1e3:.1f} ms, "
          f"median {sorted(times)[len(times) // 2] * 1e3:.1f} ms")
    # each node is where it was asked to be: its port on that host's bridge of its subnet
    for name in ("r-h1", "r-h2"):
        inst = cp.get(f"/v1/instances/{name}?account=red")
        assert inst["host"] == name[2:]
        host = _links(f"fcd-h-{name[2:]}")
        ports = [n for n, lk in host.items() if n.startswith("fcdv")
                 and lk.get("link_netnsid") is not None]
        assert ports, host.keys()
        bridge = host[ports[0]]["master"]
        vni = int(bridge[len("fcdb"):])
        vx = host[f"fcdx{vni}"]
        assert vx["linkinfo"]["info_data"]["id"] == vni and vx["master"] == bridge
        # the fabric's bridge of that subnet is stretched too
        assert _links("fcd-fabric")[f"fcdx{vni}"]["master"] == bridge
    assert cp.get("/v1/instances/r-loc?account=red")["host"] == "local"


def test_a_tenant_with_the_same_cidr_reaches_only_its_own(world: World) -> None:
    assert world.hello("b-h1", "10.0.1.13") == ("b-h2", "10.0.1.12")
    assert world.hello("b-h2", "10.0.1.12") == ("b-h1", "10.0.1.13")
    # red's local node has .11; blue has nothing there, and reaches nothing
    assert world.hello("b-h1", "10.0.1.11", timeout=1.5) == "none"
    assert world.hello("r-loc", "10.0.1.12") == ("r-h1", "10.0.1.11")


def _scheduled(cp: ControlPlane) -> str:
    """Where the scheduler should put red's next instance that names no host (docs/multi-host.md,
    "Instances placed by the scheduler"), read from the hosts as the API shows them: the
    fewest nodes, the local host first on a tie, then the name."""
    hosts = [h for h in cp.items("/v1/hosts") if h["state"] == "ready"
             and h["nodes"] < h["capacity"] and h["claimed_by"] in (None, "red")]
    return str(min(hosts, key=lambda h: (h["nodes"], not h["local"], h["name"]))["name"])


def test_an_instance_naming_no_host_is_placed_by_the_scheduler(cp: ControlPlane,
                                                               world: World) -> None:
    """Instances of red naming no host, made one by one until one lands on a simulated host:
    each where the rule says; the one on a simulated host has its port in that host's
    namespace and answers TCP from red's local instance across the overlay; all deleted
    after, nothing of them left on the hosts."""
    before = {h: _host_ports(h) for h in HOSTS}
    made: list[str] = []
    try:
        for k in range(1, 5):
            expected = _scheduled(cp)
            name = f"r-auto{k}"
            r = cp.api("POST", "/v1/instances", json={
                "name": name, "account": "red", "interfaces": [{"subnet": "vpc/app"}]})
            assert r.status_code == 201, r.text
            made.append(name)
            assert r.json()["host"] == expected, (name, r.json()["host"], expected)
            if expected != "local":
                break
        far = cp.wait_for(lambda: (i := cp.get(f"/v1/instances/{made[-1]}?account=red"))
                          ["status"] == "active" and i, timeout=20, what="placed and active")
        host = far["host"]
        assert host in HOSTS, far
        assert len(_host_ports(host) - before[host]) == 1  # its port, on its host
        greeter = Greeter(far["netns"], made[-1], PORT)
        try:
            ip = far["interfaces"][0]["ip"]
            assert world.hello("r-loc", ip) == (made[-1], RED["r-loc"])
        finally:
            greeter.close()
        print(f"\nred's instances naming no host went to "
              f"{[cp.get(f'/v1/instances/{n}?account=red')['host'] for n in made]}")
    finally:
        for name in made:
            cp.api("DELETE", f"/v1/instances/{name}?account=red")
        for name in made:
            cp.wait_for(lambda name=name: cp.api("GET", f"/v1/instances/{name}?account=red")
                        .status_code == 404, timeout=30, what=f"{name} deleted")
    cp.wait_for(lambda: {h: _host_ports(h) for h in HOSTS} == before, timeout=10,
                what="nothing of them left on the hosts")


def test_a_security_rule_blocks_on_a_remote_host(cp: ControlPlane, world: World) -> None:
    rule = ("--interface", "r-h2/eth0", "--direction", "ingress", "--action", "deny",
            "--protocol", "tcp", "--ports", str(PORT), "--priority", "10")
    cp.cli("rule", "add", *rule)
    try:
        assert world.hello("r-loc", RED["r-h2"], timeout=1.5) == "none"
        assert world.hello("r-h1", RED["r-h2"], timeout=1.5) == "none"
        assert world.hello("r-h2", RED["r-h1"]) == ("r-h1", RED["r-h2"])  # its egress
        assert world.hello("b-h1", BLUE["b-h2"]) == ("b-h2", BLUE["b-h1"])  # not blue's
        ruleset = json.loads(nsclient.run("ip", "netns", "exec", "fcd-h-h2", "nft", "-j",
                                          "list", "ruleset"))
        assert any("rule" in o for o in ruleset["nftables"])
    finally:
        cp.cli("rule", "delete", *rule[:4], "--priority", "10")
    assert world.hello("r-loc", RED["r-h2"]) == ("r-h2", RED["r-loc"])


def test_a_port_deleted_on_a_host_is_repaired(cp: ControlPlane, world: World) -> None:
    host = _links("fcd-h-h1")
    ports = [n for n, lk in host.items() if n.startswith("fcdv")
             and lk.get("link_netnsid") is not None]
    assert len(ports) == 2  # r-h1's and b-h1's
    for port in ports:
        nsclient.run("ip", "-n", "fcd-h-h1", "link", "del", port)
    cp.wait_for(lambda: world.hello("r-loc", RED["r-h1"], timeout=0.5)
                == ("r-h1", RED["r-loc"]), timeout=20, what="r-h1 repaired")
    cp.wait_for(lambda: world.hello("b-h2", BLUE["b-h1"], timeout=0.5)
                == ("b-h1", BLUE["b-h2"]), timeout=20, what="b-h1 repaired")


def test_an_orphan_node_on_a_host_is_removed_with_its_port(cp: ControlPlane, world: World,
                                                          tmp_path: Path) -> None:
    """A node namespace the store does not explain, its port on h1's segment of red's subnet
    (made by a driver of the test's own): the resync removes it, and its port on h1."""
    bridge = _links("fcd-h-h1")[_ports("fcd-h-h1")[0]]["master"]
    stray = NodeSpec(netns="fcd-i999-stray", role=NodeRole.INSTANCE, host="h1", ports=(
        PortSpec(host=names.port(99999), bridge=str(bridge), ifname="eth0",
                 address="10.0.1.99/24", mac=names.mac(int(str(bridge)[4:]), "10.0.1.99")),))
    LinuxDataPlane(tmp_path / "state", this_plane_only=True).ensure_node(stray)
    assert names.port(99999) in _links("fcd-h-h1")
    cp.wait_for(lambda: stray.netns not in nsclient.netns_list(), timeout=20,
                what="the orphan removed")
    cp.wait_for(lambda: names.port(99999) not in _links("fcd-h-h1"), timeout=5,
                what="its port on h1 gone")
    assert bridge in _links("fcd-h-h1")  # r-h1's and b-h1's segments stay
    assert world.hello("r-loc", RED["r-h1"]) == ("r-h1", RED["r-loc"])


def _mac(netns: str, ifname: str = "eth0") -> str:
    """The MAC of a node's interface, as its namespace has it."""
    (link,) = json.loads(nsclient.run("ip", "-n", netns, "-j", "link", "show", ifname))
    return str(link["address"])


def _fdb(netns: str, mac: str) -> list[dict[str, Any]]:
    """A host's forwarding entries of `mac` (its bridges' and VXLAN ports')."""
    return [e for e in json.loads(nsclient.run("bridge", "-n", netns, "-j", "fdb", "show")
                                  or "[]") if e.get("mac") == mac]


def _evpn(cp: ControlPlane, mac: str) -> dict[str, str]:
    """Each FRR instance's view of `mac` (its MAC table and BGP routes), for a failure's
    message."""
    out = {}
    for root in cp.home.rglob("overlay/frr/*"):
        name = {"_local": "fcd-fabric", "_reflector": "fcd-rr"}.get(root.name,
                                                                    f"fcd-h-{root.name}")
        inst = frr.Instance(name, name, root)
        try:
            out[root.name] = frr.vtysh(inst, "show evpn mac vni all") + \
                frr.vtysh(inst, "show bgp l2vpn evpn route")
        except Exception as exc:  # a message's detail: never the failure itself
            out[root.name] = repr(exc)
    return {k: "\n".join(line for line in v.splitlines() if mac in line or "Route" in line
                          or "VNI" in line) for k, v in out.items()}


def _ports(netns: str) -> list[str]:
    """The node ports (veths to another namespace) of a host's namespace."""
    return sorted(n for n, lk in _links(netns).items() if n.startswith("fcdv")
                  and lk.get("link_netnsid") is not None)


def test_an_appliances_backends_spread_over_the_hosts_and_serve(cp: ControlPlane,
                                                                world: World) -> None:
    """Three backends of one appliance: one on each of local, h1 and h2 (anti-affinity,
    service/hosts_placement.py); the two on simulated hosts have their ports in their host's
    namespace; requests through the endpoint, from an instance of the customer's subnet, are
    answered by all three; deleting the appliance leaves no port of it on the hosts."""
    ports = {h: _host_ports(h) for h in HOSTS}
    assert cp.api("POST", "/v1/accounts", json={"name": "searchco"}).status_code == 201
    assert cp.api("POST", "/v1/networks", json={
        "name": "svc", "account": "searchco", "cidr": "10.50.0.0/16",
        "subnets": [{"name": "backend", "cidr": "10.50.1.0/24"},
                    {"name": "mgmt", "cidr": "10.50.2.0/24"}]}).status_code == 201
    assert cp.api("POST", "/v1/services", json={
        "name": "echo", "account": "searchco", "workload": "http-echo", "port": 80,
        "backend_subnet": "svc/backend", "management_subnet": "svc/mgmt"}).status_code == 201
    started = time.monotonic()
    assert cp.api("POST", "/v1/appliances", json={
        "name": "spread", "account": "red", "service": "echo", "subnet": "vpc/app",
        "backends": 3}).status_code == 202
    app = cp.wait_for(lambda: (a := cp.get("/v1/appliances/spread?account=red"))["status"]
                      == "ready" and a, timeout=30, what="the spread appliance ready")
    ready_s = time.monotonic() - started
    hosts = {b["name"]: b["host"] for b in app["backends"]}
    assert sorted(hosts.values()) == ["h1", "h2", "local"], hosts
    fe = app["frontend"]  # a backend on every host: a simulated one, the first by name
    assert fe["host"] == "h1", fe
    mac = _mac(fe["netns"])
    for h in HOSTS:  # a backend's two ports (backend and management subnets) on its host,
        # and the front-end's three (customer, backend and management subnets) on h1
        assert len(_host_ports(h) - ports[h]) == (5 if h == "h1" else 2), \
            (h, _host_ports(h) - ports[h])
    seen = set()
    for _ in range(30):
        status, headers, _body = nsclient.http(world.netns["r-loc"], app["endpoint"]["ip"], 80)
        assert status == 200
        seen.add(headers["x-backend"])
        if len(seen) == 3:
            break
    assert seen == set(hosts), seen
    # h1 drained while a client loops requests through the endpoint: its front-end is made
    # again on another host with its address and MAC, its backend's replacement is made
    # elsewhere first, then it leaves; at most the request in flight when the front-end's
    # ports move fails, and the appliance stays ready
    failures: list[str] = []
    sent = [0]
    done = threading.Event()

    def loop() -> None:
        for _ in range(1500):  # bounded: at most 1,500 requests, 30 s
            if done.is_set():
                return
            try:
                sent[0] += 1
                status, _, _ = nsclient.http(world.netns["r-loc"], app["endpoint"]["ip"], 80,
                                             timeout=2.0)
                if status != 200:
                    failures.append(f"HTTP {status}")
            except OSError as exc:
                failures.append(str(exc))
            time.sleep(0.02)

    client = threading.Thread(target=loop, daemon=True)
    client.start()
    started = time.monotonic()
    try:
        cp.cli("host", "drain", "h1")
        cp.wait_for(lambda: _host_ports("h1") == ports["h1"], timeout=30,
                    what="h1's backend moved away")
        moved_s = time.monotonic() - started
        time.sleep(0.5)  # requests after the move too
    finally:
        done.set()
        client.join(10)
    assert len(failures) <= 1, failures  # the client has one request in flight at a time
    app = cp.get("/v1/appliances/spread?account=red")
    assert app["status"] == "ready" and len(app["backends"]) == 3
    assert "h1" not in {b["host"] for b in app["backends"]}
    moved = app["frontend"]
    assert moved["host"] in ("h2", "local") and moved["netns"] == fe["netns"]
    assert moved["interfaces"] == fe["interfaces"] and _mac(fe["netns"]) == mac
    assert cp.get("/v1/hosts/h1")["state"] == "draining"
    assert cp.api("DELETE", "/v1/appliances/spread?account=red").status_code in (202, 204)
    cp.wait_for(lambda: all(_host_ports(h) == ports[h] for h in HOSTS), timeout=20,
                what="the backends' ports gone from the hosts")
    print(f"\nan appliance of 3 backends over local, h1 and h2 ready in {ready_s:.2f} s; "
          f"h1 drained of its front-end and backend in {moved_s:.2f} s; {len(failures)} of "
          f"{sent[0]} requests failed: {failures}")


def test_a_host_cut_off_is_lost_its_nodes_come_back_elsewhere_and_it_is_swept(
        cp: ControlPlane, world: World) -> None:
    """h2's link to the substrate cut (no Cease, no FIN: a machine switched off) under a
    client loop through the endpoint of an appliance whose front-end and a backend are on h2:
    within LOST_AFTER (5 s) h2 is lost (and fenced: its FRR stopped), its backend made again
    on the local host and its front-end moved there with its address and MAC; the endpoint
    answers again within 10 s of the cut, and no request fails after that. The routers and
    management agents stay on the local host: the local backend's management path never
    fails, the front-end's works again once it moved. While h2 is cut a stale copy of the
    front-end (a port with its MAC on h2's segment, as a machine switched off keeps it) is
    left there; when h2's link is back, h2 is swept before its FRR starts: the copy is gone,
    the MAC is known on h1 at the local host only, and h2 holds nothing of the appliance."""
    lossy = {"name": "lossy", "account": "red", "service": "echo", "subnet": "vpc/app",
             "backends": 2}
    before = _host_ports("h2")
    assert cp.api("POST", "/v1/appliances", json=lossy).status_code == 202
    port = names.host_port("h2")
    failures: list[tuple[float, str]] = []
    answered: list[float] = []
    done = threading.Event()
    try:
        # ready, and every node's agent heard once: the management round that finds a node
        # made just now (its agent not listening yet) logs it unreachable, which must come
        # before the cut, not after (the events are counted from the cut)
        app = cp.wait_for(lambda: (a := cp.get("/v1/appliances/lossy?account=red"))["status"]
                          == "ready" and all((n.get("management") or {}).get("reachable")
                                             for n in (a["frontend"], *a["backends"])) and a,
                          timeout=30, what="lossy ready, its nodes' agents reachable")
        old = {b["name"]: b["host"] for b in app["backends"]}
        assert sorted(old.values()) == ["h2", "local"], old  # h1 drains: left out
        fe = app["frontend"]
        assert fe["host"] == "h2", fe  # a simulated host before the local one
        endpoint, mac = app["endpoint"]["ip"], _mac(fe["netns"])
        (on_h2,) = [e for e in _fdb("fcd-h-h2", mac) if e.get("master")]  # its port there
        bridge = on_h2["master"]

        def loop() -> None:
            for _ in range(1500):  # bounded: at most 1,500 requests
                if done.is_set():
                    return
                sent = time.monotonic()
                try:
                    status, _, _ = nsclient.http(world.netns["r-loc"], endpoint, 80,
                                                 timeout=1.0)
                    if status != 200:
                        failures.append((sent, f"HTTP {status}"))
                    else:
                        answered.append(sent)
                except OSError as exc:
                    failures.append((sent, repr(exc)))
                time.sleep(0.02)

        client = threading.Thread(target=loop, daemon=True)
        client.start()
        logged = len(cp.events())
        cut = time.monotonic()
        nsclient.run("ip", "-n", "fcd-substrate", "link", "set", port, "down")
        cp.wait_for(lambda: cp.get("/v1/hosts/h2")["state"] == "lost", timeout=15,
                    what="h2 lost")
        lost_s = time.monotonic() - cut
        # its instances failed with it (not moved: what runs in them would not come along)
        for name, account in (("r-h2", "red"), ("b-h2", "blue")):
            inst = cp.get(f"/v1/instances/{name}?account={account}")
            assert (inst["status"], inst["host"]) == ("failed", "h2"), inst
        app = cp.wait_for(lambda: (a := cp.get("/v1/appliances/lossy?account=red"))
                          ["status"] == "ready" and len(a["backends"]) == 2
                          and "h2" not in {b["host"] for b in a["backends"]}
                          and a["frontend"]["host"] != "h2" and a,
                          timeout=20, what="lossy full again off h2")
        full_s = time.monotonic() - cut
        time.sleep(1.0)  # requests once it is full again
        done.set()
        client.join(10)
        assert failures, "the endpoint never failed: was its front-end on h2?"
        back = min((t for t in answered if t > failures[0][0]), default=None)
        assert back is not None, "the endpoint never answered again"
        back_s = back - cut
        late = [(round(t - cut, 2), why) for t, why in failures if t > back]
        assert late == [], late
        assert back_s <= 10 and full_s <= 15, (back_s, full_s)
        # the same front-end on the local host: its namespace, addresses and MAC
        moved = app["frontend"]
        assert moved["host"] == "local" and moved["netns"] == fe["netns"]
        assert moved["interfaces"] == fe["interfaces"] and _mac(fe["netns"]) == mac
        now = {b["name"] for b in app["backends"]}
        assert {n for n, h in old.items() if h == "h2"}.isdisjoint(now)  # made again
        assert {n for n, h in old.items() if h == "local"} <= now  # kept
        # the management path: the front-end's agent answers again, the local backend's never
        # stopped (routers and agents are on the local host)
        kept = next(b for b in app["backends"] if b["host"] == "local" and b["name"] in old)
        cp.wait_for(lambda: ((cp.get("/v1/appliances/lossy?account=red")["frontend"]
                              .get("management") or {}).get("reachable")),
                    timeout=10, what="the front-end's agent reachable after the move")
        events = [(e["kind"], e["object"]) for e in cp.events()[logged:]]  # since the cut
        assert ("management.unreachable", kept["netns"]) not in events
        assert ("management.unreachable", fe["netns"]) in events  # it was cut, then came back
        # a stale copy of the front-end on h2 while it is cut: a port on the segment with its
        # MAC, which h2's bridge learns; h2's FRR is stopped (fenced), so nobody hears of it
        assert "fcd-h-h2" not in _frr_names()
        nsclient.run("ip", "netns", "add", "stale")
        stale_port = names.port(99998)
        nsclient.run("ip", "-n", "fcd-h-h2", "link", "add", stale_port, "type", "veth",
                     "peer", "name", "eth0", "netns", "stale")
        nsclient.run("ip", "-n", "fcd-h-h2", "link", "set", stale_port, "master", bridge, "up")
        nsclient.run("ip", "-n", "stale", "link", "set", "eth0", "address", mac, "up")
        # its gratuitous ARP until h2's bridge learnt it: a port forwards only once the
        # kernel's linkwatch has seen its carrier, a moment after `up` (an ARP sent before is
        # dropped; once, the entry was missing so); a failure says what h2 held
        cp.wait_for(lambda: overlay.announce("stale", mac, endpoint, "eth0") or any(
            e.get("ifname") == stale_port for e in _fdb("fcd-h-h2", mac)), timeout=3,
            what=f"h2's bridge learning the stale copy: {_fdb('fcd-h-h2', mac)}")
        nsclient.run("ip", "-n", "fcd-substrate", "link", "set", port, "up")
        cp.wait_for(lambda: cp.get("/v1/hosts/h2")["state"] == "ready", timeout=20,
                    what="h2 ready again")
        assert stale_port not in _links("fcd-h-h2")  # swept before its FRR started
        for name, account in (("r-h2", "red"), ("b-h2", "blue")):  # back with their host
            cp.wait_for(lambda name=name, account=account: cp.get(
                f"/v1/instances/{name}?account={account}")["status"] == "active",
                timeout=20, what=f"{name} active again")
        assert "fcd-h-h2" in _frr_names()
        time.sleep(1.0)  # what h2 would announce, had it kept the copy, reaches h1 by now
        remote = [e for e in _fdb("fcd-h-h1", mac) if e.get("dst")]
        assert [e["dst"] for e in remote] == ["172.31.0.10"], remote  # the local host only
        on_h2 = _fdb("fcd-h-h2", mac)  # learnt from EVPN (on its VXLAN port), never local
        assert all(e["ifname"] == f"fcdx{bridge[4:]}" for e in on_h2), on_h2
        assert {e["dst"] for e in on_h2 if e.get("dst")} <= {"172.31.0.10"}, \
            (on_h2, _fdb("fcd-h-h1", mac), _fdb("fcd-fabric", mac), _evpn(cp, mac))
        for src in ("r-loc", "r-h2", "r-loc", "r-h2"):  # from h2 too: its entries are EVPN's now
            assert nsclient.http(world.netns[src], endpoint, 80, timeout=2.0)[0] == 200, src
        cp.wait_for(lambda: _host_ports("h2") == before, timeout=10,
                    what="h2 holds nothing of the appliance")
        print(f"\nh2 cut: lost after {lost_s:.2f} s, the endpoint answered again after "
              f"{back_s:.2f} s (its front-end moved to the local host), the appliance full "
              f"again after {full_s:.2f} s; {len(failures)} requests failed, none after "
              f"{back_s:.2f} s: {[(round(t - cut, 2), why) for t, why in failures][:8]}")
    finally:
        done.set()
        nsclient.run("ip", "-n", "fcd-substrate", "link", "set", port, "up")
        if "stale" in nsclient.netns_list():
            nsclient.run("ip", "netns", "del", "stale")
        cp.api("DELETE", "/v1/appliances/lossy?account=red")
        cp.wait_for(lambda: cp.api("GET", "/v1/appliances/lossy?account=red").status_code
                    == 404, timeout=30, what="lossy deleted")


def test_a_dedicated_appliances_backends_alone_on_a_host_of_their_own(
        cp: ControlPlane, world: World) -> None:
    """tenancy: dedicated (docs/multi-host.md, "Dedicated tenancy"): h1 and h2 hold blue's
    instances, so red's dedicated backends go on a third host, h3, both of them, and its
    front-end with them (a dedicated appliance's front-end claims no host of its own and never
    goes on the local host); every node port in h3's namespace is a leg of those nodes (the
    kernel's veth peers, read from both ends), they serve through the endpoint, and blue's
    instance is refused there."""
    cp.cli("host", "add", "h3", "--simulated")
    assert cp.api("POST", "/v1/appliances", json={
        "name": "sole", "account": "red", "service": "searchco/echo", "subnet": "vpc/app",
        "backends": 2, "tenancy": "dedicated"}).status_code == 202
    app = cp.wait_for(lambda: (a := cp.get("/v1/appliances/sole?account=red"))["status"]
                      == "ready" and a, timeout=30, what="the dedicated appliance ready")
    assert app["tenancy"] == "dedicated"
    assert [b["host"] for b in app["backends"]] == ["h3", "h3"]
    assert app["frontend"]["host"] == "h3"
    ports = {lk["ifindex"] for n, lk in _links("fcd-h-h3").items()
             if n.startswith("fcdv") and lk.get("link_netnsid") is not None}
    legs = [lk["link_index"] for node in [*app["backends"], app["frontend"]]
            for n, lk in _links(node["netns"]).items() if n.startswith("eth")]
    assert len(legs) == 7 and set(legs) == ports, (legs, ports)
    seen = {nsclient.http(world.netns["r-loc"], app["endpoint"]["ip"], 80)[1]["x-backend"]
            for _ in range(12)}
    assert seen == {b["name"] for b in app["backends"]}
    refused = cp.api("POST", "/v1/instances", json={
        "name": "b-h3", "account": "blue", "host": "h3",
        "interfaces": [{"subnet": "vpc/app"}]})
    assert refused.status_code == 409 and "claimed by account red" in refused.text
    assert cp.get("/v1/hosts/h3")["claimed_by"] == "red"
    assert cp.api("DELETE", "/v1/appliances/sole?account=red").status_code in (202, 204)
    cp.wait_for(lambda: not _host_ports("h3"), timeout=20, what="sole's ports gone from h3")
    assert cp.get("/v1/hosts/h3")["claimed_by"] is None
    cp.cli("host", "remove", "h3")


def test_deleting_instances_and_hosts_leaves_nothing(cp: ControlPlane, world: World) -> None:
    world.close()
    cp.cli("destroy", "-f", str(world.file))
    cp.wait_for(lambda: not [n for n in nsclient.netns_list()
                             if n.startswith("fcd-i")], timeout=20, what="nodes gone")
    for host in HOSTS:  # a host holding no node keeps no segment
        left = [n for n in _links(f"fcd-h-{host}") if n.startswith(("fcdb", "fcdx", "fcdv"))]
        assert left == [], (host, left)
    for host in HOSTS:
        cp.cli("host", "remove", host)
    assert not OVERLAY & nsclient.netns_list()
    assert _frr_names() == set()
    fabric = _links("fcd-fabric") if "fcd-fabric" in nsclient.netns_list() else {}
    assert "underlay" not in fabric and not [n for n in fabric if n.startswith("fcdx")]
    assert [h["name"] for h in cp.items("/v1/hosts")] == ["local"]
