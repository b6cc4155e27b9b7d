"""The linux driver's simulated hosts (dataplane/linux/hostplane.py) without a control plane:
a host made twice is the same host (its FRR not restarted); a node on it is observed there; its
segment goes with its last node and the fabric's VXLAN port with the last host holding it; a
fabric bridge whose only port left is its VXLAN port is deleted with it (and that port is not
counted as a node's); the last host removed takes the overlay with it. Checked with `ip -j`
and /proc, not through the driver's own observe() alone."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from facade.dataplane.linux import LinuxDataPlane, frr
from facade.dataplane.linux.procfs import pidns_inode_of
from facade.domain import names
from facade.domain.specs import NodeSpec, PortSpec, SubnetSpec
from facade.domain.states import NodeRole
from tests.integration import driver_fixtures
from tests.integration.driver_fixtures import driver_facade_netns, driver_run, needs_root

pytestmark = [pytest.mark.root, needs_root]
driver_host_guard = driver_fixtures.driver_host_guard

SUBNET = 9301  # test bridges are fcdb9xxx (driver_fixtures)
BRIDGE = names.bridge(SUBNET)
OVERLAY = {"fcd-h-t1", "fcd-rr", "fcd-substrate"}


def _daemons() -> list[int]:
    """This PID namespace's FRR daemons of Facade's (another sandbox's show in /proc too)."""
    own = pidns_inode_of(os.getpid())
    return [pid for pid in frr.running("fcd-") if pidns_inode_of(pid) == own]


def _links(netns: str) -> dict[str, dict[str, object]]:
    return {lk["ifname"]: lk for lk in json.loads(
        driver_run("ip", "-n", netns, "-j", "-d", "link") or "[]")}


def _node(n: int, host: str | None) -> NodeSpec:
    ip = f"10.93.0.{n}"
    return NodeSpec(netns=f"fcd-i93{n:02d}-t{n}", role=NodeRole.INSTANCE, host=host,
                    ports=(PortSpec(host=names.port(9300 + n), bridge=BRIDGE, ifname="eth0",
                                    address=f"{ip}/24", mac=names.mac(SUBNET, ip)),))


@pytest.fixture
def dp(tmp_path: Path, driver_host_guard: set[str]) -> Iterator[LinuxDataPlane]:
    plane = LinuxDataPlane(tmp_path / "state", this_plane_only=True)
    try:
        yield plane
    finally:
        plane.cleanup()


def test_a_node_on_a_host_and_the_overlay_made_and_taken_back(dp: LinuxDataPlane) -> None:
    dp.ensure_subnet(SubnetSpec(bridge=BRIDGE, cidr="10.93.0.0/24"))
    assert not OVERLAY & driver_facade_netns()  # no host: no overlay
    dp.ensure_host("t1", "172.31.0.11")
    pids = _daemons()
    dp.ensure_host("t1", "172.31.0.11")  # the same host: nothing restarted
    assert _daemons() == pids and len(pids) == 6  # reflector, fabric, t1
    assert OVERLAY <= driver_facade_netns()
    spec = _node(1, "t1")
    dp.ensure_node(spec)
    seen = dp.observe_node(spec.netns)
    assert seen is not None and seen.host == "t1" and seen.ports == frozenset({"eth0"})
    host = _links("fcd-h-t1")
    assert host[names.port(9301)]["master"] == BRIDGE
    assert host[names.segment_vxlan(SUBNET)]["master"] == BRIDGE
    fabric = _links("fcd-fabric")
    assert fabric[names.segment_vxlan(SUBNET)]["master"] == BRIDGE  # stretched
    assert dp.observe_subnet(BRIDGE) == 0  # its VXLAN port is not a node's
    dp.delete_node(spec.netns)
    assert dp.observe_node(spec.netns) is None
    host = _links("fcd-h-t1")
    assert BRIDGE not in host and names.segment_vxlan(SUBNET) not in host
    assert names.segment_vxlan(SUBNET) not in _links("fcd-fabric")
    dp.remove_host("t1")
    assert not OVERLAY & driver_facade_netns()
    assert _daemons() == []
    fabric = _links("fcd-fabric")
    assert "underlay" not in fabric
    dp.delete_subnet(BRIDGE)


def test_a_bridge_left_with_its_vxlan_port_alone_is_deleted(dp: LinuxDataPlane) -> None:
    dp.ensure_subnet(SubnetSpec(bridge=BRIDGE, cidr="10.93.0.0/24"))
    vxlan = names.segment_vxlan(SUBNET)  # as a host removed by hand would leave it
    driver_run("ip", "-n", "fcd-fabric", "link", "add", vxlan, "type", "vxlan", "id",
               str(SUBNET), "dstport", "4789", "local", "172.31.0.10", "nolearning")
    driver_run("ip", "-n", "fcd-fabric", "link", "set", vxlan, "master", BRIDGE)
    dp.ensure_node(_node(2, None))
    assert dp.observe_subnet(BRIDGE) == 1  # the node's port; not the VXLAN port
    dp.delete_node(_node(2, None).netns)
    driver_fixtures.driver_wait(lambda: dp.node_gone(_node(2, None).netns), timeout=5)
    assert dp.observe_subnet(BRIDGE) == 0
    dp.delete_subnet(BRIDGE)
    fabric = _links("fcd-fabric") if "fcd-fabric" in driver_facade_netns() else {}
    assert BRIDGE not in fabric and vxlan not in fabric


def test_a_node_moved_between_hosts_and_a_lost_host_fenced_and_swept(
        dp: LinuxDataPlane) -> None:
    """A node's spec naming another host (a front-end moved, service/hosts_frontends.py): its
    port is made again there with its MAC, and the old host keeps nothing of it (its port and
    the segment it was the last on). A host fenced (its FRR stopped) does not run; rejoining
    sweeps the node ports it is not told to keep and the remote MACs its FRR had installed
    (its segments' VXLAN ports made again), then starts its FRR again."""
    dp.ensure_subnet(SubnetSpec(bridge=BRIDGE, cidr="10.93.0.0/24"))
    dp.ensure_host("t1", "172.31.0.11")
    dp.ensure_host("t2", "172.31.0.12")
    spec = _node(3, "t1")
    dp.ensure_node(spec)
    assert names.port(9303) in _links("fcd-h-t1")
    moved = NodeSpec(netns=spec.netns, role=spec.role, ports=spec.ports, host="t2")
    dp.ensure_node(moved)
    seen = dp.observe_node(spec.netns)
    assert seen is not None and seen.host == "t2"
    t1, t2 = _links("fcd-h-t1"), _links("fcd-h-t2")
    assert names.port(9303) not in t1 and BRIDGE not in t1  # nothing of it left on t1
    assert t2[names.port(9303)]["master"] == BRIDGE
    inner = json.loads(driver_run("ip", "-n", spec.netns, "-j", "link", "show", "eth0"))
    assert inner[0]["address"] == spec.ports[0].mac  # the same MAC
    assert names.segment_vxlan(SUBNET) in _links("fcd-fabric")  # t2 holds the segment
    kept = _node(4, "t1")  # a node the store still places on t1
    dp.ensure_node(kept)
    assert dp.fence_host("t1") and not dp.host_alive("t1")
    driver_run("ip", "-n", "fcd-h-t1", "link", "add", names.port(9399), "type", "veth",
               "peer", "name", "stale")  # a stale port, left by a node moved elsewhere
    vxlan = names.segment_vxlan(SUBNET)  # and a remote MAC installed before the fence
    driver_run("bridge", "-n", "fcd-h-t1", "fdb", "add", "02:00:00:00:93:99", "dev", vxlan,
               "dst", "172.31.0.99", "self", "extern_learn")
    swept = dp.rejoin_host("t1", "172.31.0.11", {names.port(9304)})
    assert swept == [f"port {names.port(9399)} of host t1",
                     f"forwarding entries of segment {SUBNET} on host t1"], swept
    t1 = _links("fcd-h-t1")
    assert names.port(9399) not in t1 and t1[names.port(9304)]["master"] == BRIDGE
    assert t1[vxlan]["master"] == BRIDGE  # made again
    assert "02:00:00:00:93:99" not in driver_run("bridge", "-n", "fcd-h-t1", "fdb", "show")
    assert dp.host_alive("t1")
    dp.delete_node(kept.netns)
    dp.fence_host("t2")  # a host whose namespace is gone (a machine started afresh): made anew
    driver_run("ip", "netns", "del", "fcd-h-t2")
    assert not dp.host_alive("t2")
    assert dp.rejoin_host("t2", "172.31.0.12", set()) == [] and dp.host_alive("t2")
    driver_run("ip", "-n", "fcd-substrate", "link", "set", names.host_port("t1"), "down")
    assert dp.rejoin_host("t1", "172.31.0.11", set()) is None  # cut off: nothing done
    driver_run("ip", "-n", "fcd-substrate", "link", "set", names.host_port("t1"), "up")
    dp.delete_node(spec.netns)
    for host in ("t1", "t2"):
        dp.remove_host(host)
    dp.delete_subnet(BRIDGE)
