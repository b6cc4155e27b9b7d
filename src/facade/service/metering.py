"""Metering: usage records from the management agents' counters and the nodes' clocks.

The controller calls `tick` every METER_INTERVAL seconds, and for one node right before it
deletes that node on purpose. A tick asks each management network's agent once, at its hub
(127.0.0.1 in the router namespace, signed: `management.hub_counters`), for its front-ends'
per-backend meters and its backends' workload request counts (node by node, over the
management subnet, for an agent without a hub), then, in ONE transaction, turns each reading
into an increment against the last stored reading (`domain.metering.increment`), adds it to
the hour's usage record and stores the reading (a reading equal to the stored one is not
written again). Node time advances every node's clock (kept as a reading too) to now. A crash
before the commit loses nothing: the next tick reads the same counters again and computes the same
increment from the same stored reading. See docs/metering.md.

`totals` and `by_node` sum the records of a period for the API, `facade usage`, `/metrics` and
billing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from facade.domain import agent_auth
from facade.domain.errors import Invalid
from facade.domain.metering import Metric, Reading, increment, split_hours, to_ms
from facade.domain.period import Period
from facade.domain.states import NodeRole
from facade.service import management
from facade.service.context import Context
from facade.store.models import MeterReading, UsageRecord

log = logging.getLogger("facade.metering")

METER_INTERVAL = 2.0  # seconds between two ticks
PMap = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class MeteredNode:
    """An appliance node as metering sees it: who pays for it, who runs it, how to ask it."""

    instance_id: int
    name: str
    netns: str
    role: str  # frontend | backend
    ip: str  # front-end: endpoint; backend: its backend-subnet address
    appliance_id: int
    appliance: str
    customer: str
    provider: str
    owner: str
    service: str
    agent: management.Agent | None
    mgmt_ip: str | None

    @property
    def agent_node(self) -> management.AgentNode | None:
        if self.agent is None or self.mgmt_ip is None:
            return None
        return management.AgentNode(name=self.netns, netns=self.netns, mgmt_ip=self.mgmt_ip,
                                    role=self.role, workload=None)


@dataclass
class Snapshot:
    """What one tick read from the agents, before anything is stored."""

    at_ms: int
    present: set[int] = field(default_factory=set)  # instance ids whose namespace exists
    # (key, reading, node it is billed to, metric)
    counters: list[tuple[str, Reading, MeteredNode, Metric]] = field(default_factory=list)
    # front-end netns -> the backend addresses in its rotation, as its agent read its map
    rotations: dict[str, list[str]] = field(default_factory=dict)


# --- reading ---------------------------------------------------------------------------------


def _ask(ctx: Context, node: MeteredNode, path: str, secret: str) -> dict[str, Any] | None:
    an = node.agent_node
    if an is None or node.agent is None:
        return None
    header = agent_auth.sign(secret, "GET", path, an.name)
    res = ctx.dataplane.http_request(node.agent.netns, an.mgmt_ip, management.AGENT_PORT, path,
                                     headers={"Authorization": header}, timeout=1.0)
    if not res.ok:
        return None
    try:
        answer = json.loads(res.body)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def frontend_readings(fe: MeteredNode, answer: dict[str, Any],
                      backends: dict[str, MeteredNode]) -> list[tuple[str, Reading, MeteredNode,
                                                                      Metric]]:
    """A front-end agent's /v1/counters answer as readings, each billed to the backend that
    holds the address now (or to the front-end when no backend holds it any more)."""
    epoch = answer.get("epoch")
    meters = answer.get("meters")
    if not isinstance(epoch, str) or not isinstance(meters, dict):
        return []
    out: list[tuple[str, Reading, MeteredNode, Metric]] = []
    for ip, sets in sorted(meters.items()):
        if not isinstance(sets, dict):
            continue
        billed = backends.get(ip, fe)
        for set_name, metric, field_ in (("m_in", Metric.BYTES_IN, "bytes"),
                                         ("m_out", Metric.BYTES_OUT, "bytes"),
                                         ("m_conn", Metric.CONNECTIONS, "packets")):
            counter = sets.get(set_name)
            value = counter.get(field_) if isinstance(counter, dict) else None
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                out.append((f"fe:{fe.instance_id}:{ip}:{set_name}", Reading(epoch, value),
                            billed, metric))
    return out


@dataclass(frozen=True)
class _HubAsk:
    """One request to an agent's hub: which agent, which path, for which of its nodes."""

    agent: management.Agent
    path: str
    nodes: dict[str, MeteredNode]  # by name: the hub answers by name


