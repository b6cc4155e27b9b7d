"""A host's work without a store (dataplane/remote.py, routed.py, executor.py): the queue a
caller's operation waits in until the host's agent takes and answers it, what a caller gets
when the agent is away or silent (Retry, the intent withdrawn), answers that are late, bad or
failures, the executor's refusals, and the routed data plane sending each operation to the
driver of the host it concerns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from facade.dataplane import executor, intents
from facade.dataplane.errors import DataPlaneError, Kind
from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.intents import Failure, Intent
from facade.dataplane.remote import Answer, HostWork
from facade.dataplane.routed import RoutedDataPlane
from facade.dataplane.wire import WireError
from facade.domain.specs import (
    NodeSpec,
    PortRuleSpec,
    PortSpec,
    Probe,
    ProcessSpec,
    SandboxSpec,
    SubnetSpec,
)
from facade.domain.states import NodeRole


class HostFake(FakeDataPlane):
    """The fake driver as a host agent's kernel: a node's segments are made with it (as
    hostplane.ensure_segment makes them on a host)."""

    def ensure_node(self, spec: NodeSpec, start: Any = ()) -> frozenset[str]:
        for port in spec.ports:
            self.subnets.setdefault(port.bridge, SubnetSpec(port.bridge, "10.0.0.0/24"))
        return super().ensure_node(spec, start)


def _node(netns: str = "fcd-i7-web", host: str | None = "h1") -> NodeSpec:
    return NodeSpec(netns=netns, role=NodeRole.INSTANCE, host=host, ports=(
        PortSpec(host="fcdv7", bridge="fcdb3", ifname="eth0", address="10.0.0.5/24",
                 mac="02:00:00:00:03:05"),),
        sandbox=SandboxSpec(uid=100000, hostname="web", memory=1 << 28, pids=64,
                            cpu_weight=100))


@contextmanager
def agent(work: HostWork, host: str, kernel: Any, *, mute: bool = False) -> Iterator[list[str]]:
    """An agent of `host` in a thread, taking (and with `mute`, never answering) its work;
    yields the operations it took."""
    stop, taken = threading.Event(), []

    def run() -> None:
        while not stop.is_set():
            for intent in work.take(host, 0.1, 10):
                taken.append(intent.op)
                if not mute:
                    work.answer(host, [executor.answer(kernel, intent)])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield taken
    finally:
        stop.set()
        thread.join()


def test_an_operation_waits_for_the_agents_answer() -> None:
    work, kernel = HostWork(), HostFake(hosts={"h1": "172.31.0.11"})
    with agent(work, "h1", kernel) as taken:
        started = work.call("h1", "ensure_node", intents.STARTED, None, spec=_node(),
                            start=())
        seen = work.call("h1", "observe_node", intents.NODE_OR_NONE, None,
                         netns="fcd-i7-web")
    assert started == frozenset() and taken == ["ensure_node", "observe_node"]
    assert kernel.nodes["fcd-i7-web"] == _node()
    assert seen is not None and seen.fingerprint == _node().fingerprint()


def test_an_away_agent_is_a_retry_at_once_and_nothing_is_queued() -> None:
    work = HostWork()
    with pytest.raises(DataPlaneError) as caught:
        work.call("h1", "delete_node", intents.NOTHING, None, netns="fcd-i7-web")
    assert caught.value.kind is Kind.RETRY and "away" in str(caught.value)
    assert work.take("h1", 0, 10) == []


def test_a_silent_agent_is_a_retry_and_an_intent_nobody_took_is_withdrawn() -> None:
    work = HostWork(wait=0.2)
    assert work.take("h1", 0, 10) == []  # it asked just now: present
    with pytest.raises(DataPlaneError) as caught:
        work.call("h1", "delete_node", intents.NOTHING, None, netns="fcd-i7-web")
    assert caught.value.kind is Kind.RETRY and "did not take it within 0.2 s" in str(
        caught.value)
    assert work.take("h1", 0, 10) == []  # withdrawn: it never runs late


def test_a_late_answer_is_dropped_and_the_caller_retries() -> None:
    work = HostWork(wait=0.3)
    with agent(work, "h1", HostFake(), mute=True) as taken:
        with pytest.raises(DataPlaneError, match="did not answer it within 0.3 s"):
            work.call("h1", "has_node", intents.FLAG, None, netns="fcd-i7-web")
    assert taken == ["has_node"]
    assert work.answer("h1", [Answer(id="whatever", value=True)]) == (0, 1)
    assert work.late == 1


def test_a_failure_on_the_host_is_raised_as_it_was() -> None:
    work = HostWork()
    with agent(work, "h1", HostFake()):
        with pytest.raises(DataPlaneError) as caught:  # not a front-end: fatal there
            work.call("h1", "set_backends", intents.NOTHING, None, netns="fcd-i7-web",
                      backends=("10.0.0.9",))
    assert caught.value.kind is Kind.RETRY and "no front-end fcd-i7-web" in str(caught.value)
    assert "on host h1" in str(caught.value)


def _taken(work: HostWork, host: str, op: str, form: Any, **args: Any) -> tuple[Any, Intent]:
    """A caller's pending operation, taken by the agent (not answered)."""
    work.take(host, 0, 1)  # present
    pending = work.submit(host, op, form, 5.0, **args)
    (intent,) = work.take(host, 0, 10)
    return pending, intent


