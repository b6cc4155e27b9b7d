"""The host agent's executor on the linux driver (dataplane/executor.py over
linux/agent_host.HostDataPlane), without a control plane: intents made as the control plane
sends them (the wire's JSON) for simulated host t4, run by t4's agent kernel. Its node is made
on t4 (its port on t4's segment, read with `ip -j`), read back with its fingerprint, its
security rules set in t4's namespace only (the fabric's tables are not t4's: `nft -j`), read
back without drift, the host seen alive, and the node deleted, all through the executor. Then
the overlay split between the plane and an agent, and a node moved between two agents (make
before break: the new host's agent takes its namespace over, the old one lets it go)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facade.dataplane import executor, intents
from facade.dataplane.intents import Intent
from facade.dataplane.linux import LinuxDataPlane
from facade.dataplane.linux.agent_host import HostDataPlane
from facade.dataplane.linux.port_rules import TABLE
from facade.dataplane.wire import encode
from facade.domain import names
from facade.domain.specs import (
    NodeSpec,
    PortRuleSpec,
    PortSpec,
    ProcessSpec,
    SandboxSpec,
    SubnetSpec,
    port_rules_fingerprint,
)
from facade.domain.states import NodeRole
from tests.integration import driver_fixtures
from tests.integration.driver_fixtures import driver_run, needs_root

pytestmark = [pytest.mark.root, needs_root]
driver_host_guard = driver_fixtures.driver_host_guard

SUBNET = 9401  # test bridges are fcdb9xxx (driver_fixtures)
BRIDGE = names.bridge(SUBNET)
HOST = "t4"


def _links(netns: str) -> dict[str, dict[str, object]]:
    return {lk["ifname"]: lk for lk in json.loads(
        driver_run("ip", "-n", netns, "-j", "-d", "link") or "[]")}


def _tables(netns: str) -> set[str]:
    listing = json.loads(driver_run("ip", "netns", "exec", netns, "nft", "-j", "list",
                                    "tables"))
    return {o["table"]["name"] for o in listing["nftables"] if "table" in o}


def _run(kernel: HostDataPlane, op: str, **args: Any) -> Any:
    """One intent as the control plane sends it (its arguments as JSON), and its answer's
    value, through JSON too."""
    intent = Intent(id=op, op=op, args=json.loads(json.dumps(
        {k: encode(v) for k, v in args.items()})))
    answer = executor.answer(kernel, intent)
    assert answer.failure is None, answer.failure
    return json.loads(json.dumps(answer.value))


@pytest.fixture
def planes(tmp_path: Path, driver_host_guard: set[str]) -> Iterator[tuple[LinuxDataPlane,
                                                                          HostDataPlane]]:
    """The control plane's driver (the fabric, the host's making) and t4's agent kernel, on
    one state folder as the simulation's (its FRR's files are the plane's)."""
    plane = LinuxDataPlane(tmp_path / "state", this_plane_only=True)
    agent = HostDataPlane(tmp_path / "state", HOST, this_plane_only=True)
    try:
        plane.ensure_subnet(SubnetSpec(bridge=BRIDGE, cidr="10.94.0.0/24"))
        plane.ensure_host(HOST, "172.31.0.14")
        yield plane, agent
    finally:
        plane.cleanup()


def test_the_agents_executor_makes_its_hosts_node_and_rules(
        planes: tuple[LinuxDataPlane, HostDataPlane]) -> None:
    plane, agent = planes
    ip = "10.94.0.5"
    spec = NodeSpec(netns="fcd-i9405-a5", role=NodeRole.INSTANCE, host=HOST, ports=(
        PortSpec(host=names.port(9405), bridge=BRIDGE, ifname="eth0", address=f"{ip}/24",
                 mac=names.mac(SUBNET, ip)),))
    assert _run(agent, "ensure_node", spec=spec, start=()) == []
    host = _links(names.host_netns(HOST))
    assert host[names.port(9405)]["master"] == BRIDGE  # its port on t4's segment
    assert names.port(9405) not in _links("fcd-fabric")
    seen = intents.NODE_OR_NONE.decode(_run(agent, "observe_node", netns=spec.netns))
    assert seen is not None and seen.host == HOST and seen.fingerprint == spec.fingerprint()

    rules = {names.port(9405): (PortRuleSpec("ingress", "deny", "tcp", "22", "0.0.0.0/0", 1),)}
    assert _run(agent, "set_port_rules", rules=rules) is None
    assert TABLE in _tables(names.host_netns(HOST))
    assert TABLE not in _tables("fcd-fabric")  # the fabric's rules are not t4's to set
    back = intents.RULES_SEEN.decode(_run(agent, "observe_rules"))
    assert back.fingerprint == port_rules_fingerprint(rules) and back.drift == ()
    assert back.seen == rules

    assert _run(agent, "host_alive", name=HOST) is True
    assert _run(agent, "delete_node", netns=spec.netns) is None
    assert _run(agent, "observe_node", netns=spec.netns) is None
    assert names.port(9405) not in _links(names.host_netns(HOST))
    assert plane.observe_node(spec.netns) is None