def _hub_asks(agent: management.Agent, nodes: list[MeteredNode]) -> list[_HubAsk]:
    by_name = {n.netns: n for n in nodes}  # the agent's names for them (AgentNode.name)
    # every node the agent serves: ask for all, without a list of names to send and check
    every = set(by_name) == {n.name for n in agent.nodes}
    return [_HubAsk(agent, path, by_name)
            for path in management.hub_paths(None if every else sorted(by_name))]


def _ask_hubs(ctx: Context, asks: list[_HubAsk], secrets: dict[int, str], pmap: PMap,
              answers: dict[int, dict[str, Any]]) -> list[MeteredNode]:
    """Ask the hubs (side by side, and again for what they left for another request); their
    answers go into `answers` by instance id. Returns the nodes to ask one by one: those of an
    agent without a hub."""
    per_node: list[MeteredNode] = []
    while asks:
        got = list(pmap(lambda a: management.hub_counters(
            ctx.dataplane, a.agent.network_id, secrets[a.agent.network_id], a.path), asks))
        again: list[_HubAsk] = []
        for ask, hub in zip(asks, got, strict=True):
            if hub.absent:
                log.debug("agent-n%d: no hub (%s); asking its nodes one by one",
                          ask.agent.network_id, hub.failed)
                per_node += ask.nodes.values()
                continue
            for name, answer in hub.nodes.items():
                if name in ask.nodes:
                    answers[ask.nodes[name].instance_id] = answer
            left = [ask.nodes[n] for n in dict.fromkeys(hub.more)
                    if n in ask.nodes and ask.nodes[n].instance_id not in answers]
            # asked again only for fewer nodes than this time, so the asking ends; an agent too
            # busy to read any of them this time is asked at the next tick
            if 0 < len(left) < len(ask.nodes):
                again += _hub_asks(management.Agent(ask.agent.network_id), left)
        asks = again
    return per_node


def read(ctx: Context, nodes: Iterable[MeteredNode], present: set[int],
         pmap: PMap = map, skip: frozenset[int] = frozenset()) -> Snapshot:
    """Ask the agents of the present nodes for their counters (network I/O, no database):
    one request to each agent's hub for all its nodes, or one per node to an agent without
    one; `pmap` may run the questions side by side; nodes in `skip` (backends whose workload
    does not answer anyway) are not asked, their clocks still run."""
    nodes = list(nodes)
    snap = Snapshot(at_ms=to_ms(dt.datetime.now(dt.UTC)), present=set(present))
    by_app: dict[int, dict[str, MeteredNode]] = {}
    for n in nodes:
        if n.role == NodeRole.BACKEND:
            by_app.setdefault(n.appliance_id, {})[n.ip] = n
    asked = [n for n in nodes if n.instance_id in present and n.instance_id not in skip
             and n.agent_node is not None]
    groups: dict[int, tuple[management.Agent, list[MeteredNode]]] = {}
    for n in asked:
        assert n.agent is not None
        groups.setdefault(n.agent.network_id, (n.agent, []))[1].append(n)
    # one read of each management network's secret per tick, not one per node
    secrets = {net: management.secret(ctx.home, net) for net in groups}
    answers: dict[int, dict[str, Any]] = {}
    per_node = _ask_hubs(ctx, [ask for agent, group in groups.values()
                               for ask in _hub_asks(agent, group)], secrets, pmap, answers)
    for n, answer in zip(per_node, pmap(lambda n: _ask(
            ctx, n, "/v1/counters", secrets[n.agent.network_id] if n.agent else ""),
            per_node), strict=True):
        if answer is not None:
            answers[n.instance_id] = answer
    for n in asked:
        answer = answers.get(n.instance_id)
        if answer is None:
            continue
        if n.role == NodeRole.FRONTEND:
            snap.counters += frontend_readings(n, answer, by_app.get(n.appliance_id, {}))
            rotation = answer.get("backends")
            if isinstance(rotation, list) and all(isinstance(ip, str) for ip in rotation):
                snap.rotations[n.netns] = sorted(rotation)
        else:
            wl = answer.get("workload")
            if (isinstance(wl, dict) and isinstance(wl.get("boot"), str)
                    and isinstance(wl.get("requests"), int) and wl["requests"] >= 0):
                snap.counters.append((f"wl:{n.instance_id}", Reading(wl["boot"], wl["requests"]),
                                      n, Metric.REQUESTS))
    return snap


