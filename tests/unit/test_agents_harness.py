"""The service tests' simulated hosts on agents (tests/agents.py) hold each side to its own:
a host's view makes and changes its own host's nodes only (another's refused or recorded),
sees its own only, and runs nothing while its agent is killed; the plane's side records what
it is asked about a remote host's nodes and leaves them out of what it observes. Without
this, a request routed to the wrong side would pass unseen in the `[agents]` runs."""

from __future__ import annotations

import pytest

from facade.dataplane.errors import DataPlaneError, Kind
from facade.dataplane.fake import FakeDataPlane
from facade.domain.specs import NodeSpec, PortSpec, ProcessSpec, SubnetSpec
from facade.domain.states import NodeRole
from tests.agents import HostView, PlaneSide


def _world() -> FakeDataPlane:
    world = FakeDataPlane(hosts={"h1": "172.31.0.11", "h2": "172.31.0.12"})
    world.ensure_subnet(SubnetSpec("fcdb3", "10.0.1.0/24"))
    return world


def _node(netns: str, host: str | None) -> NodeSpec:
    return NodeSpec(netns=netns, role=NodeRole.INSTANCE, host=host, ports=(
        PortSpec(ifname="eth0", host=f"fcdv{netns[-1]}", bridge="fcdb3",
                 address=f"10.0.1.{10 + int(netns[-1])}/24"),))


def test_a_hosts_view_makes_and_sees_its_own_nodes_only() -> None:
    world = _world()
    h1, h2 = HostView.of(world, "h1"), HostView.of(world, "h2")
    h1.ensure_node(_node("fcd-i1-a1", "h1"))
    assert "fcd-i1-a1" in world.nodes and h1.has_node("fcd-i1-a1")
    with pytest.raises(DataPlaneError) as exc:
        h1.ensure_node(_node("fcd-i2-a2", "h2"))
    assert exc.value.kind is Kind.FATAL and "fcd-i2-a2" not in world.nodes
    assert h1.foreign == ["ensure_node fcd-i2-a2 (for h2)"]
    assert not h2.has_node("fcd-i1-a1") and h2.observe_node("fcd-i1-a1") is None  # a read
    assert h2.inventory().namespaces == frozenset() and h2.observe().nodes == {}
    h2.delete_node("fcd-i1-a1")  # not its own: let go (a move's old side), not deleted
    assert "fcd-i1-a1" in world.nodes and h2.foreign == []
    with pytest.raises(DataPlaneError):
        h2.set_backends("fcd-i1-a1", ())
    assert h2.foreign == ["set_backends fcd-i1-a1 (a node of h1)"]
    with pytest.raises(DataPlaneError):
        h2.ensure_host("h1", "172.31.0.11")
    h1.dead = True  # its agent killed: nothing runs
    with pytest.raises(DataPlaneError, match="killed"):
        h1.delete_node("fcd-i1-a1")
    assert "fcd-i1-a1" in world.nodes


def test_the_planes_side_records_requests_about_a_remote_hosts_nodes() -> None:
    world = _world()
    plane = PlaneSide(world)
    plane.delegate(lambda: ["h1"])
    HostView.of(world, "h1").ensure_node(_node("fcd-i1-a1", "h1"))
    plane.ensure_node(_node("fcd-i3-a3", "h2"))  # h2 is the plane's: fine
    assert plane.misrouted == []
    assert set(plane.observe().nodes) == {"fcd-i3-a3"}
    assert plane.inventory().namespaces == frozenset({"fcd-i3-a3"})
    plane.delete_node("fcd-i1-a1")  # let go (a move onto h1's side), not deleted
    assert "fcd-i1-a1" in world.nodes and plane.misrouted == []
    plane.ensure_host("h1", "172.31.0.11")
    plane.start_process(ProcessSpec(key="wl1", netns="fcd-i1-a1", argv=("true",)))
    assert plane.misrouted == ["ensure_host (host h1 is its agent's)",
                               "start_process fcd-i1-a1 (host h1 is its agent's)"]
