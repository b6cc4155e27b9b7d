"""The control plane's side of a host agent's work (docs/multi-host.md, "The host agent
applies its host's kernel work"): `HostWork`, a queue of intents per host that its agent takes
by long poll and answers, and `RemoteDataPlane`, the `DataPlane` operations on one host as
typed methods that queue an intent and wait for its answer.

The control plane never changes a remote host's kernel: it asks. A caller waits a bounded time
(each operation's own: `wait`); when the host's agent is away (it has not asked for work for
AWAY_AFTER seconds) or does not answer in time, the call raises the seam's `DataPlaneError`,
kind Retry, so a reconciler tries its key again with backoff as for any kernel that was not
ready. An intent nobody took by then is withdrawn (it never runs late); one taken may still
run, and its late answer is dropped: every operation is "make it so", so the retry that
follows is harmless. The agent answers an operation's failure as the error its own driver
raised, Retry or Fatal, and the caller raises that.

routed.py sends here the operations of the hosts whose agents apply their work; the service's
host-agent routes call `take` and `answer` (service/host_work.py).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from facade.dataplane import intents
from facade.dataplane.errors import DataPlaneError, Kind
from facade.dataplane.intents import Failure, Intent
from facade.dataplane.wire import Form, encode
from facade.domain.specs import (
    ExecResult,
    Inventory,
    NodeSpec,
    ObservedNode,
    ObservedProcess,
    ObservedState,
    PortRuleSpec,
    Probe,
    ProbeResult,
    ProcessSpec,
    RulesObservation,
)

T = TypeVar("T")

WAIT = 15.0  # seconds a caller waits for an operation's answer (some ask more: below)
HOST_WAIT = 45.0  # making a host waits for its EVPN session (hostplane.SESSION_TIMEOUT)
MARGIN = 5.0  # added to an operation's own timeout (exec, probes): the round trip's
AWAY_AFTER = 3.0  # seconds without a poll after which a host's agent is away
MAX_POLL = 30.0  # seconds one long poll may wait


@dataclass
class _Pending(Generic[T]):
    """One intent and its answer, as the caller waiting for it sees it."""

    host: str
    intent: Intent
    form: Form[T]
    wait: float
    done: threading.Event = field(default_factory=threading.Event)
    value: T | None = None
    failure: Failure | None = None
    taken: bool = False


@dataclass
class Answer:
    """One answer of an agent, as its route received it: a value (JSON) or a failure."""

    id: str
    value: Any = None
    failure: Failure | None = None


@dataclass
class _Host:
    queue: deque[_Pending[Any]] = field(default_factory=deque)
    running: dict[str, _Pending[Any]] = field(default_factory=dict)  # taken, not answered
    polls: int = 0  # long polls open now
    seen: float = float("-inf")  # when a poll last began or ended
    epoch: int = 0  # moved by `gone`: polls opened before answer nothing and count no more


class HostWork:
    """Every remote host's queue of intents. Thread-safe: callers (the controller's workers,
    the API's requests) submit and wait, each host's agent takes and answers through the
    API."""

    def __init__(self, *, wait: float = WAIT, away_after: float = AWAY_AFTER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.wait = wait  # an operation's wait, unless it says its own
        self.away_after = away_after
        self.clock = clock
        self._cond = threading.Condition()
        self._hosts: dict[str, _Host] = {}
        self.late = 0  # answers that came after their caller gave up (counted, dropped)

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host()
        return state

    def present(self, host: str) -> bool:
        """Whether host's agent asks for work: a poll is open, or one ended just now."""
        with self._cond:
            state = self._hosts.get(host)
            return state is not None and (state.polls > 0 or
                                          self.clock() - state.seen < self.away_after)

    # ---------------------------------------------------------------- the callers' side
    def call(self, host: str, op: str, form: Form[T], wait: float | None = None, /,
             **args: object) -> T:
        """Run `op` on `host` and return its result (see the module's docstring)."""
        return self.result(self.submit(host, op, form, wait, **args))

    def submit(self, host: str, op: str, form: Form[T], wait: float | None = None, /,
               **args: object) -> _Pending[T]:
        """Queue `op` for `host` (its agent must be present: else Retry at once); its caller
        waits `wait` seconds for the answer (default: self.wait)."""
        if op not in intents.OPS or set(args) != set(intents.ARGS[op]):
            raise ValueError(f"{op}({', '.join(args)}) is not an operation a host agent runs")
        intent = Intent(id=secrets.token_hex(8), op=op,
                        args={k: encode(v) for k, v in args.items()})
        pending = _Pending(host=host, intent=intent, form=form,
                           wait=self.wait if wait is None else wait)
        with self._cond:
            state = self._host(host)
            if not (state.polls > 0 or self.clock() - state.seen < self.away_after):
                raise DataPlaneError(f"{op} on host {host}: its agent is away (it has not "
                                     f"asked for work for {self.away_after:g} s)")
            state.queue.append(pending)
            self._cond.notify_all()
        return pending

    def result(self, pending: _Pending[T]) -> T:
        """The answer to `pending`, waited for (at most its `wait`)."""
        op, host = pending.intent.op, pending.host
        if not pending.done.wait(pending.wait):
            with self._cond:
                state = self._host(host)
                if not pending.done.is_set():
                    if pending in state.queue:
                        state.queue.remove(pending)
                    state.running.pop(pending.intent.id, None)
                    what = "did not answer" if pending.taken else "did not take"
                    raise DataPlaneError(f"{op} on host {host}: its agent {what} it within "
                                         f"{pending.wait:g} s")
        if pending.failure is not None:
            raise DataPlaneError(f"{op} on host {host}: {pending.failure.message}",
                                 pending.failure.kind)
        return pending.value  # type: ignore[return-value]  # set with done, of type T

    # ---------------------------------------------------------------- the agent's side
    def take(self, host: str, wait: float, limit: int) -> list[Intent]:
        """Up to `limit` intents for `host`, waiting at most `wait` seconds for the first
        (a long poll: the agent is present while it waits)."""
        deadline = self.clock() + min(wait, MAX_POLL)
        with self._cond:
            state = self._host(host)
            state.polls += 1
            state.seen = self.clock()
            epoch = state.epoch
            try:
                while not state.queue:
                    left = deadline - self.clock()
                    if left <= 0 or state.epoch != epoch:
                        return []
                    self._cond.wait(min(left, 1.0))
                if state.epoch != epoch:
                    return []
                taken: list[Intent] = []
                while state.queue and len(taken) < limit:
                    pending = state.queue.popleft()
                    pending.taken = True
                    state.running[pending.intent.id] = pending
                    taken.append(pending.intent)
                return taken
            finally:
                if state.epoch == epoch:
                    state.polls -= 1
                    state.seen = self.clock()

    def gone(self, host: str, why: str) -> None:
        """Host's agent is known to be gone (its supervisor saw its process end): away from
        now, not when its open long poll would have ended (up to 30 s, since the route does
        not see its client go); the polls it had open answer nothing, and the intents it
        had taken fail now (Retry, `why`) rather than when their callers' waits end."""
        with self._cond:
            state = self._host(host)
            state.epoch += 1
            state.polls, state.seen = 0, float("-inf")
            running, state.running = list(state.running.values()), {}
            for pending in running:
                pending.failure = Failure(message=why, kind=Kind.RETRY)
                pending.done.set()
            self._cond.notify_all()

    def answer(self, host: str, answers: Sequence[Answer]) -> tuple[int, int]:
        """The agent's answers: each value decoded with its operation's form first, all of
        them (a bad one raises WireError naming it, `results[2].value.ports`, and nothing is
        answered), then given to their callers. Answers to intents nobody waits for any
        more (their caller gave up, or another host's) are dropped. Returns (given, late)."""
        with self._cond:
            state = self._host(host)
            mine = [(i, a, state.running.get(a.id)) for i, a in enumerate(answers)]
        ready: list[tuple[_Pending[Any], Any, Failure | None]] = []
        seen: set[str] = set()
        late = 0
        for i, answer, pending in mine:  # decoded outside the lock: an observe() may be big
            if pending is None or answer.id in seen:
                late += 1
                continue
            seen.add(answer.id)
            if answer.failure is not None:
                ready.append((pending, None, answer.failure))
            else:
                ready.append((pending, pending.form.decode(answer.value, f"results[{i}].value"),
                              None))
        given = 0
        with self._cond:
            for pending, value, failure in ready:
                if state.running.pop(pending.intent.id, None) is None:
                    late += 1  # its caller gave up meanwhile
                    continue
                pending.value, pending.failure = value, failure
                pending.done.set()
                given += 1
            self.late += late
        return given, late


