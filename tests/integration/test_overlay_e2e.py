"""Simulated hosts joined by VXLAN, BGP EVPN in FRR as the mapping service
(dataplane/linux/simhosts.py): three hosts and a route reflector on one substrate. A subnet
stretched over hosts 1 and 2 carries TCP between its nodes, the remote MAC sits in the VXLAN FDB
as `extern_learn` (zebra's, from EVPN: Facade writes none), a segment added to a host is
announced to the others' flood lists and withdrawn from them when removed, two tenants with the
same CIDR and addresses on two VNIs stay apart, a node made again on host 3 with its MAC and
address answers again, so does one whose host was cut off the underlay, before that host's
routes are withdrawn (EVPN MAC mobility; both timed), a host removed has its routes withdrawn
everywhere, and `facade cleanup` leaves no namespace, FRR daemon or folder. Checked through the
kernel (`bridge -j fdb`, /proc) and through sockets of the test's own.

BGP timers: keepalive 1 s, hold 3 s, connect retry 1 s (frr.py); a removed host's bgpd sends its
Cease on SIGTERM, so its routes go at once; a host cut off the underlay is withdrawn when the
reflector's hold time ends."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from facade.dataplane.linux import frr, overlay
from facade.dataplane.linux.simhosts import SimulatedHosts
from tests.integration import nsclient
from tests.integration.nsclient import Greeter, greeting

pytestmark = pytest.mark.root
PORT = 7000
RED, BLUE = 100, 200  # two tenants' VNIs, the same CIDR on both
FLOOD = "00:00:00:00:00:00"
MAC = {"a1": "02:00:00:64:00:01", "a2": "02:00:00:64:00:02",
       "b1": "02:00:00:c8:00:01", "b2": "02:00:00:c8:00:02"}


class Overlay:
    """The module's world: hosts h1-h3, red a1 (h1) and a2 (h2), blue b1 (h1) and b2 (h2),
    each node with a Greeter on PORT (b2's also on PORT + 1)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.machine_files = frr_files_of_the_machine()  # the sandbox shares the file system
        self.sim = SimulatedHosts(state)
        self.greeters: dict[str, list[Greeter]] = {}
        self.started = time.monotonic()
        for host in ("h1", "h2", "h3"):
            self.sim.add_host(host)
        self.sim.wait_established()
        self.established = time.monotonic() - self.started
        for name, host, vni, ip in (("a1", "h1", RED, "10.0.0.1"), ("a2", "h2", RED, "10.0.0.2"),
                                    ("b1", "h1", BLUE, "10.0.0.1"),
                                    ("b2", "h2", BLUE, "10.0.0.2")):
            self.node(name, host, vni, ip)
        self.greeters["b2"].append(Greeter("fcd-n-b2", "b2", PORT + 1))

    def node(self, name: str, host: str, vni: int, ip: str) -> None:
        netns = self.sim.add_node(host, vni, name, MAC[name], f"{ip}/24")
        self.greeters[name] = [Greeter(netns, name, PORT)]

    def drop(self, name: str) -> None:
        for g in self.greeters.pop(name, []):
            g.close()  # its socket would keep the namespace (and its port) alive
        self.sim.remove_node(name)

    def close(self) -> None:
        for name in list(self.greeters):
            for g in self.greeters.pop(name):
                g.close()
        self.sim.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Overlay]:
    w = Overlay(tmp_path_factory.mktemp("overlay"))
    try:
        yield w
    finally:
        w.close()


def fdb(host: str, vni: int) -> list[dict[str, object]]:
    """The VXLAN device's forwarding entries, read from the kernel."""
    return list(json.loads(nsclient.run("bridge", "-j", "-n", f"fcd-h-{host}", "fdb", "show",
                                        "dev", f"vx{vni}")))


def remote(host: str, vni: int) -> dict[str, str]:
    """MAC -> underlay address of the remote MACs (entries with a VXLAN destination; the
    flood list's 00:00:00:00:00:00 aside)."""
    return {str(e["mac"]): str(e["dst"]) for e in fdb(host, vni)
            if "dst" in e and e["mac"] != FLOOD}


def underlay(world: Overlay, host: str) -> str:
    return str(world.sim.hosts[host].address.ip)