def test_a_bad_answer_names_the_field_and_answers_nothing() -> None:
    work = HostWork()
    first, one = _taken(work, "h1", "observe_node", intents.NODE_OR_NONE, netns="a")
    second, two = _taken(work, "h1", "has_node", intents.FLAG, netns="b")
    with pytest.raises(WireError) as caught:
        work.answer("h1", [Answer(id=two.id, value=True),
                           Answer(id=one.id, value={"netns": "a", "fingerprint": None,
                                                    "addresses": "eth0"})])
    assert caught.value.where == "results[1].value.addresses"
    assert not first.done.is_set() and not second.done.is_set()  # nothing answered
    assert work.answer("h2", [Answer(id=two.id, value=True)]) == (0, 1)  # not h2's
    assert work.answer("h1", [Answer(id=two.id, value=True),
                              Answer(id=one.id, failure=Failure("gone", Kind.FATAL))]) == (2, 0)
    assert work.result(second) is True
    with pytest.raises(DataPlaneError) as fatal:
        work.result(first)
    assert fatal.value.kind is Kind.FATAL and "observe_node on host h1: gone" in str(fatal.value)


@pytest.mark.parametrize(("intent", "words"), [
    (Intent("1", "format_disk", {}), "'format_disk' is not an operation"),
    (Intent("2", "delete_node", {}), "args.netns: missing"),
    (Intent("3", "delete_node", {"netns": 5}), "args.netns: must be a string"),
    (Intent("4", "delete_node", {"netns": "x", "force": True}), "args.force: unknown argument of delete_node"),
    (Intent("5", "ensure_node", {"spec": {"netns": "x"}, "start": []}), "args.spec.role"),
])
def test_the_executor_refuses_what_it_cannot_read_as_fatal(intent: Intent, words: str) -> None:
    kernel = HostFake()
    answer = executor.answer(kernel, intent)
    assert answer.failure is not None and answer.failure.kind is Kind.FATAL
    assert words in answer.failure.message
    assert kernel.calls == []  # nothing ran


class Hosts:
    """RemoteHosts for the tests: `agents` are remote (h1); nodes placed as `placed` says."""

    def __init__(self) -> None:
        self.placed: dict[int, str] = {}
        self.asked: list[int] = []
        self.agents = {"h1"}
        self.lost_hosts: set[str] = set()

    def remote(self, host: str) -> bool:
        return host in self.agents

    def remote_hosts(self) -> list[str]:
        return sorted(self.agents)

    def node_host(self, instance_id: int) -> str | None:
        self.asked.append(instance_id)
        return self.placed.get(instance_id)

    def lost(self, host: str) -> bool:
        return host in self.lost_hosts


def _routed() -> tuple[RoutedDataPlane, FakeDataPlane, HostFake, Hosts, HostWork]:
    local, remote, hosts, work = FakeDataPlane(), HostFake(hosts={"h1": "x"}), Hosts(), \
        HostWork(away_after=0.3)
    local.ensure_subnet(SubnetSpec("fcdb3", "10.0.0.0/24"))
    local.hosts["h2"] = "172.31.0.12"
    return RoutedDataPlane(local, work, hosts), local, remote, hosts, work