def _namespaces() -> set[str]:
    return {line.split()[0] for line in driver_run("ip", "netns", "list").splitlines()
            if line.strip()}


@pytest.fixture
def split(tmp_path: Path, driver_host_guard: set[str]) -> Iterator[tuple[LinuxDataPlane,
                                                                         HostDataPlane]]:
    """The control plane's driver keeping the overlay's shared part, told that t4 is its
    agent's; t4's agent kernel on a state folder of its own."""
    plane = LinuxDataPlane(tmp_path / "state", this_plane_only=True)
    plane.delegate(lambda: [HOST])
    agent = HostDataPlane(tmp_path / "agent", HOST, this_plane_only=True)
    try:
        plane.ensure_subnet(SubnetSpec(bridge=BRIDGE, cidr="10.94.0.0/24"))
        yield plane, agent
    finally:
        plane.cleanup()


def test_the_host_is_its_agents_and_the_overlays_shared_part_the_planes(
        split: tuple[LinuxDataPlane, HostDataPlane], tmp_path: Path) -> None:
    """The plane makes the reflector and the fabric's leg, the agent its host's namespace and
    FRR (one reflector: the agent starts none); the plane stretches the fabric's side of a
    segment, the agent its host's; the plane's rules and observation leave t4 alone, the
    agent's inventory lists t4's nodes only (t5's, made by the plane, is not); the node's
    deletion and the host's removal leave the shared part to the plane, which removes it."""
    plane, agent = split
    plane.ensure_overlay()
    assert {"fcd-rr", "fcd-substrate"} <= _namespaces()
    assert not (tmp_path / "state" / "overlay" / "frr" / HOST).exists()
    _run(agent, "ensure_host", name=HOST, address="172.31.0.14")
    assert (tmp_path / "agent" / "overlay" / "frr" / HOST).is_dir()  # its FRR: the agent's
    assert not (tmp_path / "agent" / "overlay" / "frr" / "_reflector").exists()
    assert not (tmp_path / "agent" / "overlay" / "frr" / "_local").exists()
    plane.ensure_host("t5", "172.31.0.15")  # a host the plane drives itself, beside

    ip = "10.94.0.5"
    mine = NodeSpec(netns="fcd-i9405-a5", role=NodeRole.INSTANCE, host=HOST, ports=(
        PortSpec(host=names.port(9405), bridge=BRIDGE, ifname="eth0", address=f"{ip}/24",
                 mac=names.mac(SUBNET, ip)),))
    other = NodeSpec(netns="fcd-i9406-a6", role=NodeRole.INSTANCE, host="t5", ports=(
        PortSpec(host=names.port(9406), bridge=BRIDGE, ifname="eth0",
                 address="10.94.0.6/24", mac=names.mac(SUBNET, "10.94.0.6")),))
    assert names.segment_vxlan(SUBNET) not in _links("fcd-fabric")
    plane.stretch_segments({BRIDGE})
    assert names.segment_vxlan(SUBNET) in _links("fcd-fabric")
    _run(agent, "ensure_node", spec=mine, start=())
    plane.ensure_node(other)
    assert _links(names.host_netns(HOST))[names.port(9405)]["master"] == BRIDGE

    inventory = intents.INVENTORY.decode(_run(agent, "inventory", segments=False))
    assert inventory.namespaces == {mine.netns}  # t5's node is not t4's agent's
    assert set(intents.OBSERVED.decode(_run(agent, "observe")).nodes) == {mine.netns}
    seen = {n for n in plane.observe().nodes if names.node_id(n) is not None}
    assert seen == {other.netns}  # t4's nodes are its agent's to see

    rules = {names.port(9405): (PortRuleSpec("ingress", "deny", "tcp", "22", "0.0.0.0/0", 1),),
             names.port(9406): (PortRuleSpec("ingress", "deny", "tcp", "23", "0.0.0.0/0", 1),)}
    plane.set_port_rules(rules)
    assert TABLE in _tables("fcd-fabric") and TABLE in _tables(names.host_netns("t5"))
    assert TABLE not in _tables(names.host_netns(HOST))  # t4's rules are its agent's
    assert plane.observe_rules().drift == ()  # t4 not compared: its agent reads its own

    _run(agent, "delete_node", netns=mine.netns)
    plane.delete_node(other.netns)
    assert names.segment_vxlan(SUBNET) not in _links(names.host_netns(HOST))
    assert names.segment_vxlan(SUBNET) not in _links("fcd-fabric")  # t5 released it: hub
    plane.stretch_segments({BRIDGE})  # stretched again, then released by the plane's sweep
    assert plane.release_segments() == [f"link {names.segment_vxlan(SUBNET)}"]
    _run(agent, "remove_host", name=HOST)
    assert names.host_netns(HOST) not in _namespaces()
    assert "fcd-rr" in _namespaces()  # the agent leaves the shared part alone
    plane.leave_overlay()
    assert "fcd-rr" in _namespaces()  # t5 is still on it
    plane.remove_host("t5")
    assert not {"fcd-rr", "fcd-substrate"} & _namespaces()


