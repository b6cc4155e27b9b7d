"""Metering: counter increments across resets, node time split at hours, usage records
written exactly once per reading, readings that did not move not written again (in a store on
the fake driver, no controller; what /v1/usage and /metrics show to whom:
tests/service/test_metering.py); the agents read with one request per agent (their hubs), node
by node from an agent without one."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from facade.domain import agent_auth
from facade.domain.metering import Metric, Reading, from_ms, increment, split_hours
from facade.domain.specs import ProbeResult
from facade.service import management, metering
from facade.service.context import Context
from facade.store.models import MeterReading, UsageRecord

HOUR = 3_600_000
T0 = 1_795_000_000_000 - 1_795_000_000_000 % HOUR  # an hour boundary in 2026


# --- pure arithmetic -----------------------------------------------------------------------


def test_increment_same_epoch_reset_and_first_reading() -> None:
    assert increment(None, Reading("a", 7)) == 7  # everything the counter counted so far
    assert increment(Reading("a", 7), Reading("a", 10)) == 3
    assert increment(Reading("a", 10), Reading("a", 10)) == 0  # read twice: counted once
    assert increment(Reading("a", 10), Reading("b", 4)) == 4  # made again: counts from 0
    assert increment(Reading("a", 10), Reading("a", 4)) == 4  # a reset we could not see
    with pytest.raises(ValueError):
        increment(None, Reading("a", -1))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.booleans(), st.booleans()), max_size=40))
def test_increments_sum_to_what_the_counters_counted(
        steps: list[tuple[int, bool, bool]]) -> None:
    """A counter grows by `amount` per step; sometimes it is made again (new epoch, from 0);
    sometimes the step is not read. The increments of the readings sum to everything counted,
    except what a counter counted after its last reading before it was made again."""
    epoch, value, last = 0, 0, None
    summed, counted, lost_unread = 0, 0, 0
    for amount, reset, read in steps:
        if reset:
            lost_unread += value - (last.value if last and last.epoch == str(epoch) else 0)
            epoch, value = epoch + 1, 0
        value += amount
        counted += amount
        if read:
            now = Reading(str(epoch), value)
            summed += increment(last, now)
            last = now
    unread_tail = value - (last.value if last and last.epoch == str(epoch) else 0)
    assert summed == counted - lost_unread - unread_tail


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10 * HOUR), st.integers(0, 5 * HOUR))
def test_node_time_splits_exactly_at_hours(start_offset: int, length: int) -> None:
    start = T0 + start_offset
    parts = split_hours(start, start + length)
    assert sum(ms for _, ms in parts) == length
    assert all(0 < ms <= HOUR for _, ms in parts)
    hours = [metering.to_ms(h) for h, _ in parts]
    assert all(h % HOUR == 0 for h in hours)
    assert hours == sorted(set(hours))
    if parts:
        assert hours[0] <= start < hours[0] + HOUR


# --- recording -----------------------------------------------------------------------------


def _node(iid: int, role: str, ip: str, name: str | None = None) -> metering.MeteredNode:
    return metering.MeteredNode(
        instance_id=iid, name=name or f"docs-{role[0]}{iid}", netns=f"fcd-i{iid}-x", role=role,
        ip=ip, appliance_id=1, appliance="docs", customer="acme", provider="searchco",
        owner="searchco", service="search", agent=None, mgmt_ip=None)


FE = _node(1, "frontend", "10.0.1.5", "docs-fe")
B1 = _node(2, "backend", "10.0.1.3", "docs-b1")
B2 = _node(3, "backend", "10.0.1.4", "docs-b2")
NODES = [FE, B1, B2]


def _fe_answer(epoch: str, per_ip: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    return {"epoch": epoch, "meters": {
        ip: {"m_in": {"packets": 1, "bytes": i}, "m_out": {"packets": 1, "bytes": o},
             "m_conn": {"packets": c, "bytes": 60 * c}} for ip, (i, o, c) in per_ip.items()}}


def _snap(at_ms: int, answer: dict[str, Any], present: set[int] | None = None
          ) -> metering.Snapshot:
    snap = metering.Snapshot(at_ms=at_ms, present={1, 2, 3} if present is None else present)
    snap.counters = metering.frontend_readings(FE, answer, {B1.ip: B1, B2.ip: B2})
    return snap


def _usage(ctx: Context) -> dict[tuple[str, str], int]:
    with ctx.read() as s:
        out: dict[tuple[str, str], int] = {}
        for r in s.scalars(select(UsageRecord)):
            out[(r.node, r.metric)] = out.get((r.node, r.metric), 0) + r.quantity
        return out


def _record(ctx: Context, snap: metering.Snapshot) -> None:
    with ctx.write() as s:
        metering.record(s, NODES, snap)


def test_readings_become_usage_once_and_survive_a_counter_reset(ctx: Context) -> None:
    _record(ctx, _snap(T0, _fe_answer("ns1:7", {B1.ip: (1000, 5000, 2)})))
    assert _usage(ctx) == {("docs-b1", "bytes_in"): 1000, ("docs-b1", "bytes_out"): 5000,
                           ("docs-b1", "connections"): 2}
    # the same counters read again (a crash after the read, or an idle tick): nothing added
    _record(ctx, _snap(T0 + 500, _fe_answer("ns1:7", {B1.ip: (1000, 5000, 2)})))
    assert _usage(ctx)[("docs-b1", "bytes_in")] == 1000
    # more traffic, to both backends
    _record(ctx, _snap(T0 + 1000, _fe_answer("ns1:7", {B1.ip: (1500, 7000, 3),
                                                       B2.ip: (10, 20, 1)})))
    # the front-end's table was made again: counters restart at 0 under a new epoch
    _record(ctx, _snap(T0 + 2000, _fe_answer("ns1:9", {B1.ip: (100, 200, 1)})))
    u = _usage(ctx)
    assert (u[("docs-b1", "bytes_in")], u[("docs-b1", "bytes_out")],
            u[("docs-b1", "connections")]) == (1600, 7200, 4)
    assert (u[("docs-b2", "bytes_in")], u[("docs-b2", "connections")]) == (10, 1)
    # node time: clocks started at T0, so 2 s per present node
    assert u[("docs-fe", "node_ms")] == u[("docs-b1", "node_ms")] == 2000


def test_an_address_no_backend_holds_is_billed_to_the_front_end(ctx: Context) -> None:
    _record(ctx, _snap(T0, _fe_answer("e", {"10.0.1.99": (300, 400, 1)})))
    u = _usage(ctx)
    assert u[("docs-fe", "bytes_in")] == 300 and ("docs-b1", "bytes_in") not in u


def test_node_time_stops_while_a_node_is_missing_and_splits_at_the_hour(ctx: Context) -> None:
    empty = {"epoch": "e", "meters": {}}
    _record(ctx, _snap(T0 + HOUR - 1500, empty))  # clocks start
    _record(ctx, _snap(T0 + HOUR + 500, empty))  # 2 s, across an hour boundary
    with ctx.read() as s:
        rows = {(r.node, r.hour): r.quantity for r in s.scalars(
            select(UsageRecord).where(UsageRecord.metric == Metric.NODE_MS.value))}
    h0 = T0 // HOUR
    assert rows[("docs-b2", h0)] == 1500 and rows[("docs-b2", h0 + 1)] == 500
    # b2's namespace is gone for a while: its clock stops, then starts again when it is back
    _record(ctx, _snap(T0 + HOUR + 1500, empty, present={1, 2}))
    _record(ctx, _snap(T0 + HOUR + 9500, empty, present={1, 2, 3}))
    _record(ctx, _snap(T0 + HOUR + 10_000, empty))
    u = _usage(ctx)
    assert u[("docs-b1", "node_ms")] == 2000 + 1000 + 8000 + 500
    assert u[("docs-b2", "node_ms")] == 2000 + 500


def test_a_tick_at_rest_writes_node_time_only(ctx: Context) -> None:
    """Counters that did not move cost no write; node time moves, so every present node's
    clock and its hour's record are written, in one statement each."""
    answer = _fe_answer("ns1:7", {B1.ip: (1000, 5000, 2), B2.ip: (10, 20, 1)})
    _record(ctx, _snap(T0, answer))
    _record(ctx, _snap(T0 + 500, answer))
    written: list[tuple[str, int]] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any,
                   many: bool) -> None:
        if statement.split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            written.append((" ".join(statement.split()[:3]), len(params) if many else 1))

    event.listen(ctx.engine, "before_cursor_execute", on_execute)
    try:
        _record(ctx, _snap(T0 + 1500, answer))
    finally:
        event.remove(ctx.engine, "before_cursor_execute", on_execute)
    assert sorted(written) == [("UPDATE meter_readings SET", 3),  # the three clocks
                               ("UPDATE usage_records SET", 3)]  # their hour's node time
    u = _usage(ctx)
    assert u[("docs-b1", "bytes_in")] == 1000 and u[("docs-fe", "node_ms")] == 1500