def test_the_routed_plane_sends_a_remote_hosts_operations_to_its_agent() -> None:
    dp, local, remote, hosts, work = _routed()
    proc = ProcessSpec(key="wl7", netns="fcd-i7-web", argv=("sleep",), sandboxed=True)
    with agent(work, "h1", remote):
        dp.ensure_node(_node(host="h1"))
        dp.ensure_node(_node("fcd-i8-db", host="h2"))  # a simulated host the plane drives
        assert dp.start_process(proc) > 0
        assert dp.observe_process("wl7") is not None
        assert dp.has_node("fcd-i7-web") and dp.has_node("fcd-i8-db")
        assert dp.host_alive("h1") and dp.host_alive("h2")
        rules = {"fcdv7": (PortRuleSpec("ingress", "deny", "tcp", "22", "0.0.0.0/0", 1),)}
        dp.set_port_rules(rules)
        assert dp.observe_rules().drift == ()  # the same rules on both
        remote.port_rules = {}
        remote.port_rules_recorded = None
        assert any("host h1" in d for d in dp.observe_rules().drift)
        results = dp.probe_many([Probe("fcd-i8-db", "10.0.0.5", 80, 1.0),
                                 Probe("fcd-i7-web", "10.0.0.9", 80, 1.0),
                                 Probe("fcd-i8-db", "10.0.0.7", 80, 1.0)])
        assert len(results) == 3
        assert "fcd-i7-web" in dp.inventory().namespaces
        dp.stop_process("wl7")
        dp.delete_node("fcd-i7-web")
        assert dp.node_gone("fcd-i7-web")
    assert set(remote.nodes) == set() and set(local.nodes) == {"fcd-i8-db"}
    assert "ensure_node fcd-i7-web" in remote.calls and "ensure_node fcd-i7-web" not in local.calls
    assert local.port_rules == rules and remote.calls.count("set_port_rules fcdv7") == 1
    assert hosts.asked == []  # each node's host learnt from its spec: the store never asked


def test_a_node_the_plane_did_not_make_is_found_through_the_store() -> None:
    dp, local, remote, hosts, work = _routed()
    remote.ensure_node(_node(host="h1"))  # made before a restart of the control plane
    hosts.placed[7] = "h1"
    with agent(work, "h1", remote):
        seen = dp.observe_node("fcd-i7-web")
        assert seen is not None and dp.observe_node("fcd-r1") is None  # a router: local
    assert hosts.asked == [7]  # once, then kept
    time.sleep(work.away_after + 0.05)
    with pytest.raises(DataPlaneError) as caught:  # its agent away: Retry, nothing local
        dp.delete_node("fcd-i7-web")
    assert caught.value.kind is Kind.RETRY and "away" in str(caught.value)
    assert "delete_node fcd-i7-web" not in local.calls and "fcd-i7-web" in remote.nodes
    assert not dp.host_alive("h1")  # asked of nobody


def test_the_operations_are_the_protocols() -> None:
    """Every operation that travels has its result's form, its arguments (the protocol
    method's parameters) and a method of HostKernel and of DataPlane with that name."""
    import inspect

    from facade.dataplane.executor import HostKernel
    from facade.dataplane.protocol import DataPlane

    assert set(intents.OPS) == set(intents.ARGS)
    for op, args in intents.ARGS.items():
        params = [p for p in inspect.signature(getattr(DataPlane, op)).parameters
                  if p != "self"]
        assert tuple(params) == args, op
        assert hasattr(HostKernel, op)


def test_an_answer_given_twice_counts_once() -> None:
    work = HostWork()
    pending, intent = _taken(work, "h1", "has_node", intents.FLAG, netns="a")
    assert work.answer("h1", [Answer(id=intent.id, value=True),
                              Answer(id=intent.id, value=False)]) == (1, 1)
    assert work.result(pending) is True
    assert work.answer("h1", [Answer(id=intent.id, value=False)]) == (0, 1)  # answered


def test_a_host_whose_agent_registers_gets_its_nodes_work_from_then_on() -> None:
    local, remote, hosts, work = FakeDataPlane(), HostFake(hosts={"h2": "x"}), Hosts(), \
        HostWork()
    local.ensure_subnet(SubnetSpec("fcdb3", "10.0.0.0/24"))
    local.hosts["h2"] = "172.31.0.12"
    dp = RoutedDataPlane(local, work, hosts)
    dp.ensure_node(_node(host="h2"))  # h2 has no agent: the plane makes it
    assert "fcd-i7-web" in local.nodes and dp.has_node("fcd-i7-web")
    hosts.agents.add("h2")  # its agent registered
    remote.ensure_node(_node(host="h2"))
    with agent(work, "h2", remote) as taken:
        assert dp.has_node("fcd-i7-web") and dp.host_alive("h2")
    assert taken == ["has_node", "host_alive"]