@pytest.fixture
def two_agents(tmp_path: Path, driver_host_guard: set[str]) -> Iterator[tuple[
        LinuxDataPlane, HostDataPlane, HostDataPlane]]:
    """The control plane's driver (the overlay's shared part), and the agents of t4 and t6,
    each on a state folder of its own, their hosts made."""
    plane = LinuxDataPlane(tmp_path / "state", this_plane_only=True)
    plane.delegate(lambda: [HOST, "t6"])
    old = HostDataPlane(tmp_path / "agent4", HOST, this_plane_only=True)
    new = HostDataPlane(tmp_path / "agent6", "t6", this_plane_only=True)
    try:
        plane.ensure_subnet(SubnetSpec(bridge=BRIDGE, cidr="10.94.0.0/24"))
        plane.ensure_overlay()
        old.ensure_host(HOST, "172.31.0.14")
        new.ensure_host("t6", "172.31.0.16")
        plane.stretch_segments({BRIDGE})
        yield plane, old, new
    finally:
        for agent, host in ((old, HOST), (new, "t6")):
            agent.remove_host(host)
            agent.cleanup()
        plane.cleanup()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _inode(netns: str) -> int:
    return Path(f"/run/netns/{netns}").stat().st_ino


def test_a_node_moved_between_two_agents_keeps_its_namespace(
        two_agents: tuple[LinuxDataPlane, HostDataPlane, HostDataPlane],
        tmp_path: Path) -> None:
    """Make before break (a front-end's move): t6's agent makes the node of t4's agent by
    moving its port (the namespace and its MAC kept), then t4's agent, asked to delete its
    copy, finds the node on t6 (its `lo` alias) and lets it go: its records (the sandbox's
    folder, its init started by an `exec`, the process and pidfile it started) and its emptied
    segment go, the node stays; t6 starts its own process there and deletes it for good. A node still on t4 is deleted by t4's agent as before."""
    _, old, new = two_agents
    ip = "10.94.0.5"
    box = SandboxSpec(uid=0x10000000 + 94 * 65536, hostname="fe", memory=1 << 27, pids=64,
                      cpu_weight=100, own_network=False)  # a front-end's sandbox
    spec = NodeSpec(netns="fcd-i9405-fe", role=NodeRole.INSTANCE, host=HOST, sandbox=box,
                    ports=(PortSpec(host=names.port(9405), bridge=BRIDGE, ifname="eth0",
                                    address=f"{ip}/24", mac=names.mac(SUBNET, ip)),))
    old.ensure_node(spec)
    assert old.exec(spec.netns, ["true"]).returncode == 0  # starts t4's init in the node
    init = json.loads((tmp_path / "agent4" / "nodes" / spec.netns / "init.json").read_text())
    inode = _inode(spec.netns)
    work = ProcessSpec(key="wl9405", netns=spec.netns, argv=("sleep", "300"), sandboxed=True)
    pid = old.start_process(work)  # t4's pidfile
    assert old.observe_process(work.key) is not None and new.observe_process(work.key) is None

    moved = dataclasses.replace(spec, host="t6")
    _run(new, "ensure_node", spec=moved, start=())
    assert _inode(spec.netns) == inode  # the same namespace
    assert _links(names.host_netns("t6"))[names.port(9405)]["master"] == BRIDGE
    assert names.port(9405) not in _links(names.host_netns(HOST))
    assert _links(spec.netns)["eth0"]["address"] == names.mac(SUBNET, ip)
    assert BRIDGE in _links(names.host_netns(HOST))  # t4's segment: t4's agent's to release

    assert _run(old, "delete_node", netns=spec.netns) is None  # t4 lets it go
    assert _inode(spec.netns) == inode and "eth0" in _links(spec.netns)
    assert not (tmp_path / "agent4" / "nodes" / spec.netns).exists()
    assert not Path(f"/proc/{init['pid']}").exists()  # t4's init in it killed
    assert old.observe_process(work.key) is None and not _alive(pid)  # and t4's process
    assert not list((tmp_path / "agent4" / "run").glob("*.json"))  # its pidfile gone
    assert BRIDGE not in _links(names.host_netns(HOST))  # its emptied segment released
    seen = new.observe_node(spec.netns)
    assert seen is not None and seen.host == "t6" and seen.fingerprint == moved.fingerprint()
    assert new.exec(spec.netns, ["true"]).returncode == 0  # t6's own init now
    assert (tmp_path / "agent6" / "nodes" / spec.netns / "init.json").exists()
    new.start_process(work)  # the process reconciler's, once t6 does not see it
    assert new.observe_process(work.key) is not None

    _run(new, "delete_node", netns=spec.netns)  # its own: deleted
    assert spec.netns not in _namespaces()
    assert not (tmp_path / "agent6" / "nodes" / spec.netns).exists()
    assert BRIDGE not in _links(names.host_netns("t6"))