# --- recording -------------------------------------------------------------------------------


class _Records:
    """The usage records of the hours a snapshot touches, read once per hour (a tick adds to
    every node's row of the current hour: one query, not one per node); only those of `nodes`
    when given (a last reading of one node: not every node's rows). Read and written as plain
    rows, not objects: a round at 1,000 nodes adds to 1,000 rows, and loading and flushing
    them as ORM objects cost most of the round. What is added is kept here and written by
    `write`, one statement for the rows added to and one for the new ones."""

    def __init__(self, session: Session, nodes: frozenset[str] | None = None) -> None:
        self.session = session
        self.nodes = nodes
        self.rows: dict[tuple[int, int, str, str], list[int]] = {}  # key -> [id, quantity]
        self.hours: set[int] = set()
        self.changed: dict[int, int] = {}  # id -> new quantity
        self.new: dict[tuple[int, int, str, str], dict[str, Any]] = {}

    def _load(self, hour: int) -> None:
        self.hours.add(hour)
        query = select(UsageRecord.id, UsageRecord.appliance_id, UsageRecord.node,
                       UsageRecord.metric, UsageRecord.quantity).where(UsageRecord.hour == hour)
        if self.nodes is not None:
            query = query.where(UsageRecord.node.in_(self.nodes))
        for row_id, app_id, node, metric, quantity in self.session.execute(query):
            self.rows[(hour, app_id, node, metric)] = [row_id, quantity]

    def add(self, node: MeteredNode, metric: Metric, hour: int, quantity: int) -> None:
        if quantity <= 0:
            return
        if hour not in self.hours:
            self._load(hour)
        key = (hour, node.appliance_id, node.name, metric.value)
        row = self.rows.get(key)
        if row is not None:
            row[1] += quantity
            self.changed[row[0]] = row[1]
        elif key in self.new:
            self.new[key]["quantity"] += quantity
        else:
            self.new[key] = dict(hour=hour, customer=node.customer, provider=node.provider,
                                 owner=node.owner, service=node.service,
                                 appliance_id=node.appliance_id, appliance=node.appliance,
                                 node=node.name, role=node.role, metric=metric.value,
                                 quantity=quantity)

    def write(self) -> None:
        if self.changed:
            self.session.execute(update(UsageRecord), [
                {"id": i, "quantity": q} for i, q in self.changed.items()])
        if self.new:
            self.session.execute(insert(UsageRecord), list(self.new.values()))


@dataclass(slots=True)
class _Stored:
    id: int  # 0: not stored yet
    epoch: str
    value: int