class HubFake(FakeDataPlane):
    """The fake driver as a local driver that keeps the overlay's shared part (routed.py's
    OverlayHub): what is asked of it, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.hub: list[str] = []
        self.delegated: Any = None

    def delegate(self, hosts: Any) -> None:
        self.delegated = hosts

    def ensure_overlay(self) -> None:
        self.hub.append("ensure_overlay")

    def leave_overlay(self) -> None:
        self.hub.append("leave_overlay")

    def stretch_segments(self, bridges: Any) -> None:
        self.hub.append("stretch " + ",".join(sorted(bridges)))

    def release_segments(self) -> list[str]:
        self.hub.append("release")
        return []


def test_the_overlays_shared_part_stays_with_the_local_driver() -> None:
    """A remote host's making, nodes and removal: the local driver makes the overlay's shared
    part first (the reflector, the fabric's side of a segment) and removes it after; it is
    told which hosts are remote; a host it drives itself asks nothing of the hub."""
    local, remote, hosts, work = HubFake(), HostFake(), Hosts(), HostWork(away_after=0.3)
    local.ensure_subnet(SubnetSpec("fcdb3", "10.0.0.0/24"))
    dp = RoutedDataPlane(local, work, hosts)
    assert local.delegated is not None and list(local.delegated()) == ["h1"]
    with agent(work, "h1", remote) as taken:
        dp.ensure_host("h1", "172.31.0.11")
        dp.ensure_node(_node(host="h1"))
        dp.delete_node("fcd-i7-web")
        assert dp.node_gone("fcd-i7-web")
        dp.remove_host("h1")
    assert local.hub == ["ensure_overlay", "stretch fcdb3", "release", "leave_overlay"]
    assert taken[0] == "ensure_host" and "remove_host" in taken
    assert "h1" not in local.hosts  # the host itself made and removed by its agent only
    local.hub.clear()
    dp.ensure_host("h2", "172.31.0.12")  # driven by the plane: the local driver does it all
    dp.ensure_node(_node("fcd-i8-db", host="h2"))
    assert local.hub == [] and "h2" in local.hosts


def test_the_last_remote_host_leaves_the_overlay_only_when_no_other_is_left() -> None:
    local, remote, hosts, work = HubFake(), HostFake(hosts={"h1": "x", "h3": "y"}), Hosts(), \
        HostWork(away_after=0.3)
    hosts.agents = {"h1", "h3"}
    dp = RoutedDataPlane(local, work, hosts)
    with agent(work, "h1", remote):
        dp.remove_host("h1")
    assert local.hub == []  # h3 is still on the overlay


class Logged(HostFake):
    """A host's fake kernel writing its node operations in a log shared with others (their
    order across hosts), failing `ensure_node` while `broken`."""

    def __init__(self, name: str, log: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name, self.log, self.broken = name, log, False

    def ensure_node(self, spec: NodeSpec, start: Any = ()) -> frozenset[str]:
        if self.broken:
            raise DataPlaneError(f"ensure_node {spec.netns}: not now", Kind.RETRY)
        self.log.append(f"{self.name} ensure_node {spec.netns}")
        return super().ensure_node(spec, start)

    def delete_node(self, netns: str) -> None:
        self.log.append(f"{self.name} delete_node {netns}")
        super().delete_node(netns)


def test_a_node_moving_off_a_remote_host_is_made_on_its_new_host_first() -> None:
    """Make before break: h2 (the plane's) makes the node, then h1's agent deletes its copy;
    back onto h1, h1's agent first, then the plane's copy; a move between two hosts the plane
    drives deletes nothing (the driver moves its ports); a new host that fails leaves the old
    copy alone, and the retry that succeeds deletes it; an old host whose agent is away is
    left to its sweep, and the move goes on."""
    log: list[str] = []
    local, remote = Logged("plane", log), Logged("h1", log, hosts={"h1": "x"})
    hosts, work = Hosts(), HostWork(away_after=0.3)
    local.ensure_subnet(SubnetSpec("fcdb3", "10.0.0.0/24"))
    local.hosts.update({"h2": "172.31.0.12", "h3": "172.31.0.13"})
    dp = RoutedDataPlane(local, work, hosts)
    with agent(work, "h1", remote):
        dp.ensure_node(_node(host="h1"))
        log.clear()
        dp.ensure_node(_node(host="h2"))
        assert log == ["plane ensure_node fcd-i7-web", "h1 delete_node fcd-i7-web"]
        assert "fcd-i7-web" not in remote.nodes and "fcd-i7-web" in local.nodes
        log.clear()
        dp.ensure_node(_node(host="h3"))  # h2 -> h3: both the plane's
        assert log == ["plane ensure_node fcd-i7-web"]
        log.clear()
        remote.broken = True  # h1 cannot make it now: the plane's copy stays
        with pytest.raises(DataPlaneError):
            dp.ensure_node(_node(host="h1"))
        assert log == [] and "fcd-i7-web" in local.nodes
        remote.broken = False
        dp.ensure_node(_node(host="h1"))  # the retry: made on h1, then the plane's deleted
        assert log == ["h1 ensure_node fcd-i7-web", "plane delete_node fcd-i7-web"]
        assert "fcd-i7-web" in remote.nodes and "fcd-i7-web" not in local.nodes
    time.sleep(work.away_after + 0.05)  # h1's agent away (its host lost)
    log.clear()
    dp.ensure_node(_node(host="h2"))
    assert log == ["plane ensure_node fcd-i7-web"]
    assert "fcd-i7-web" in local.nodes and "fcd-i7-web" in remote.nodes  # left to its sweep


def test_an_agent_known_gone_is_away_at_once_and_its_taken_work_fails() -> None:
    """Its supervisor saw its process end: its open long poll answers nothing and counts no
    more (away now, not when the poll would have ended), the intent it had taken fails as a
    Retry at once, and a new run's poll makes it present again."""
    work = HostWork(away_after=5.0)
    polled: list[list[Intent]] = []
    poll = threading.Thread(target=lambda: polled.append(work.take("h1", 20.0, 10)))
    poll.start()
    time.sleep(0.1)
    assert work.present("h1")
    pending = None

    def call() -> None:
        nonlocal pending
        try:
            work.call("h1", "has_node", intents.FLAG, 10.0, netns="a")
        except DataPlaneError as exc:
            pending = exc

    caller = threading.Thread(target=call)
    caller.start()
    poll.join(2)
    assert polled and polled[0][0].op == "has_node"  # taken by the poll, then the agent dies
    started = time.monotonic()
    work.gone("h1", "its agent ended (exit -9)")
    caller.join(2)
    assert time.monotonic() - started < 1.0 and isinstance(pending, DataPlaneError)
    assert pending.kind is Kind.RETRY and "its agent ended" in str(pending)
    assert not work.present("h1")
    hung = threading.Thread(target=lambda: polled.append(work.take("h1", 20.0, 10)))
    hung.start()  # a poll the dead run had open (the route does not see its client go)
    time.sleep(0.05)
    work.gone("h1", "its agent ended")
    hung.join(2)
    assert not hung.is_alive() and polled[-1] == [] and not work.present("h1")
    again = threading.Thread(target=lambda: polled.append(work.take("h1", 0.2, 10)))
    again.start()
    time.sleep(0.05)
    assert work.present("h1")  # a new run polls
    again.join(2)


def test_a_lost_hosts_nodes_are_gone_to_the_plane_while_its_agent_is_away() -> None:
    """h1 lost and its agent away (killed): its node's deletion and observation answer at
    once as gone (it is fenced, and swept when it rejoins), nothing queued for h1; the same
    node while h1's agent is present is asked of it; a host away but not lost is a Retry."""
    dp, _, remote, hosts, work = _routed()
    hosts.placed[7] = "h1"  # the store's row, until the node is deleted
    proc = ProcessSpec(key="wl7", netns="fcd-i7-web", argv=("sleep",), sandboxed=True)
    with agent(work, "h1", remote):
        dp.ensure_node(_node(host="h1"))
        dp.start_process(proc)
    time.sleep(work.away_after + 0.05)  # h1's agent away
    with pytest.raises(DataPlaneError, match="its agent is away"):
        dp.has_node("fcd-i7-web")  # away, not lost: a Retry, as before
    hosts.lost_hosts.add("h1")
    calls = list(remote.calls)
    assert dp.has_node("fcd-i7-web") is False and dp.observe_node("fcd-i7-web") is None
    assert dp.observe_process("wl7") is None
    dp.stop_process("wl7")
    dp.delete_node("fcd-i7-web")
    assert dp.node_gone("fcd-i7-web") is True
    assert remote.calls == calls and "fcd-i7-web" in remote.nodes  # left to its sweep
    assert work.present("h1") is False
    with agent(work, "h1", remote):  # its agent back (the host still lost): asked again
        assert dp.has_node("fcd-i7-web") is True
        dp.delete_node("fcd-i7-web")
        assert "fcd-i7-web" not in remote.nodes
