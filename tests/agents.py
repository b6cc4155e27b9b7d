"""Simulated hosts on their own host agents, in a service test's process (docs/multi-host.md,
"The service tests of hosts on agents"): what `facade up --simulated-agents` does with child
processes (controller/simulated_agents.py), done with threads over the test's client, on the
fake driver.

- `HostAgentRuns` is the context's `HostAgentRuns` (service/context.py): `hosts.add` starts
  a host's agent through it, `hosts.remove` stops it. Each run is the real `HostAgent`
  (workloads/host_agent/loop.py: its registration, heartbeats, fence at a lost host's
  return, and its work loop running each intent with the data plane's executor), whose
  requests go through the test's client to the real app (`ClientAgent`): nothing of the
  agent is re-implemented here. `kill` is a host's agent killed (its thread stopped, the
  plane told at once, as the supervisor tells `HostWork.gone`); `revive` runs it again with
  the same id and token, as the supervisor does once the marker `stopped` is gone.
- The kernels. On this machine every simulated host is a set of namespaces of the one kernel,
  joined by the overlay, and the fake has no reachability model but "any node reaches any
  address". So the world stays one `FakeDataPlane` (`Api.dp`: a node is where its spec says,
  a front-end reaches its backends whatever their hosts), and each side sees its part of it:
  - `HostView`, a host's kernel as its agent runs it: a `FakeDataPlane` sharing the world's
    nodes, processes, hosts and counters, with its own calls and rules; it makes only its own
    host's nodes and acts only on them. A node of another host is not there (as on another
    machine: `has_node` False; a deletion lets it go, the old host's side of a move) and
    each change asked of it is recorded in `foreign`; an operation on another host
    (`ensure_host h2` sent to h1) is refused.
  - `PlaneSide`, the control plane's own driver (the routed plane's `local`): the world,
    with the overlay's shared part recorded (`OverlayHub`: the routed plane then tells it
    which hosts are remote, as it tells the linux driver), its `observe`, `inventory` and
    rules leaving the remote hosts' nodes out (as the linux driver's do), and every request
    it gets about a remote host or its nodes recorded in `misrouted`.
  Separate fakes per host were the other choice: they would need a model of reachability
  between them (a front-end's check of a backend on another host), and the assertions on
  where a node is would read many places. The views keep one place to read, and the two
  records say whether anything went to the wrong side: `HostAgentRuns.check` (run after each
  agent test) fails on any of them.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from facade.dataplane.errors import DataPlaneError, fatal
from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.remote import HostWork
from facade.domain.specs import (
    ExecResult,
    Inventory,
    NodeSpec,
    ObservedNode,
    ObservedProcess,
    ObservedState,
    PortRuleSpec,
    ProbeResult,
    ProcessSpec,
    RulesObservation,
)
from facade.workloads.host_agent.errors import Away, Refused
from facade.workloads.host_agent.loop import HostAgent

SHARED = ("subnets", "nodes", "backends", "processes", "counters", "meters", "hosts", "cut",
          "fenced", "stale", "_pids", "_epochs")  # the world's state a host's view shares


# -- the agent's requests -----------------------------------------------------------------------

class ClientTransport:
    """The agent's requests through the test client (what loop.HostAgent does over HTTP): a
    4xx is a refusal, a 5xx or an error of the app the control plane away."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.token = client, token

    def _answer(self, call: Callable[[], Any]) -> dict[str, Any]:
        try:
            resp = call()
        except Exception as exc:  # the app failed (raised through the test client)
            raise Away(f"{type(exc).__name__}: {exc}") from None
        if resp.status_code in (401, 403):
            raise Refused(2, resp.text)
        if 400 <= resp.status_code < 500:
            raise Refused(3, resp.text)
        if resp.status_code >= 500:
            raise Away(resp.text)
        value: dict[str, Any] = resp.json()
        return value

    def get(self, path: str, query: dict[str, str], timeout: float) -> dict[str, Any]:
        return self._answer(lambda: self.client.get(path, params=query, headers=self._auth()))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._answer(lambda: self.client.post(path, json=body, headers=self._auth()))

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class ClientAgent(HostAgent):
    """loop.HostAgent with its requests through the test client (ClientTransport)."""

    transport: ClientTransport | None = None

    def _request(self, method: str, path: str, body: dict[str, Any] | None,
                 timeout: float) -> dict[str, Any]:
        assert self.transport is not None
        if method == "GET":
            bare, _, query = path.partition("?")
            return self.transport.get(bare, dict(p.split("=", 1) for p in query.split("&")),
                                      timeout)
        assert body is not None
        return self.transport.post(path, body)