class _Readings:
    """The stored readings and what a snapshot changes in them, written by `write`: a reading
    equal to the stored one is not written again."""

    def __init__(self, session: Session, keys: set[str] | None) -> None:
        self.session = session
        query = select(MeterReading.key, MeterReading.id, MeterReading.epoch,
                       MeterReading.value)
        if keys is not None:
            query = query.where(MeterReading.key.in_(keys))
        self.rows = {key: _Stored(row_id, epoch, value)
                     for key, row_id, epoch, value in session.execute(query)}
        self.changed: set[str] = set()  # keys of stored readings that changed
        self.gone: set[int] = set()

    def last(self, key: str) -> Reading | None:
        row = self.rows.get(key)
        return Reading(row.epoch, row.value) if row is not None else None

    def set(self, key: str, epoch: str, value: int) -> None:
        row = self.rows.get(key)
        if row is None:
            self.rows[key] = _Stored(0, epoch, value)
            self.changed.add(key)
        elif (row.epoch, row.value) != (epoch, value):
            row.epoch, row.value = epoch, value
            self.changed.add(key)

    def drop(self, key: str) -> None:
        row = self.rows.pop(key, None)
        self.changed.discard(key)
        if row is not None and row.id:
            self.gone.add(row.id)

    def write(self) -> None:
        if self.gone:
            self.session.execute(delete(MeterReading).where(MeterReading.id.in_(self.gone)))
        rows = [(key, self.rows[key]) for key in self.changed]
        if stored := [{"id": r.id, "epoch": r.epoch, "value": r.value} for _, r in rows if r.id]:
            self.session.execute(update(MeterReading), stored)
        if new := [{"key": k, "epoch": r.epoch, "value": r.value} for k, r in rows if not r.id]:
            self.session.execute(insert(MeterReading), new)


def _clocks(readings: _Readings, records: _Records, nodes: list[MeteredNode],
            snap: Snapshot) -> None:
    """Node time: every present node's clock advanced to the snapshot's time, the time split
    at hours into its records; a missing node's clock stops (its reading goes)."""
    for node in nodes:
        key = f"clock:{node.instance_id}"
        last = readings.last(key)
        if node.instance_id not in snap.present:
            readings.drop(key)  # gone (or not made yet): its clock stops here
        elif last is None:
            readings.set(key, "ms", snap.at_ms)
        elif snap.at_ms > last.value:
            for hour_start, ms in split_hours(last.value, snap.at_ms):
                records.add(node, Metric.NODE_MS, to_ms(hour_start) // HOUR_MS, ms)
            readings.set(key, last.epoch, snap.at_ms)


def _prune(readings: _Readings, nodes: list[MeteredNode]) -> None:
    """Drop the readings of counters whose node no longer exists: never read again (the
    edge's gateway counters, gw:..., are service/edge_metering.py's)."""
    live = {n.instance_id for n in nodes}
    for key in list(readings.rows):
        prefix, _, rest = key.partition(":")
        owner_id = rest.split(":")[0]
        if prefix in ("fe", "wl", "clock") and owner_id.isdigit() and int(owner_id) not in live:
            readings.drop(key)


def record(session: Session, nodes: Iterable[MeteredNode], snap: Snapshot, *,
           prune: bool = True) -> dict[int, dict[str, int]]:
    """Store one snapshot: counter increments and node time, with their new readings.
    Returns the counter increments per appliance id and metric (the autoscaler's input).
    Without `prune`, only the readings and records of `nodes` are read: a last reading of the
    one node being deleted costs the same whatever the number of nodes. A counter that did
    not move is not written; node time moves at every tick, so every present node's clock
    and its hour's record are (two statements for all of them)."""
    nodes = list(nodes)
    readings = _Readings(session, None if prune else (
        {key for key, _now, _node, _metric in snap.counters}
        | {f"clock:{n.instance_id}" for n in nodes}))
    records = _Records(session, None if prune else frozenset(
        {n.name for n in nodes} | {billed.name for _key, _now, billed, _m in snap.counters}))
    hour = snap.at_ms // HOUR_MS
    increments: dict[int, dict[str, int]] = {}
    for key, now, node, metric in snap.counters:
        inc = increment(readings.last(key), now)
        records.add(node, metric, hour, inc)
        per_app = increments.setdefault(node.appliance_id, {})
        per_app[metric.value] = per_app.get(metric.value, 0) + inc
        readings.set(key, now.epoch, now.value)
    _clocks(readings, records, nodes, snap)
    if prune:
        _prune(readings, nodes)
    records.write()
    readings.write()
    return increments


def tick(ctx: Context, nodes: list[MeteredNode], present: set[int], pmap: PMap = map,
         skip: frozenset[int] = frozenset(), *, prune: bool = True
         ) -> dict[int, dict[str, int]]:
    """Read and record `nodes`. `prune`: `nodes` is every metered node, and the readings of
    any other are dropped (False for a last reading of one node before it goes)."""
    snap = read(ctx, nodes, present, pmap, skip)
    _keep_rotations(ctx, nodes, snap, prune=prune)
    with ctx.write() as session:
        return record(session, nodes, snap, prune=prune)


def _keep_rotations(ctx: Context, nodes: list[MeteredNode], snap: Snapshot, *,
                    prune: bool) -> None:
    """What each front-end's rotation held, as read now; a front-end whose agent did not
    answer this time keeps what it said last, one no longer metered (`prune`: `nodes` is
    all of them) is forgotten. A new dict, swapped in whole: readers never see it half made."""
    rotations = dict(ctx.rotations)
    if prune:
        metered = {n.netns for n in nodes if n.role == NodeRole.FRONTEND}
        rotations = {netns: ips for netns, ips in rotations.items() if netns in metered}
    rotations.update(snap.rotations)
    ctx.rotations = rotations


# --- queries ---------------------------------------------------------------------------------


COLUMNS = ("frontend_node_ms", "backend_node_ms", "bytes_in", "bytes_out", "connections",
           "requests")


@dataclass
class Totals:
    """One appliance's (or node's) usage over a period."""

    appliance: str
    appliance_id: int
    customer: str
    provider: str
    service: str
    node: str | None = None
    owner: str | None = None
    role: str | None = None
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))

    def add(self, role: str, metric: str, quantity: int) -> None:
        key = f"{role}_node_ms" if metric == Metric.NODE_MS else metric
        if key in self.values:
            self.values[key] += quantity