def test_readings_of_nodes_that_are_gone_are_dropped(ctx: Context) -> None:
    _record(ctx, _snap(T0, _fe_answer("e", {B1.ip: (1, 1, 1)})))
    with ctx.write() as s:
        metering.record(s, [B2], metering.Snapshot(at_ms=T0 + 10, present={3}))
    with ctx.read() as s:
        keys = set(s.scalars(select(MeterReading.key)))
    assert keys == {"clock:3"}
    assert _usage(ctx)[("docs-b1", "bytes_in")] == 1  # usage itself is never dropped


def test_a_last_reading_of_one_node_adds_to_its_rows_and_leaves_the_others_alone(
        ctx: Context) -> None:
    _record(ctx, _snap(T0, _fe_answer("e", {B1.ip: (100, 100, 1), B2.ip: (7, 7, 1)})))
    before = _usage(ctx)
    # the front-end's last reading before it goes, alone (prune=False): its counters and
    # clock advance on the rows it already has; nobody else's readings or rows change
    last = metering.Snapshot(at_ms=T0 + 1000, present={1})
    last.counters = metering.frontend_readings(FE, _fe_answer("e", {"10.0.1.99": (5, 6, 1)}),
                                               {})
    with ctx.write() as s:
        metering.record(s, [FE], last, prune=False)
    after = _usage(ctx)
    assert after[("docs-fe", "node_ms")] == before.get(("docs-fe", "node_ms"), 0) + 1000
    assert after[("docs-fe", "bytes_in")] == 5
    assert {k: v for k, v in after.items() if k[0] != "docs-fe"} == \
        {k: v for k, v in before.items() if k[0] != "docs-fe"}
    with ctx.read() as s:
        rows = list(s.scalars(select(UsageRecord).where(UsageRecord.node == "docs-fe")))
        keys = set(s.scalars(select(MeterReading.key)))
    assert len(rows) == len({(r.hour, r.metric) for r in rows})  # added to, not duplicated
    assert {"clock:2", "clock:3"} <= keys  # the others' readings are kept