def wait_for(what: str, check: object, timeout: float = 10.0) -> float:
    """Seconds until `check()` is true; fails naming `what` after `timeout`."""
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_sessions_come_up_quickly(world: Overlay) -> None:
    print(f"\n3 hosts made and their EVPN sessions up in {world.established:.2f} s")
    assert world.established < 10, world.established
    for host in ("h1", "h2", "h3"):
        assert world.sim.established(host)
    # FRR took Facade's configuration as written (it logs and skips a line it does not know)
    host = world.sim.show("show running-config", "h1")
    assert "advertise-all-vni" in host and "timers bgp 1 3" in host
    reflector = world.sim.show("show running-config")
    assert "bgp listen range 172.31.0.0/24 peer-group hosts" in reflector
    assert "neighbor hosts route-reflector-client" in reflector
    peers = json.loads(world.sim.show("show bgp l2vpn evpn summary json"))["peers"]
    assert sorted(peers) == [underlay(world, h) for h in ("h1", "h2", "h3")]


def test_a_stretched_subnet_carries_tcp(world: Overlay) -> None:
    wait_for("a1 reaches a2", lambda: greeting("fcd-n-a1", "10.0.0.2", PORT, 0.5) ==
             ("a2", "10.0.0.1"))
    assert greeting("fcd-n-a2", "10.0.0.1", PORT, 2) == ("a1", "10.0.0.2")
    assert greeting("fcd-n-b1", "10.0.0.2", PORT, 2) == ("b2", "10.0.0.1")


def test_the_remote_mac_comes_from_evpn(world: Overlay) -> None:
    wait_for("a2's MAC on h1", lambda: MAC["a2"] in remote("h1", RED))
    wait_for("b2's MAC on h1", lambda: MAC["b2"] in remote("h1", BLUE))
    entry = next(e for e in fdb("h1", RED) if e["mac"] == MAC["a2"] and "dst" in e)
    assert "extern_learn" in entry.get("flags", []), entry  # zebra's, not learnt, not by hand
    assert entry["dst"] == underlay(world, "h2")
    # the flood list: h2 only (h3 holds no node of the segment, so it has no VNI 100)
    assert floods("h1", RED) == {underlay(world, "h2")}
    assert "vx100" not in nsclient.run("ip", "-n", "fcd-h-h3", "link", "show")
    # no local MAC went out as a remote one, and each VNI carries its own tenant's MACs only
    assert MAC["a1"] not in remote("h1", RED) and MAC["b2"] not in remote("h1", RED)
    assert set(remote("h1", BLUE)) == {MAC["b2"]}


def floods(host: str, vni: int) -> set[str]:
    """The hosts the VXLAN device floods broadcast and unknown unicast to (from EVPN's
    type-3 routes)."""
    return {str(e["dst"]) for e in fdb(host, vni) if e["mac"] == FLOOD and "dst" in e}


def test_a_segment_on_a_host_is_announced_and_withdrawn(world: Overlay) -> None:
    h3 = underlay(world, "h3")
    world.sim.add_segment("h3", RED)  # no node yet: the VNI alone
    wait_for("h1 floods red to h3", lambda: h3 in floods("h1", RED))
    assert floods("h3", RED) == {underlay(world, "h1"), underlay(world, "h2")}
    world.sim.remove_segment("h3", RED)
    wait_for("h1 stops flooding red to h3", lambda: h3 not in floods("h1", RED))
    assert "vx100" not in nsclient.run("ip", "-n", "fcd-h-h3", "link", "show")
    with pytest.raises(ValueError, match="host fcd-h-h3 has no segment 100"):
        overlay.attach_node("fcd-h-h3", RED, "x1", MAC["a1"],
                            ipaddress.IPv4Interface("10.0.0.9/24"))
    assert "fcd-n-x1" not in nsclient.netns_list()  # nothing half made


def test_tenants_with_the_same_addresses_stay_apart(world: Overlay) -> None:
    # 10.0.0.2 is a2 on red and b2 on blue, on the same two hosts
    assert greeting("fcd-n-a1", "10.0.0.2", PORT, 2) == ("a2", "10.0.0.1")
    assert greeting("fcd-n-b1", "10.0.0.2", PORT, 2) == ("b2", "10.0.0.1")
    # only b2 listens on PORT + 1: red's 10.0.0.2 (a2) refuses, blue's b2 never answers red
    assert greeting("fcd-n-a1", "10.0.0.2", PORT + 1, 2) == "reset"
    assert greeting("fcd-n-b1", "10.0.0.2", PORT + 1, 2) == ("b2", "10.0.0.1")
    # and red's neighbour table holds a2's MAC for 10.0.0.2, never b2's
    neigh = json.loads(nsclient.run("ip", "-n", "fcd-n-a1", "-j", "neigh", "show", "10.0.0.2"))
    assert [n["lladdr"] for n in neigh] == [MAC["a2"]]