class RemoteDataPlane:
    """The `DataPlane` operations on remote hosts, each one an intent for that host's agent:
    the same names and arguments as the protocol's, with the host first."""

    def __init__(self, work: HostWork) -> None:
        self.work = work

    def ensure_node(self, host: str, spec: NodeSpec,
                    start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        return self.work.call(host, "ensure_node", intents.STARTED, spec=spec,
                              start=tuple(start))

    def delete_node(self, host: str, netns: str) -> None:
        self.work.call(host, "delete_node", intents.NOTHING, netns=netns)

    def node_gone(self, host: str, netns: str) -> bool:
        return self.work.call(host, "node_gone", intents.FLAG, netns=netns)

    def observe_node(self, host: str, netns: str) -> ObservedNode | None:
        return self.work.call(host, "observe_node", intents.NODE_OR_NONE, netns=netns)

    def has_node(self, host: str, netns: str) -> bool:
        return self.work.call(host, "has_node", intents.FLAG, netns=netns)

    def set_backends(self, host: str, netns: str, backends: tuple[str, ...]) -> None:
        self.work.call(host, "set_backends", intents.NOTHING, netns=netns, backends=backends)

    def start_process(self, host: str, spec: ProcessSpec) -> int:
        return self.work.call(host, "start_process", intents.INTEGER, spec=spec)

    def stop_process(self, host: str, key: str) -> None:
        self.work.call(host, "stop_process", intents.NOTHING, key=key)

    def observe_process(self, host: str, key: str) -> ObservedProcess | None:
        return self.work.call(host, "observe_process", intents.PROCESS_OR_NONE, key=key)

    def exec(self, host: str, netns: str, argv: list[str], *, timeout: float = 30.0,
             stdin: str | None = None, as_host: bool = False) -> ExecResult:
        return self.work.call(host, "exec", intents.EXEC, timeout + MARGIN, netns=netns,
                              argv=tuple(argv), timeout=timeout, stdin=stdin, host=as_host)

    def tcp_probe(self, host: str, netns: str, ip: str, port: int, *,
                  timeout: float = 1.0) -> ProbeResult:
        return self.work.call(host, "tcp_probe", intents.PROBE, timeout + MARGIN,
                              netns=netns, ip=ip, port=port, timeout=timeout)

    def http_request(self, host: str, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        return self.work.call(host, "http_request", intents.PROBE, timeout + MARGIN,
                              netns=netns, ip=ip, port=port, path=path, method=method,
                              body=body, headers=headers, timeout=timeout)

    def submit_probes(self, host: str, probes: Sequence[Probe]) -> _Pending[list[ProbeResult]]:
        """A batch of health checks sent to `host` (routed.py waits for it with `result`
        while it runs the local host's batch)."""
        wait = max((p.timeout for p in probes), default=0.0) + MARGIN
        return self.work.submit(host, "probe_many", intents.PROBED, wait,
                                probes=tuple(probes))

    def set_port_rules(self, host: str, rules: dict[str, tuple[PortRuleSpec, ...]]) -> None:
        self.work.call(host, "set_port_rules", intents.NOTHING, rules=rules)

    def observe_rules(self, host: str) -> RulesObservation:
        return self.work.call(host, "observe_rules", intents.RULES_SEEN)

    def inventory(self, host: str, *, segments: bool = True) -> Inventory:
        return self.work.call(host, "inventory", intents.INVENTORY, segments=segments)

    def observe(self, host: str) -> ObservedState:
        return self.work.call(host, "observe", intents.OBSERVED)

    def ensure_host(self, host: str, address: str) -> None:
        self.work.call(host, "ensure_host", intents.NOTHING, HOST_WAIT, name=host,
                       address=address)

    def remove_host(self, host: str) -> None:
        self.work.call(host, "remove_host", intents.NOTHING, HOST_WAIT, name=host)

    def host_alive(self, host: str) -> bool:
        """False at once when its agent is away (nothing asked of it)."""
        if not self.work.present(host):
            return False
        return self.work.call(host, "host_alive", intents.FLAG, name=host)

    def fence_host(self, host: str) -> list[str]:
        """A lost host fenced by its agent; with its agent away nothing can be asked of it:
        an agent that comes back to a lost host is told so when it registers, and its host
        stays fenced until `rejoin_host` (docs/multi-host.md)."""
        if not self.work.present(host):
            return [f"nothing now: host {host}'s agent is away"]
        return self.work.call(host, "fence_host", intents.REMOVED, name=host)

    def rejoin_host(self, host: str, address: str, keep: set[str]) -> list[str] | None:
        """None while its agent is away (as while a simulated host's link is down)."""
        if not self.work.present(host):
            return None
        return self.work.call(host, "rejoin_host", intents.REMOVED_OR_NONE, HOST_WAIT,
                              name=host, address=address, keep=frozenset(keep))