def test_totals_per_appliance_and_period(ctx: Context) -> None:
    _record(ctx, _snap(T0, _fe_answer("e", {B1.ip: (1000, 2000, 3)})))
    _record(ctx, _snap(T0 + 3 * HOUR + 7, _fe_answer("e", {B1.ip: (1500, 2000, 3)})))
    from facade.domain.period import Period

    with ctx.read() as s:
        (whole,) = metering.totals(s)
        (first,) = metering.totals(s, Period(from_ms(T0), from_ms(T0 + HOUR)))
        nodes = metering.by_node(s)
    assert whole.values["bytes_in"] == 1500 and first.values["bytes_in"] == 1000
    assert whole.values["backend_node_ms"] == 2 * (3 * HOUR + 7)
    assert whole.values["frontend_node_ms"] == 3 * HOUR + 7
    assert {t.node for t in nodes} == {"docs-fe", "docs-b1", "docs-b2"}


# --- reading: one request per agent ------------------------------------------------------------


class Agents:
    """Management agents as the control plane meets them through the data plane: each
    network's hub on 127.0.0.1 in its router namespace answers for the nodes `served`
    (checking the signature), an agent of network in `old` has no hub (refused, or 404 with
    `old_404`), one in `slow` does not answer in time; each node answers on its management
    address. `asked` is every request: (netns, ip, path)."""

    def __init__(self, ctx: Context, served: list[metering.MeteredNode]) -> None:
        self.ctx, self.served = ctx, served
        self.old: set[int] = set()
        self.slow: set[int] = set()
        self.old_404 = False
        self.per_answer = 0  # nodes a hub answer holds at most (0: all), the rest in `more`
        self.asked: list[tuple[str, str, str]] = []

    def answer(self, node: metering.MeteredNode) -> dict[str, Any]:
        if node.role == "frontend":
            return _fe_answer("e", {B1.ip: (100 * node.instance_id, 7, 1)})
        return {"node": node.name, "counters": {},
                "workload": {"requests": node.instance_id, "boot": "b"}}

    def http_request(self, netns: str, ip: str, port: int, path: str = "/", *,
                     method: str = "GET", body: bytes | None = None,
                     headers: dict[str, str] | None = None,
                     timeout: float = 2.0) -> ProbeResult:
        self.asked.append((netns, ip, path))
        net = int(netns.removeprefix("fcd-r"))
        secret = management.secret(self.ctx.home, net)
        auth = (headers or {}).get("Authorization")
        if ip == management.HUB_HOST:
            if net in self.old:
                return (ProbeResult(ok=False, detail="HTTP 404", status=404, body="{}")
                        if self.old_404 else ProbeResult(ok=False, detail="connection refused"))
            if net in self.slow:
                return ProbeResult(ok=False, detail="timed out")
            assert agent_auth.verify(secret, auth, "GET", path, agent_auth.HUB)
            _, _, query = path.partition("?")
            # the agent knows a node by its namespace's name (management.AgentNode)
            mine = {n.netns: n for n in self.served if n.agent and n.agent.network_id == net}
            names = query.removeprefix("nodes=").split(",") if query else sorted(mine)
            limit = self.per_answer or len(names)
            answer = {"nodes": {n: self.answer(mine[n]) for n in names[:limit]},
                      "missing": {}, "more": names[limit:]}
            return ProbeResult(ok=True, detail="HTTP 200", status=200, body=json.dumps(answer))
        (node,) = [n for n in self.served if n.mgmt_ip == ip]
        assert agent_auth.verify(secret, auth, "GET", path, node.netns)
        return ProbeResult(ok=True, detail="HTTP 200", status=200,
                           body=json.dumps(self.answer(node)))