# -- the kernels --------------------------------------------------------------------------------

@dataclass
class HostView(FakeDataPlane):
    """Host `host`'s kernel as its agent runs it (see the module): the world's state, its
    own host's part only."""

    host: str = ""
    foreign: list[str] = field(default_factory=list)  # changes asked of another host's node
    dead: bool = False  # while its agent is killed

    @classmethod
    def of(cls, world: FakeDataPlane, host: str) -> HostView:
        return cls(host=host, **{name: getattr(world, name) for name in SHARED})

    def _mine(self, netns: str, what: str, *, write: bool = True) -> bool:
        """Whether node `netns` is on this host. A change asked of another host's node is
        recorded (`foreign`); a read is answered as another machine would ("not here"): a
        read racing a move may reach the old host, and its caller looks again."""
        self._alive(what)
        spec = self.nodes.get(netns)
        if spec is not None and spec.host != self.host:
            if write:
                self.foreign.append(f"{what} {netns} (a node of {spec.host or 'local'})")
            return False
        return spec is not None

    def _alive(self, what: str) -> None:
        if self.dead:  # its agent was killed: what it was running dies with it
            raise DataPlaneError(f"{what}: host {self.host}'s agent was killed")

    def _own(self, name: str, what: str) -> None:
        self._alive(what)
        if name != self.host:
            self.foreign.append(f"{what} {name}")
            raise fatal(f"{what} {name}: this is host {self.host}'s agent")

    def ensure_node(self, spec: NodeSpec, start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        self._alive("ensure_node")
        if spec.host != self.host:
            self.foreign.append(f"ensure_node {spec.netns} (for {spec.host or 'local'})")
            raise fatal(f"ensure_node {spec.netns}: a node of host {spec.host or 'local'}, "
                        f"not of {self.host}")
        return super().ensure_node(spec, start)

    def delete_node(self, netns: str) -> None:
        """A node now of another host is let go, not deleted: the old host's side of a
        move, made on its new host first (routed.py `_leave`, linux/driver.py)."""
        if self._mine(netns, "delete_node", write=False) or netns not in self.nodes:
            super().delete_node(netns)

    def node_gone(self, netns: str) -> bool:
        return not self._mine(netns, "node_gone", write=False)

    def observe_node(self, netns: str) -> ObservedNode | None:
        return super().observe_node(netns) if self._mine(netns, "observe_node", write=False) else None

    def has_node(self, netns: str) -> bool:
        return self._mine(netns, "has_node", write=False)

    def set_backends(self, netns: str, backends: tuple[str, ...]) -> None:
        if not self._mine(netns, "set_backends"):
            raise DataPlaneError(f"set_backends {netns}: no front-end {netns}")
        super().set_backends(netns, backends)

    def start_process(self, spec: ProcessSpec) -> int:
        if not self._mine(spec.netns, "start_process"):
            raise DataPlaneError(f"start_process {spec.key}: no node {spec.netns}")
        return super().start_process(spec)

    def _process_mine(self, key: str, what: str, *, write: bool = True) -> bool:
        got = self.processes.get(key)
        return got is not None and self._mine(got[0].netns, what, write=write)

    def stop_process(self, key: str) -> None:
        if key not in self.processes or self._process_mine(key, "stop_process"):
            super().stop_process(key)

    def observe_process(self, key: str) -> ObservedProcess | None:
        return super().observe_process(key) if self._process_mine(key, "observe_process", write=False) \
            else None

    def exec(self, netns: str, argv: list[str], *, timeout: float = 30.0,
             stdin: str | None = None, host: bool = False) -> ExecResult:
        if not self._mine(netns, "exec", write=False):
            return ExecResult(returncode=255, stdout="", stderr=f"no namespace {netns}")
        return super().exec(netns, argv, timeout=timeout, stdin=stdin, host=host)

    def tcp_probe(self, netns: str, ip: str, port: int, *, timeout: float = 1.0) -> ProbeResult:
        if not self._mine(netns, "tcp_probe", write=False):
            return ProbeResult(ok=False, detail=f"no namespace {netns}")
        return super().tcp_probe(netns, ip, port, timeout=timeout)

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        if not self._mine(netns, "http_request", write=False):
            return ProbeResult(ok=False, detail=f"no namespace {netns}")
        return super().http_request(netns, ip, port, path, method=method, body=body,
                                    headers=headers, timeout=timeout)

    def set_port_rules(self, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        self._alive("set_port_rules")
        super().set_port_rules(rules)

    def observe_rules(self) -> RulesObservation:
        self._alive("observe_rules")
        return super().observe_rules()

    def _here(self) -> list[str]:
        return [n for n, s in list(self.nodes.items()) if s.host == self.host]

    def inventory(self, *, segments: bool = True) -> Inventory:
        self._alive("inventory")
        here = set(self._here())
        return Inventory(namespaces=frozenset(here), subnets=frozenset(),
                         processes=frozenset(k for k, (s, _) in list(self.processes.items())
                                             if s.netns in here))

    def observe(self) -> ObservedState:
        self._alive("observe")
        here = set(self._here())
        seen = super().observe()
        return dataclasses.replace(
            seen, subnets=frozenset(),
            nodes={n: o for n, o in seen.nodes.items() if n in here},
            processes={k: p for k, p in seen.processes.items() if p.netns in here})

    def ensure_host(self, name: str, address: str) -> None:
        self._own(name, "ensure_host")
        super().ensure_host(name, address)

    def remove_host(self, name: str) -> None:
        self._own(name, "remove_host")
        super().remove_host(name)

    def host_alive(self, name: str) -> bool:
        self._own(name, "host_alive")
        return super().host_alive(name)

    def fence_host(self, name: str) -> list[str]:
        self._own(name, "fence_host")
        return super().fence_host(name)

    def rejoin_host(self, name: str, address: str, keep: set[str]) -> list[str] | None:
        self._own(name, "rejoin_host")
        return super().rejoin_host(name, address, keep)


class PlaneSide:
    """The control plane's own driver over the world (see the module): every operation the
    world's, a remote host's nodes left out of what it observes, and any request about them
    recorded in `misrouted`. An `OverlayHub` (dataplane/routed.py), as the linux driver is."""

    def __init__(self, world: FakeDataPlane) -> None:
        self.world = world
        self.remote: Callable[[], Collection[str]] = list
        self.misrouted: list[str] = []
        self.hub: list[str] = []  # what the routed plane asked of the overlay's shared part

    def __getattr__(self, name: str) -> Any:  # the rest of the protocol: the world's
        return getattr(self.world, name)

    # the overlay's shared part
    def delegate(self, hosts: Callable[[], Collection[str]]) -> None:
        self.remote = hosts

    def ensure_overlay(self) -> None:
        self.hub.append("ensure_overlay")

    def leave_overlay(self) -> None:
        self.hub.append("leave_overlay")

    def stretch_segments(self, bridges: Collection[str]) -> None:
        self.hub.append(f"stretch {','.join(sorted(bridges))}")

    def release_segments(self) -> list[str]:
        return []

    # what a remote host's agent does, never this driver
    def _check(self, host: str | None, what: str) -> None:
        if host is not None and host in set(self.remote()):
            self.misrouted.append(f"{what} (host {host} is its agent's)")

    def _node(self, netns: str, what: str) -> None:
        spec = self.world.nodes.get(netns)
        if spec is not None:
            self._check(spec.host, f"{what} {netns}")

    def ensure_node(self, spec: NodeSpec, start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        self._check(spec.host, f"ensure_node {spec.netns}")
        return self.world.ensure_node(spec, start)

    def delete_node(self, netns: str) -> None:
        """A node now on a remote host is let go (the plane's side of a move onto an agent's
        host, made there first: routed.py `_leave`), not deleted."""
        spec = self.world.nodes.get(netns)
        if spec is None or spec.host not in set(self.remote()):
            self.world.delete_node(netns)

    def set_backends(self, netns: str, backends: tuple[str, ...]) -> None:
        self._node(netns, "set_backends")
        self.world.set_backends(netns, backends)

    def start_process(self, spec: ProcessSpec) -> int:
        self._node(spec.netns, "start_process")
        return self.world.start_process(spec)

    def stop_process(self, key: str) -> None:
        got = self.world.processes.get(key)
        if got is not None:
            self._node(got[0].netns, f"stop_process {key}")
        self.world.stop_process(key)

    def ensure_host(self, name: str, address: str) -> None:
        self._check(name, "ensure_host")
        self.world.ensure_host(name, address)

    def remove_host(self, name: str) -> None:
        self._check(name, "remove_host")
        self.world.remove_host(name)

    def fence_host(self, name: str) -> list[str]:
        self._check(name, "fence_host")
        return self.world.fence_host(name)

    def rejoin_host(self, name: str, address: str, keep: set[str]) -> list[str] | None:
        self._check(name, "rejoin_host")
        return self.world.rejoin_host(name, address, keep)

    def _theirs(self) -> set[str]:
        remote = set(self.remote())
        return {n for n, s in list(self.world.nodes.items()) if s.host in remote}

    def inventory(self, *, segments: bool = True) -> Inventory:
        seen, theirs = self.world.inventory(segments=segments), self._theirs()
        return dataclasses.replace(
            seen, namespaces=seen.namespaces - theirs,
            processes=frozenset(k for k in seen.processes
                                if (got := self.world.processes.get(k)) is None
                                or got[0].netns not in theirs))

    def observe(self) -> ObservedState:
        seen, theirs = self.world.observe(), self._theirs()
        return dataclasses.replace(
            seen, nodes={n: o for n, o in seen.nodes.items() if n not in theirs},
            processes={k: p for k, p in seen.processes.items() if p.netns not in theirs})


# -- the runs -----------------------------------------------------------------------------------

@dataclass
class _Run:
    token: str
    address: str
    agent: ClientAgent | None = None
    thread: threading.Thread | None = None
    runs: int = 0
    said: list[str] = field(default_factory=list)
    stopping: bool = False  # stopped or killed by the test (not ended by itself)


class HostAgentRuns:
    """The simulated hosts' agents as threads of the test (see the module); the context's
    `agents` (service/context.py's protocol: `start`, `stop`)."""

    def __init__(self, client: TestClient, world: FakeDataPlane, work: HostWork,
                 plane: PlaneSide) -> None:
        self.client, self.world, self.work, self.plane = client, world, work, plane
        self.views: dict[str, HostView] = {}  # outlive their agents, as a host's kernel does
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self.died: list[str] = []  # agents that ended by themselves (refused), and why

    def view(self, host: str) -> HostView:
        with self._lock:
            if host not in self.views:
                self.views[host] = HostView.of(self.world, host)
            return self.views[host]

    def start(self, host: str, token: str, address: str) -> None:
        self.stop(host)
        run = _Run(token=token, address=address)
        with self._lock:
            self._runs[host] = run
        self._spawn(host, run)

    def stop(self, host: str) -> None:
        with self._lock:
            run = self._runs.pop(host, None)
        if run is not None:
            self._end(host, run, "its agent was stopped")

    def kill(self, host: str) -> None:
        """Host's agent killed: it stops at once (nothing said to the control plane), and
        the plane knows it is gone, as the supervisor tells it of a process that ended."""
        with self._lock:
            run = self._runs[host]
        self._end(host, run, "its agent was killed")

    def revive(self, host: str) -> None:
        """Host's agent run again (the same id and token), as a machine's agent that comes
        back: it registers, and fences its host if the plane has it lost."""
        with self._lock:
            run = self._runs[host]
        assert run.thread is None or not run.thread.is_alive(), f"{host}'s agent runs"
        self._spawn(host, run)

    def calls(self) -> list[str]:
        """Every call the plane's driver and the agents' kernels had (the world's first)."""
        return [*self.world.calls, *(c for v in list(self.views.values()) for c in v.calls)]

    def close(self) -> None:
        with self._lock:
            runs, self._runs = dict(self._runs), {}
        for host, run in runs.items():
            self._end(host, run, "the test ended")

    def check(self) -> None:
        """Nothing went to the wrong side, and no agent stopped by itself."""
        assert self.plane.misrouted == [], self.plane.misrouted
        for host, view in self.views.items():
            assert view.foreign == [], (host, view.foreign)
        assert self.died == [], self.died

    def _spawn(self, host: str, run: _Run) -> None:
        self.view(host).dead = False
        agent = ClientAgent(url="http://test", token=run.token, underlay=run.address,
                            say=run.said.append, kernel=self.view,
                            agent=f"sim-{host}-agent")
        agent.transport = ClientTransport(self.client, run.token)
        run.agent, run.stopping = agent, False

        def life() -> None:
            code = agent.run()
            if not run.stopping:
                self.died.append(f"{host}'s agent ended ({code}): {run.said[-3:]}")

        run.thread = threading.Thread(target=life, name=f"agent-{host}", daemon=True)
        run.runs += 1
        run.thread.start()

    def _end(self, host: str, run: _Run, why: str) -> None:
        if run.agent is None or run.thread is None:
            return
        self.view(host).dead = True  # as a process killed: what it was running ends too
        run.stopping = True
        run.agent.stop.set()
        while run.thread.is_alive():  # its open long poll ends at once
            self.work.gone(host, why)
            run.thread.join(0.2)


def lose(api: Any, host: str) -> None:
    """Simulated host `host` stops: its link cut and, on agents, its agent killed."""
    api.dp.cut.add(host)
    if api.runs is not None:
        api.runs.kill(host)


def back(api: Any, host: str) -> None:
    """Simulated host `host` runs again: its link back and, on agents, its agent too."""
    api.dp.cut.discard(host)
    if api.runs is not None:
        api.runs.revive(host)


# what its appliance says when its reconciler's look at a front-end moving between two
# agents' hosts reaches the old host once the new one has it
GAP = {"front-end not created yet"}


def ready_throughout(api: Any, statuses: set[str]) -> None:
    """The appliances' statuses seen during a move were `ready` only. On agents, one
    exception (docs/multi-host.md, "The service tests of hosts on agents"): the appliance's
    reconciler may look at its front-end, moving between two agents' hosts, on the old host
    just after the new one took it (the routed plane knows the new host once its
    `ensure_node` returned), and then says GAP for a moment; only that."""
    degraded = [e["message"] for e in api.items("/v1/events")
                if e["kind"] == "appliance.degraded"]
    if api.runs is None or statuses <= {"ready"}:
        assert statuses <= {"ready"}, degraded
        return
    assert statuses <= {"ready", "degraded"}, statuses
    assert degraded and set(degraded) <= GAP, degraded


def calls(api: Any) -> list[str]:
    """Every driver call of the test's control plane, its agents' too."""
    return list(api.dp.calls) if api.runs is None else api.runs.calls()


def made_on(api: Any, netns: str) -> str:
    """The host node `netns` is on, read in the world (its NodeSpec's host) and, on agents,
    checked to be made by that host's agent; `nowhere` while it is on none (on agents, a
    node moving between two hosts is deleted on the old one before it is made on the new
    one: docs/multi-host.md, "Slice 3")."""
    spec = api.dp.nodes.get(netns)
    if spec is None:
        return "nowhere"
    host = spec.host or "local"
    if api.runs is not None and spec.host is not None and spec.host in api.runs.views:
        view = api.runs.views[spec.host]
        assert f"ensure_node {netns}" in view.calls, (netns, host)
    return host