def test_a_node_made_again_on_another_host_answers_again(world: Overlay) -> None:
    """a1 deleted on h1 (its MAC withdrawn) and made again on h3 with its MAC and address."""
    assert greeting("fcd-n-a2", "10.0.0.1", PORT, 2) == ("a1", "10.0.0.2")
    start = time.monotonic()
    world.drop("a1")
    world.node("a1", "h3", RED, "10.0.0.1")
    moved = time.monotonic() - start
    took = wait_for("a1 on h3 answers a2",
                    lambda: greeting("fcd-n-a2", "10.0.0.1", PORT, 0.3) == ("a1", "10.0.0.2"))
    # the first answer may come by the flood list (h1 withdrew the MAC, h3's route may not
    # have arrived yet); h3's route follows
    routed = took + wait_for("h2's entry for a1 points at h3", lambda: remote("h2", RED).get(
        MAC["a1"]) == underlay(world, "h3"))
    print(f"\nnode made again elsewhere: in {moved:.2f} s; answering {took:.2f} s after, "
          f"h2's FDB entry pointing at h3 {routed:.2f} s after")
    wait_for("h1 learns a1 on h3", lambda: remote("h1", RED).get(MAC["a1"]) ==
             underlay(world, "h3"))
    assert took < 5, took


def evpn_mac(world: Overlay, host: str, vni: int, mac: str) -> dict[str, object]:
    """What the host's zebra holds of a MAC (type, remote VTEP, MAC mobility sequences)."""
    out = json.loads(world.sim.show(f"show evpn mac vni {vni} mac {mac} json", host))
    return dict(out.get(mac, {}))


def test_a_node_of_a_host_cut_off_comes_back_elsewhere(world: Overlay) -> None:
    """h1 stops answering (its cable pulled: no Cease, no FIN; a killed bgpd's socket would
    still be closed by its kernel). b1, which was on it, is made again on h3 with its MAC and
    address while h1's routes are still there: h3 advertises the MAC with a higher MAC
    mobility sequence number, so b2 (h2) reaches it before the hold time ends; then h1 is
    withdrawn."""
    h1, h3 = underlay(world, "h1"), underlay(world, "h3")
    assert greeting("fcd-n-b2", "10.0.0.1", PORT, 2) == ("b1", "10.0.0.2")
    assert remote("h2", BLUE)[MAC["b1"]] == h1
    # h3 holds BLUE and knows b1 on h1 before b1 moves there: a MAC learnt where its route
    # was never seen starts its sequence again (0), and only the VTEP changes
    world.sim.add_segment("h3", BLUE)
    wait_for("h3's zebra has b1 on h1", lambda: evpn_mac(world, "h3", BLUE, MAC["b1"]).get(
        "remoteVtep") == h1, timeout=5)
    nsclient.run("ip", "-n", "fcd-substrate", "link", "set", "fcduh1", "down")
    start = time.monotonic()
    # the old b1 stays as it was on the dead host (its Greeter holds its namespace); only its
    # name is taken back, for the new one
    old = world.greeters.pop("b1")
    world.sim.nodes.pop("b1")
    nsclient.run("ip", "netns", "delete", "fcd-n-b1")
    world.node("b1", "h3", BLUE, "10.0.0.1")
    wait_for("b1 on h3 answers b2",
             lambda: greeting("fcd-n-b2", "10.0.0.1", PORT, 0.3) == ("b1", "10.0.0.2"))
    took = time.monotonic() - start  # since the cut
    # the first answer may come before h2's zebra holds h3's route with its higher sequence
    # (the ARP request goes to every host of the segment, and h3 may advertise the MAC once
    # before it sees h1's): wait for it, a moment at most
    def moved() -> bool:
        now = evpn_mac(world, "h2", BLUE, MAC["b1"])
        return now.get("remoteVtep") == h3 and int(str(now.get("remoteSequence", 0))) >= 1

    wait_for("h2's zebra has b1 on h3 with a higher MAC mobility sequence", moved, timeout=3)
    seen = evpn_mac(world, "h2", BLUE, MAC["b1"])
    assert seen["remoteVtep"] == h3 and int(str(seen["remoteSequence"])) >= 1, seen
    assert h1 in floods("h2", BLUE), "h1's routes were already gone: not a test of mobility"
    wait_for("h1's entries gone from h2", lambda: h1 not in
             {*remote("h2", RED).values(), *floods("h2", RED), *floods("h2", BLUE)}, timeout=15)
    gone = time.monotonic() - start
    print(f"\nhost cut off: its node answering from h3 {took:.2f} s after (MAC mobility "
          f"sequence {seen['remoteSequence']}), the host's routes withdrawn {gone:.2f} s "
          f"after (hold time {frr.HOLD} s)")
    # not at once (no Cease came), and by the end of the hold time (the last keepalive came up
    # to 1 s before the cut), with room for a busy machine
    assert took < frr.HOLD - 1 and frr.HOLD - 1.5 < gone < frr.HOLD + 5, (took, gone)
    for g in old:
        g.close()


