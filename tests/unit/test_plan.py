"""reconcile.plan: the diff between desired and observed state, in dependency order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from facade.dataplane.errors import DataPlaneError
from facade.dataplane.fake import FakeDataPlane
from facade.domain.specs import (
    DesiredState,
    FrontendSpec,
    NodeSpec,
    ObservedNode,
    ObservedProcess,
    ObservedState,
    PortSpec,
    ProcessSpec,
    SubnetSpec,
)
from facade.reconcile.apply import apply
from facade.reconcile.plan import Plan, plan

pytestmark = pytest.mark.no_store  # tests/conftest.py

CUST, BACK, MGMT = "fcdb1", "fcdb2", "fcdb3"
FE = "fcd-i1-docs-fe"
B = [f"fcd-i{i}-docs-b{i - 1}" for i in range(2, 6)]  # four backend netns
B_IP = [f"10.0.1.{i}" for i in range(3, 7)]


def _port(host: str, bridge: str, ifname: str, addr: str, gw: str | None) -> PortSpec:
    return PortSpec(host=host, bridge=bridge, ifname=ifname, address=addr, gateway=gw)


def frontend() -> NodeSpec:
    ports = (_port("fcdv1", CUST, "eth0", "192.168.0.2/24", "192.168.0.1"),
             _port("fcdv2", BACK, "eth1", "10.0.1.2/24", None),
             _port("fcdv3", MGMT, "eth2", "10.0.200.2/24", "10.0.200.1"))
    return NodeSpec(netns=FE, role="frontend", ports=ports,
                    frontend=FrontendSpec(customer_if="eth0", backend_if="eth1",
                                          endpoint="192.168.0.2", port=80))


def backend(i: int) -> NodeSpec:
    return NodeSpec(netns=B[i], role="backend", ports=(
        _port(f"fcdv{10 + i}", BACK, "eth0", f"{B_IP[i]}/24", "10.0.1.1"),
        _port(f"fcdv{20 + i}", MGMT, "eth1", f"10.0.200.{3 + i}/24", "10.0.200.1")))


def process(i: int) -> ProcessSpec:
    return ProcessSpec(key=f"wl{i}", netns=B[i], argv=("prog", B_IP[i], "80"))


def desired(n: int = 3, rotation: int | None = None) -> DesiredState:
    rot = n if rotation is None else rotation
    return DesiredState(
        subnets=(SubnetSpec(CUST, "192.168.0.0/24"), SubnetSpec(BACK, "10.0.1.0/24"),
                 SubnetSpec(MGMT, "10.0.200.0/24")),
        nodes=(frontend(), *(backend(i) for i in range(n))),
        processes=tuple(process(i) for i in range(n)),
        backends={FE: tuple(reversed(B_IP[:rot]))})  # order must not matter


def converged(state: DesiredState) -> FakeDataPlane:
    dp = FakeDataPlane()
    result = apply(plan(state, dp.observe()), dp)
    assert result.ok, result.failed
    return dp


def verbs(p: Plan) -> list[tuple[str, str]]:
    return [(a.verb, a.target) for a in p.actions]


def test_empty_plan_when_nothing_wanted_or_seen() -> None:
    assert not plan(DesiredState(), ObservedState())
    assert len(plan(DesiredState(), ObservedState())) == 0


def test_fresh_plan_creates_in_dependency_order() -> None:
    p = plan(desired(), ObservedState())
    kinds = [a.verb for a in p.actions]
    assert kinds == (["ensure_subnet"] * 3 + ["ensure_node"] * 4 + ["start_process"] * 3
                     + ["set_backends"])
    assert p.actions[-1].backends == tuple(sorted(B_IP[:3]))
    assert all(a.reason == "missing" for a in p.actions[:-1])


def test_plan_after_convergence_is_empty() -> None:
    state = desired()
    dp = converged(state)
    assert dp.backends[FE] == tuple(sorted(B_IP[:3]))
    again = plan(state, dp.observe())
    assert not again, verbs(again)
    # a pass on an empty plan calls nothing on the driver
    calls = len(dp.calls)
    apply(again, dp)
    assert len(dp.calls) == calls


def test_missing_node_is_ensured_and_its_process_restarted() -> None:
    state = desired()
    dp = converged(state)
    dp.delete_node(B[1])  # the namespace vanished (and its process with it)
    p = plan(state, dp.observe())
    assert ("ensure_node", B[1]) in verbs(p)
    assert ("start_process", "wl1") in verbs(p)
    assert verbs(p).index(("ensure_node", B[1])) < verbs(p).index(("start_process", "wl1"))
    assert ("ensure_node", B[0]) not in verbs(p)
    apply(p, dp)
    assert not plan(state, dp.observe())


def test_process_restarted_when_node_recreated_even_if_process_still_seen() -> None:
    state = desired()
    dp = converged(state)
    observed = dp.observe()
    nodes = dict(observed.nodes)
    del nodes[B[0]]  # node gone but a stale process record remains
    p = plan(state, replace(observed, nodes=nodes))
    start = [a for a in p.actions if a.verb == "start_process"]
    assert [(a.target, a.reason) for a in start] == [("wl0", "restart")]


def test_extra_node_is_deleted_and_its_process_stopped_first() -> None:
    dp = converged(desired(4))
    p = plan(desired(3), dp.observe())
    v = verbs(p)
    assert ("delete_node", B[3]) in v
    assert ("stop_process", "wl3") in v
    assert v.index(("stop_process", "wl3")) < v.index(("delete_node", B[3]))
    assert not any(verb.startswith("ensure") for verb, _ in v)


def test_rotation_shrinks_before_leaving_backend_is_deleted() -> None:
    dp = converged(desired(4))
    assert dp.backends[FE] == tuple(sorted(B_IP[:4]))
    p = plan(desired(3), dp.observe())
    v = verbs(p)
    shrink = v.index(("set_backends", FE))
    assert shrink < v.index(("delete_node", B[3]))
    assert p.actions[shrink].backends == tuple(sorted(B_IP[:3]))
    assert v.count(("set_backends", FE)) == 1  # no second, identical rotation change
    apply(p, dp)
    assert dp.backends[FE] == tuple(sorted(B_IP[:3]))
    calls = dp.calls[-len(p):]
    assert calls.index(f"set_backends {FE} {','.join(sorted(B_IP[:3]))}") < calls.index(
        f"delete_node {B[3]}")
    assert not plan(desired(3), dp.observe())


def test_unhealthy_backend_leaves_rotation_but_node_stays() -> None:
    dp = converged(desired(3))
    p = plan(desired(3, rotation=2), dp.observe())
    assert verbs(p) == [("set_backends", FE)]
    assert p.actions[0].backends == tuple(sorted(B_IP[:2]))


def test_growing_rotation_happens_after_new_backend_exists() -> None:
    dp = converged(desired(3))
    p = plan(desired(4), dp.observe())
    v = verbs(p)
    assert v == [("ensure_node", B[3]), ("start_process", "wl3"), ("set_backends", FE)]
    assert p.actions[-1].backends == tuple(sorted(B_IP[:4]))


def test_changed_fingerprint_ensures_node_again() -> None:
    state = desired()
    dp = converged(state)
    changed = replace(frontend(), frontend=replace(frontend().frontend, port=8080))
    state2 = replace(state, nodes=(changed, *state.nodes[1:]))
    p = plan(state2, dp.observe())
    assert [(a.verb, a.target, a.reason) for a in p.actions] == [
        ("ensure_node", FE, "configuration changed")]
    assert p.actions[0].node == changed


def test_changed_address_ensures_node_again() -> None:
    state = desired()
    dp = converged(state)
    observed = dp.observe()
    seen = observed.nodes[B[0]]
    bad = replace(seen, addresses=frozenset({("eth0", "10.9.9.9/24")}))
    p = plan(state, replace(observed, nodes={**observed.nodes, B[0]: bad}))
    assert [(a.verb, a.target, a.reason) for a in p.actions] == [
        ("ensure_node", B[0], "interfaces differ")]


def test_changed_command_restarts_process() -> None:
    state = desired()
    dp = converged(state)
    new = replace(process(0), argv=("prog", "--verbose"))
    state2 = replace(state, processes=(new, *state.processes[1:]))
    p = plan(state2, dp.observe())
    assert verbs(p) == [("stop_process", "wl0"), ("start_process", "wl0")]
    assert p.actions[1].reason == "restart"


def test_unknown_subnet_deleted_after_nodes() -> None:
    dp = converged(desired())
    dp.ensure_subnet(SubnetSpec("fcdb99", "172.16.0.0/24"))
    dp.ensure_node(NodeSpec(netns="fcd-i99-old", role="instance", ports=(
        _port("fcdv99", "fcdb99", "eth0", "172.16.0.2/24", "172.16.0.1"),)))
    p = plan(desired(), dp.observe())
    assert verbs(p) == [("delete_node", "fcd-i99-old"), ("delete_subnet", "fcdb99")]
    assert apply(p, dp).ok


def test_deletes_before_creates_and_subnets_before_nodes_before_processes() -> None:
    dp = FakeDataPlane()
    dp.ensure_subnet(SubnetSpec("fcdb99", "172.16.0.0/24"))
    dp.ensure_node(NodeSpec(netns="fcd-i99-old", role="instance", ports=(
        _port("fcdv99", "fcdb99", "eth0", "172.16.0.2/24", "172.16.0.1"),)))
    dp.start_process(ProcessSpec(key="wl99", netns="fcd-i99-old", argv=("x",)))
    p = plan(desired(), dp.observe())
    order = {"set_backends": 9, "stop_process": 0, "delete_node": 1, "delete_subnet": 2,
             "ensure_subnet": 3, "ensure_node": 4, "start_process": 5}
    ranks = [order[a.verb] for a in p.actions]
    assert ranks[:3] == [0, 1, 2]
    assert ranks[3:-1] == sorted(ranks[3:-1])
    assert p.actions[-1].verb == "set_backends"
    assert apply(p, dp).ok  # the fake refuses nodes without their bridge: order is real
    assert not plan(desired(), dp.observe())


def test_frontend_being_deleted_gets_no_rotation() -> None:
    dp = converged(desired())
    p = plan(DesiredState(), dp.observe())
    assert not any(a.verb == "set_backends" for a in p.actions)
    assert apply(p, dp).ok
    assert not dp.nodes and not dp.subnets and not dp.processes
    assert not plan(DesiredState(), dp.observe())


def test_plan_is_pure() -> None:
    state = desired()
    observed = ObservedState(nodes={FE: ObservedNode(FE, None, frozenset(), ())})
    assert plan(state, observed) == plan(state, observed)


def test_a_deleted_front_end_table_is_reinstalled_before_the_rotation() -> None:
    dp = FakeDataPlane()
    want = _drift_world()
    apply(plan(want, dp.observe()), dp)
    seen = dp.observe()
    fe = next(n for n in want.nodes if n.frontend is not None)
    # as the linux driver reports a front-end whose nftables table is gone
    broken = replace(seen, nodes={**seen.nodes,
                                  fe.netns: replace(seen.nodes[fe.netns], backends=None)})
    actions = [(a.verb, a.target, a.reason) for a in plan(want, broken).actions]
    repair = ("ensure_node", fe.netns, "front-end rules missing")
    assert repair in actions
    assert actions.index(repair) < next(
        i for i, a in enumerate(actions) if a[0] == "set_backends")


def test_nodes_rejoin_a_recreated_bridge() -> None:
    dp = FakeDataPlane()
    want = _drift_world()
    apply(plan(want, dp.observe()), dp)
    bridge = want.subnets[0].bridge
    on_it = {n.netns for n in want.nodes if any(p.bridge == bridge for p in n.ports)}
    dp.subnets.pop(bridge)  # someone deleted the bridge behind our back
    actions = [(a.verb, a.target) for a in plan(want, dp.observe()).actions]
    assert actions[0] == ("ensure_subnet", bridge)
    assert {t for v, t in actions if v == "ensure_node"} == on_it
    apply(plan(want, dp.observe()), dp)
    assert not plan(want, dp.observe())


def _drift_world() -> DesiredState:
    cust, back = SubnetSpec("fcdb1", "10.0.1.0/24"), SubnetSpec("fcdb2", "10.0.1.0/24")
    fe = NodeSpec("fcd-i1-fe", "frontend", (
        PortSpec("fcdv1", "fcdb1", "eth0", "10.0.1.3/24", "10.0.1.1"),
        PortSpec("fcdv2", "fcdb2", "eth1", "10.0.1.2/24")),
        frontend=FrontendSpec("eth0", "eth1", "10.0.1.3", 80))
    client = NodeSpec("fcd-i2-client", "instance", (
        PortSpec("fcdv3", "fcdb1", "eth0", "10.0.1.2/24", "10.0.1.1"),))
    backend = NodeSpec("fcd-i3-b1", "backend", (
        PortSpec("fcdv4", "fcdb2", "eth0", "10.0.1.3/24", "10.0.1.1"),))
    return DesiredState(subnets=(cust, back), nodes=(fe, client, backend),
                        backends={"fcd-i1-fe": ("10.0.1.3",)})


def test_apply_runs_a_run_of_node_actions_side_by_side_and_reports_in_order() -> None:
    import threading
    import time

    from facade.reconcile.apply import _batches

    state = desired(3)
    actions = plan(state, ObservedState()).actions
    batches = _batches(actions)
    # subnets one by one; the nodes together; the processes together; then the rotation
    verbs = [(b[0].verb, len(b)) for b in batches]
    assert ("ensure_node", 4) in verbs and ("start_process", 3) in verbs
    assert all(len(b) == 1 for b in batches if b[0].verb == "ensure_subnet")

    class Slow(FakeDataPlane):
        """Records how many node operations overlapped."""

        at_once = 0
        most = 0
        lock = threading.Lock()

        def ensure_node(self, spec: NodeSpec,
                        start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
            with self.lock:
                self.at_once += 1
                self.most = max(self.most, self.at_once)
            time.sleep(0.05)
            with self.lock:
                self.at_once -= 1
            return super().ensure_node(spec, start)

    dp = Slow(concurrency=4)
    seen: list[str] = []
    result = apply(plan(state, dp.observe()), dp, lambda a, e: seen.append(a.target))
    assert result.ok and dp.most > 1
    assert seen == [a.target for a in plan(state, ObservedState()).actions]


def test_a_node_that_failed_keeps_its_processes_from_starting_side_by_side_too() -> None:
    state = desired(2)

    class Broken(FakeDataPlane):
        def ensure_node(self, spec: NodeSpec,
                        start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
            if spec.netns == B[1]:
                raise RuntimeError("no room")
            return super().ensure_node(spec, start)

    dp = Broken(concurrency=4)
    result = apply(plan(state, dp.observe()), dp)
    assert [a.target for a, _ in result.failed] == [B[1]]
    assert "start_process wl1" not in dp.calls and "start_process wl0" in dp.calls


def test_an_early_process_starts_with_its_node_and_others_after_it() -> None:
    """A built-in workload (ProcessSpec.early) is handed to ensure_node, which starts it while
    the node's ports are made; it is reported done and not started again. A process the
    driver could not start early is started the ordinary way after its node, with its error
    reported; a process that is not early always is."""
    state = desired(3)
    procs = (replace(state.processes[0], early=True),  # started by ensure_node
             replace(state.processes[1], early=True),  # fails early, then the ordinary way
             state.processes[2])  # not early: after its node
    state = replace(state, processes=procs)

    class Picky(FakeDataPlane):
        refused = 0
        asked: list[tuple[str, tuple[str, ...]]] = []

        def ensure_node(self, spec: NodeSpec,
                        start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
            self.asked.append((spec.netns, tuple(p.key for p in start)))
            return super().ensure_node(spec, start)

        def start_process(self, spec: ProcessSpec) -> int:
            if spec.key == "wl1":
                self.refused += 1
                raise DataPlaneError("wl1: no room")
            return super().start_process(spec)

    dp = Picky(concurrency=4)
    reported: dict[str, str | None] = {}
    result = apply(plan(state, dp.observe()), dp, lambda a, e: reported.update({a.target: e}))
    assert sorted(dp.asked) == sorted([(FE, ()), (B[0], ("wl0",)), (B[1], ("wl1",)),
                                       (B[2], ())])
    assert set(dp.processes) == {"wl0", "wl2"}
    assert dp.calls.count("start_process wl0") == 1  # not started again after its node
    assert "stop_process wl0" not in dp.calls
    assert dp.calls.index("start_process wl2") > dp.calls.index(f"ensure_node {B[2]}")
    assert reported["wl0"] is None and reported["wl2"] is None
    assert reported["wl1"] is not None and "no room" in reported["wl1"]
    assert [a.target for a, _ in result.failed] == ["wl1"]
    assert dp.refused == 2  # early, then the ordinary way


def test_an_early_process_of_a_node_that_failed_is_not_started() -> None:
    state = desired(1)
    state = replace(state, processes=(replace(state.processes[0], early=True),))

    class Broken(FakeDataPlane):
        def ensure_node(self, spec: NodeSpec,
                        start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
            if spec.netns == B[0]:
                raise RuntimeError("no room")
            return super().ensure_node(spec, start)

    dp = Broken(concurrency=4)
    result = apply(plan(state, dp.observe()), dp)
    assert [a.target for a, _ in result.failed] == [B[0]]
    assert not dp.processes and "start_process wl0" not in dp.calls


def test_a_node_that_is_not_desired_stops_its_processes_then_goes() -> None:
    from facade.reconcile.plan import plan_node, plan_node_removal

    running = {"wl7": ObservedProcess(key="wl7", netns="fcd-i7-b", pid=70, fingerprint="f"),
               "wl8": None}
    removal = plan_node_removal("fcd-i7-b", True, running)
    assert [(a.verb, a.target) for a in removal] == [("stop_process", "wl7"),
                                                     ("delete_node", "fcd-i7-b")]
    # already gone: only what still runs under its keys stops
    assert [(a.verb, a.target) for a in plan_node_removal("fcd-i7-b", False, running)] == \
        [("stop_process", "wl7")]
    assert plan_node_removal("fcd-i7-b", False, {"wl7": None}) == []
    # plan_node without a spec is the same plan
    seen = ObservedNode(netns="fcd-i7-b", fingerprint="x", addresses=frozenset())
    assert plan_node("fcd-i7-b", None, seen, (), running) == removal
