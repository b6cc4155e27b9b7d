"""A host agent applying its host's kernel work, on the fake driver (docs/multi-host.md, "The
host agent applies its host's kernel work"): a control plane whose data plane is the routed
one (service/host_work.route), and an agent in this process (its work loop, workloads/
host_agent/work.py, over the API through the test client) whose host's kernel is another fake
driver. Once the agent of simulated host h1 registered, every kernel change of a node on h1
goes through it: the reconcilers do not know. An agent away (or slow past its caller's wait)
is a Retry, and the node converges once it is back. The routes refuse a wrong token, an agent
that is not the host's, and bad input (naming the field), changing nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from facade.dataplane import intents
from facade.dataplane.errors import DataPlaneError
from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.routed import RoutedDataPlane
from facade.domain.specs import NodeSpec, SubnetSpec
from facade.domain.states import HostState
from facade.service import hosts_agents
from facade.store.models import Event, Host
from facade.workloads.host_agent.work import WorkLoop
from tests.agents import ClientAgent, ClientTransport
from tests.service.helpers import Api, build_world, err, eventually, ok, running_api

AGENT = "agent-in-test-0001"
WAIT = 15.0  # seconds for the controller's retries (backoff) to converge


class HostFake(FakeDataPlane):
    """The fake driver as h1's agent runs it: a node's segments are made with it (as
    hostplane.ensure_segment makes them on a host); `delay` slows every node's making."""

    delay: float = 0.0

    def ensure_node(self, spec: NodeSpec, start: Any = ()) -> frozenset[str]:
        time.sleep(self.delay)
        for port in spec.ports:
            self.subnets.setdefault(port.bridge, SubnetSpec(port.bridge, "10.0.0.0/8"))
        return super().ensure_node(spec, start)


@contextmanager
def _agent(api: Api, token: str, kernel: HostFake) -> Iterator[WorkLoop]:
    """h1's agent: its work loop (polls of 0.5 s) and heartbeats, until the block ends."""
    transport = ClientTransport(api.client, token)
    loop = WorkLoop(transport=transport, kernel=kernel, agent=AGENT, stop=threading.Event(),
                    say=lambda _: None, wait=0.5)

    def beat() -> None:
        while not loop.stop.wait(0.5):
            transport.post("/v1/host-agent/heartbeat", {"agent": AGENT})

    threads = [threading.Thread(target=t, daemon=True) for t in (loop.run, beat)]
    for t in threads:
        t.start()
    try:
        yield loop
    finally:
        loop.stop.set()
        for t in threads:
            t.join(10)


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Api]:
    """A control plane on the fake driver, routed; the world of helpers.build_world; h1 a
    simulated host whose agent registered (token `plane.h1`)."""
    with running_api(tmp_path, routed=True) as api:
        routed = api.ctx.dataplane
        assert isinstance(routed, RoutedDataPlane) and routed.local is api.dp
        api.ctx.host_work.away_after = 1.0
        build_world(api)
        ok(api.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True}), 201)
        assert api.dp.hosts == {"h1": "172.31.0.11"}  # no agent yet: the plane made it
        api.h1 = ok(api.req("POST", "/v1/hosts/h1/tokens"), 201)["token"]
        ok(api.req("POST", "/v1/host-agent/register", token=api.h1,
                   json={"agent": AGENT, "underlay": "172.31.0.11"}))
        yield api


def _instance(api: Api, name: str) -> None:
    ok(api.req("POST", "/v1/instances", json={
        "name": name, "account": "acme", "host": "h1",
        "interfaces": [{"subnet": "acme-vpc/app"}]}), 201)


def _status(api: Api, name: str) -> str:
    return str(ok(api.req("GET", f"/v1/instances/{name}"))["status"])


def _netns(api: Api, name: str) -> str:
    return next(n for n in (api.dp.nodes | api.kernel.nodes) if n.endswith(f"-{name}"))


def _failures(api: Api, name: str) -> list[str]:
    with api.ctx.read() as session:
        return [e.message for e in session.scalars(select(Event).where(
            Event.kind == "reconcile.failed", Event.object.like(f"%{name}%")))]