def test_a_removed_host_has_its_routes_withdrawn(world: Overlay) -> None:
    h3 = underlay(world, "h3")
    wait_for("h2 knows h3", lambda: h3 in remote("h2", RED).values())
    for name in ("a1", "b1"):  # on h3 now: their sockets would pin its namespaces
        for g in world.greeters.pop(name, []):
            g.close()
    start = time.monotonic()
    world.sim.remove_host("h3")
    took = wait_for("h3's entries gone from h2", lambda: h3 not in
                    {*remote("h2", RED).values(), *remote("h2", BLUE).values(),
                     *floods("h2", RED), *floods("h2", BLUE)})
    print(f"\nhost removed: its FDB entries gone {time.monotonic() - start:.2f} s after "
          f"(waited {took:.2f} s past the removal)")
    evpn = json.loads(world.sim.show("show bgp l2vpn evpn route json"))
    hops = {hop["ip"] for rd, routes in evpn.items() if isinstance(routes, dict)
            for route in routes.values() if isinstance(route, dict)
            for paths in route.get("paths", []) for path in paths
            for hop in path.get("nexthops", [])}
    assert hops == {underlay(world, "h2")}  # h1 cut off, h3 gone: h2's routes only
    assert world.sim.established("h2")


def frr_processes() -> list[int]:
    """zebra and bgpd processes of Facade's (`-N fcd-...`), from /proc."""
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if Path(argv[0].decode()).name in ("zebra", "bgpd") and b"-N" in argv \
                and argv[argv.index(b"-N") + 1].startswith(b"fcd-"):
            pids.append(int(entry))
    return pids


def frr_files_of_the_machine() -> set[str]:
    """What FRR could leave outside Facade's folder: /etc/frr, /var/tmp/frr (crash-log
    buffers), /var/run/frr (the `-N` run folders)."""
    return {str(p) for root in ("/etc/frr", "/var/tmp/frr", "/var/run/frr")
            for p in Path(root).rglob("*")} if Path("/etc/frr").exists() else set()


def cleanup(state: Path) -> str:
    """`facade cleanup`'s module, this plane's host-wide objects only (the control groups are
    the machine's, shared with every other control plane on it)."""
    return subprocess.run([sys.executable, "-m", "facade.dataplane.linux.cleanup",
                           "--state-dir", str(state), "--this-plane"], capture_output=True,
                          text=True, timeout=60, check=True).stdout


def test_cleanup_leaves_nothing(world: Overlay) -> None:
    assert frr_processes() and nsclient.facade_netns()
    sleeper = subprocess.Popen(["ip", "netns", "exec", "fcd-n-a2", "sleep", "600"])
    # a crashed run can leave daemons whose namespace lost its name: found by their -N name
    orphans = [frr.pid_of(world.sim.hosts["h1"].frr, d) for d in frr.DAEMONS]
    assert None not in orphans
    nsclient.run("ip", "netns", "delete", "fcd-h-h1")
    for gs in world.greeters.values():
        for g in gs:
            g.close()
    world.greeters.clear()
    try:
        out = cleanup(world.state)
        assert "removed netns fcd-substrate" in out and "(frr)" in out
        assert sleeper.wait(timeout=5) is not None  # the node's process was killed
    finally:
        sleeper.kill()
    assert frr_processes() == []
    assert not any(Path(f"/proc/{pid}/cmdline").read_bytes() for pid in orphans
                   if Path(f"/proc/{pid}").exists())  # gone (or a zombie, its cmdline empty)
    assert nsclient.facade_netns() == set()
    assert not (world.state / "overlay").exists()
    assert cleanup(world.state) == "nothing to remove\n"
    assert frr_files_of_the_machine() == world.machine_files  # FRR wrote only in Facade's