def _served(ctx: Context) -> tuple[list[metering.MeteredNode], Agents]:
    """FE and B1 served by network 7's agent, B2 by network 8's; the agents answering."""
    agents = {7: management.Agent(7), 8: management.Agent(8)}
    nodes = []
    for node, net, ip in ((FE, 7, "10.0.200.5"), (B1, 7, "10.0.200.3"), (B2, 8, "10.0.201.4")):
        agents[net].nodes.append(management.AgentNode(node.netns, node.netns, ip, node.role,
                                                      None))
        nodes.append(replace(node, agent=agents[net], mgmt_ip=ip))
    fake = Agents(ctx, nodes)
    ctx.dataplane = fake  # type: ignore[assignment]
    return nodes, fake


def _read_keys(ctx: Context, nodes: list[metering.MeteredNode],
               skip: frozenset[int] = frozenset()) -> set[str]:
    snap = metering.read(ctx, nodes, {n.instance_id for n in nodes}, skip=skip)
    return {key for key, _now, _node, _metric in snap.counters}


EVERY = {f"fe:1:{B1.ip}:m_in", f"fe:1:{B1.ip}:m_out", f"fe:1:{B1.ip}:m_conn", "wl:2", "wl:3"}


def test_each_agent_is_asked_once_for_all_its_nodes(ctx: Context) -> None:
    nodes, agents = _served(ctx)
    assert _read_keys(ctx, nodes) == EVERY
    assert sorted(agents.asked) == [("fcd-r7", "127.0.0.1", "/v1/counters"),
                                    ("fcd-r8", "127.0.0.1", "/v1/counters")]


def test_an_agent_is_asked_for_the_nodes_asked_only_when_not_all(ctx: Context) -> None:
    nodes, agents = _served(ctx)
    assert _read_keys(ctx, nodes, skip=frozenset({2})) == EVERY - {"wl:2"}
    assert ("fcd-r7", "127.0.0.1", "/v1/counters?nodes=fcd-i1-x") in agents.asked
    # the last reading of one node before it goes: its agent is asked for it alone
    agents.asked.clear()
    alone = replace(nodes[2], agent=management.Agent(8))
    assert _read_keys(ctx, [alone]) == {"wl:3"}
    assert agents.asked == [("fcd-r8", "127.0.0.1", "/v1/counters?nodes=fcd-i3-x")]


@pytest.mark.parametrize("status_404", [False, True])
def test_an_agent_without_a_hub_is_asked_node_by_node(ctx: Context, status_404: bool) -> None:
    nodes, agents = _served(ctx)
    agents.old, agents.old_404 = {7}, status_404
    assert _read_keys(ctx, nodes) == EVERY  # metering never stops across an upgrade
    assert sorted(agents.asked) == [("fcd-r7", "10.0.200.3", "/v1/counters"),
                                    ("fcd-r7", "10.0.200.5", "/v1/counters"),
                                    ("fcd-r7", "127.0.0.1", "/v1/counters"),
                                    ("fcd-r8", "127.0.0.1", "/v1/counters")]


def test_an_agent_that_does_not_answer_in_time_is_read_next_tick(ctx: Context) -> None:
    nodes, agents = _served(ctx)
    agents.slow = {7}
    # its nodes are not asked one by one (each would cost a timeout); the others are read
    assert _read_keys(ctx, nodes) == {"wl:3"}
    assert len(agents.asked) == 2


def test_what_a_hub_leaves_for_another_request_is_asked_again(ctx: Context) -> None:
    nodes, agents = _served(ctx)
    agents.per_answer = 1
    assert _read_keys(ctx, nodes) == EVERY
    assert ("fcd-r7", "127.0.0.1", "/v1/counters?nodes=fcd-i2-x") in agents.asked
