"""The host agent's executor on the linux driver (dataplane/executor.py over
linux/agent_host.HostDataPlane), without a control plane: intents made as the control plane
sends them (the wire's JSON) for simulated host t4, run by t4's agent kernel. Its node is made
on t4 (its port on t4's segment, read with `ip -j`), read back with its fingerprint, its
security rules set in t4's namespace only (the fabric's tables are not t4's: `nft -j`), read
back without drift, the host seen alive, and the node deleted, all through the executor."""

from __future__ import annotations

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