def _rows(session: Session, period: Period | None, group_node: bool,
          where: list[Any]) -> list[Totals]:
    cols = [UsageRecord.appliance_id, UsageRecord.appliance, UsageRecord.customer,
            UsageRecord.provider, UsageRecord.service, UsageRecord.role, UsageRecord.metric]
    if group_node:
        cols += [UsageRecord.node, UsageRecord.owner]
    q = select(*cols, func.sum(UsageRecord.quantity)).group_by(*cols)
    if period is not None:
        q = q.where(UsageRecord.hour >= hour_index(period.start, "period.start"),
                    UsageRecord.hour < hour_index(period.end, "period.end"))
    for cond in where:
        q = q.where(cond)
    out: dict[tuple[Any, ...], Totals] = {}
    for result_row in session.execute(q):
        row: tuple[Any, ...] = tuple(result_row)
        app_id, app, customer, provider, service, role, metric = (row[0], str(row[1]),
                                                                  str(row[2]), str(row[3]),
                                                                  str(row[4]), str(row[5]),
                                                                  str(row[6]))
        node, owner = (str(row[7]), str(row[8])) if group_node else (None, None)
        key = (app_id, node)
        t = out.get(key)
        if t is None:
            t = out[key] = Totals(appliance=app, appliance_id=int(app_id), customer=customer,
                                  provider=provider, service=service, node=node, owner=owner,
                                  role=role if group_node else None)
        t.add(role, metric, int(row[-1] or 0))
    return sorted(out.values(), key=lambda t: (t.appliance, t.appliance_id, t.node or ""))


def hour_index(at: dt.datetime, where: str) -> int:
    """Hours since the epoch of an instant on an hour boundary (usage is kept per hour)."""
    ms = to_ms(at)
    if ms % HOUR_MS:
        raise Invalid(f"{at.isoformat()} is not on a whole hour; usage is kept per UTC hour",
                      where=where)
    return ms // HOUR_MS


def totals(session: Session, period: Period | None = None, *, where: Iterable[Any] = ()
           ) -> list[Totals]:
    """Per appliance: node time by role, bytes, connections, requests over the period."""
    return _rows(session, period, False, list(where))


def by_node(session: Session, period: Period | None = None, *, where: Iterable[Any] = ()
            ) -> list[Totals]:
    """The same, per node (what its provider sees)."""
    return _rows(session, period, True, list(where))