def test_a_node_on_an_agents_host_is_made_by_the_agent_only(plane: Api) -> None:
    plane.changed = True
    plane.kernel = HostFake(hosts={"h1": "172.31.0.11"})
    with _agent(plane, plane.h1, plane.kernel):
        _instance(plane, "far")
        eventually(lambda: _status(plane, "far") == "active", WAIT, "far active")
        netns = _netns(plane, "far")
        assert netns in plane.kernel.nodes and netns not in plane.dp.nodes
        assert plane.kernel.nodes[netns].host == "h1"
        assert [c for c in plane.dp.calls if "far" in c] == []  # the plane's driver: nothing
        # an instance on the local host is the plane's own, as ever
        ok(plane.req("POST", "/v1/instances", json={
            "name": "near", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}),
            201)
        eventually(lambda: _status(plane, "near") == "active", WAIT, "near active")
        assert any(n.endswith("-near") for n in plane.dp.nodes)
        assert not any(n.endswith("-near") for n in plane.kernel.nodes)
        # exec in it goes to its host
        ran = ok(plane.req("POST", "/v1/instances/far/exec", json={"argv": ["true"]}))
        assert ran["returncode"] == 0
        assert "host_alive" not in plane.dp.calls
        ok(plane.req("DELETE", "/v1/instances/far"), 204)
        eventually(lambda: plane.req("GET", "/v1/instances/far").status_code == 404, WAIT,
                   "far gone")
        assert netns not in plane.kernel.nodes
    assert ok(plane.req("GET", "/v1/hosts/h1"))["state"] == "ready"


def test_an_agent_away_is_retried_and_its_node_converges_when_it_is_back(
        plane: Api, caplog: pytest.LogCaptureFixture) -> None:
    plane.changed = True
    plane.kernel = HostFake(hosts={"h1": "172.31.0.11"})
    time.sleep(plane.ctx.host_work.away_after)  # registered, never asked for work: away
    _instance(plane, "late")
    eventually(lambda: "on host h1: its agent is away" in caplog.text, WAIT,
               "a retry saying its agent is away")
    time.sleep(0.5)
    assert _status(plane, "late") != "active" and plane.kernel.nodes == {}
    with _agent(plane, plane.h1, plane.kernel):
        eventually(lambda: _status(plane, "late") == "active", WAIT, "late active")
    assert _netns(plane, "late") in plane.kernel.nodes


def test_an_agent_slower_than_its_callers_wait_is_a_retry_then_converges(plane: Api) -> None:
    plane.changed = True
    plane.ctx.host_work.wait = 0.3
    plane.kernel = HostFake(hosts={"h1": "172.31.0.11"})
    plane.kernel.delay = 0.8
    with _agent(plane, plane.h1, plane.kernel):
        _instance(plane, "slow")
        eventually(lambda: any("did not answer it within 0.3 s" in m
                               for m in _failures(plane, "slow")), WAIT, "a timeout")
        eventually(lambda: plane.ctx.host_work.late > 0, WAIT, "its late answer")
        plane.kernel.delay = 0.0
        eventually(lambda: _status(plane, "slow") == "active", WAIT, "slow active")


def test_the_routes_refuse_what_is_wrong_and_change_nothing(plane: Api) -> None:
    work = plane.ctx.host_work
    work.take("h1", 0, 1)  # h1's agent present, so an intent can be queued
    pending = work.submit("h1", "has_node", intents.FLAG, 10.0, netns="fcd-i1-x")
    query = {"agent": AGENT, "wait": "0"}
    for bad in ("fch_nothing", plane.acme, plane.token):
        err(plane.client.get("/v1/host-agent/work", params=query,
                             headers={"Authorization": f"Bearer {bad}"}), 401, "token")
    err(plane.client.get("/v1/host-agent/work", params=query), 401, "token")
    err(plane.req("GET", "/v1/host-agent/work", token=plane.h1,
                  params={**query, "agent": "someone-else-1"}), 409, where="agent")
    err(plane.req("GET", "/v1/host-agent/work", token=plane.h1,
                  params={**query, "wait": "99"}), 400, where="wait")
    err(plane.req("GET", "/v1/host-agent/work", token=plane.h1,
                  params={**query, "limit": "0"}), 400, where="limit")
    err(plane.req("GET", "/v1/host-agent/work", token=plane.h1,
                  params={**query, "agent": "x"}), 400, where="agent")
    h2 = ok(plane.req("POST", "/v1/hosts/h2/tokens"), 201)["token"]
    ok(plane.req("POST", "/v1/host-agent/register", token=h2,
                 json={"agent": "agent-of-h2-01", "underlay": "10.9.0.2"}))
    taken = ok(plane.req("GET", "/v1/host-agent/work", token=h2,
                         params={"agent": "agent-of-h2-01", "wait": "0"}))
    assert taken == {"host": "h2", "intents": []}  # h1's intent is not h2's
    assert not pending.done.is_set() and not pending.taken  # still queued, for h1
    work_ = ok(plane.req("GET", "/v1/host-agent/work", token=plane.h1, params=query))
    (intent,) = work_["intents"]
    assert (intent["op"], intent["args"]) == ("has_node", {"netns": "fcd-i1-x"})
    post = {"agent": AGENT, "results": [{"id": intent["id"], "value": "yes"}]}
    err(plane.req("POST", "/v1/host-agent/results", token=plane.h1, json=post), 400,
        "true or false", where="results[0].value")
    err(plane.req("POST", "/v1/host-agent/results", token=plane.h1, json={
        "agent": AGENT, "results": [{"id": intent["id"], "value": True,
                                     "error": {"message": "no", "kind": "fatal"}}]}), 400,
        where="results[0].value")
    err(plane.req("POST", "/v1/host-agent/results", token=plane.h1, json={
        "agent": AGENT, "results": [{"value": True}]}), 422, where="results.0.id")
    err(plane.req("POST", "/v1/host-agent/results", token=plane.h1, json={
        "agent": AGENT, "results": [{"id": "1", "error": {"message": "x", "kind": "maybe"}}]}),
        422, where="kind")
    late = ok(plane.req("POST", "/v1/host-agent/results", token=h2, json={
        "agent": "agent-of-h2-01", "results": [{"id": intent["id"], "value": True}]}))
    assert late == {"accepted": 0, "late": 1}  # h2 cannot answer h1's intent
    for bad in ("fch_nothing", plane.acme):
        err(plane.req("POST", "/v1/host-agent/results", token=bad,
                      json={"agent": AGENT, "results": [{"id": intent["id"], "value": True}]}),
            401)
    assert not pending.done.is_set()  # nothing refused answered it
    done = ok(plane.req("POST", "/v1/host-agent/results", token=plane.h1,
                        json={"agent": AGENT, "results": [{"id": intent["id"], "value": True}]}))
    assert done == {"accepted": 1, "late": 0} and work.result(pending) is True


def test_an_agent_registering_for_a_lost_host_fences_it_until_the_watch_rejoins_it(
        plane: Api) -> None:
    """h1 lost (its agent killed): a new run of its agent is told so at its registration and
    stops its FRR before it takes any work; its heartbeats do not make h1 ready; the host
    watch's rejoin (through the agent: swept, its FRR started) does. A lost machine's agent
    is told `ready` and fences nothing (nothing places nodes on machines to sweep)."""
    with plane.ctx.write() as session:
        row = session.scalar(select(Host).where(Host.name == "h1"))
        assert row is not None
        row.state = HostState.LOST
    kernel = HostFake(hosts={"h1": "172.31.0.11"})
    kernel.cut.add("h1")  # its link still down: the host watch cannot rejoin it yet
    said: list[str] = []
    agent = ClientAgent(url="http://test", token=plane.h1, underlay="172.31.0.11",
                        say=said.append, kernel=lambda name: kernel, every=0.2,
                        agent=AGENT)  # its run before was killed: a new one is the same
    agent.transport = ClientTransport(plane.client, plane.h1)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        eventually(lambda: "fence_host h1" in kernel.calls, what=f"h1 fenced ({said})")
        assert kernel.calls[0] == "fence_host h1"  # before anything else
        assert any("is lost: fenced" in s for s in said), said
        time.sleep(0.6)  # heartbeats, and the host watch's looks, meanwhile
        assert ok(plane.req("GET", "/v1/hosts/h1"))["state"] == "lost", kernel.calls
        kernel.cut.discard("h1")  # its link back: the watch's rejoin, through its agent
        eventually(lambda: ok(plane.req("GET", "/v1/hosts/h1"))["state"] == "ready",
                   what="h1 rejoined")
        assert kernel.calls == ["fence_host h1", "rejoin_host h1 keep=", "ensure_host h1"]
        assert "h1" not in kernel.fenced
    finally:
        agent.stop.set()
        thread.join(10)


class _Runs:
    """HostAgentRuns that only records what it was asked (no process)."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    def start(self, host: str, token: str, address: str) -> None:
        raise AssertionError("not started here")

    def stop(self, host: str) -> None:
        self.stopped.append(host)


def test_an_agent_stopped_on_purpose_fails_what_it_had_taken_at_once(plane: Api) -> None:
    """Once its host is removed, the agent's answers are refused: an operation it had taken
    (the host watch's `host_alive`) fails when its agent is stopped, not 15 s later."""
    runs = _Runs()
    plane.ctx.agents = runs
    work = plane.ctx.host_work
    taken: list[Any] = []
    poll = threading.Thread(target=lambda: taken.extend(work.take("h1", 5.0, 10)))
    poll.start()
    eventually(lambda: work.present("h1"))
    failed: list[str] = []

    def call() -> None:
        try:
            work.call("h1", "host_alive", intents.FLAG, 15.0, name="h1")
        except DataPlaneError as exc:
            failed.append(str(exc))

    caller = threading.Thread(target=call)
    caller.start()
    poll.join(5)
    assert [i.op for i in taken] == ["host_alive"]
    started = time.monotonic()
    hosts_agents.stop(plane.ctx, "h1")
    caller.join(5)
    assert runs.stopped == ["h1"] and time.monotonic() - started < 2.0
    assert failed and "h1's agent was stopped" in failed[0]
    assert not work.present("h1")
