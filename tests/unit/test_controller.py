"""The controller without root: its work queue (one worker per key, dirty keys, backoff,
tickets), what a write hands it (service/changes.py), and its reconcilers on the fake driver
(a failure retried or reported, orphans removed by the resync, a backend's health change
moving its rotation)."""

from __future__ import annotations

import threading
import time
from typing import Any

from facade.controller import Controller
from facade.controller.queue import RETRY_FIRST, WorkQueue
from facade.dataplane.errors import DataPlaneError, fatal
from facade.dataplane.fake import FakeDataPlane
from facade.domain import keys
from facade.domain.keys import Key
from facade.domain.specs import NodeSpec, PortSpec, ProcessSpec, SubnetSpec
from facade.service.context import Context
from tests.unit.clock import Clock
from tests.unit.test_api_validation import ok, world  # noqa: F401 - fixture

A, B = keys.node(1), keys.node(2)




# -- the queue -----------------------------------------------------------------------------------


def test_a_key_is_handed_out_once_and_again_when_added_while_held() -> None:
    q = WorkQueue()
    q.add([A, B, A])
    assert q.get(0) == A and q.get(0) == B and q.get(0) is None  # A once
    q.add([A])  # while a worker holds A: dirty, not handed to another
    assert q.get(0) is None
    q.done(A)
    assert q.get(0) == A  # after the first is done
    q.done(A)
    q.done(B)
    assert q.get(0) is None


def test_failures_back_off_per_key_and_success_forgets() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    delays = [q.retry(A) for _ in range(5)]
    assert delays == [RETRY_FIRST * 2 ** n for n in range(5)]
    assert q.get(0) is None  # not due yet
    clock.t += sum(delays)
    assert q.get(0) == A
    q.done(A)
    q.forget(A)
    assert q.retry(A) == RETRY_FIRST


def test_a_deferred_key_comes_once_for_every_touch_of_its_period() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    for _ in range(50):  # fifty nodes went within the period: one reconcile of their agent
        q.defer(A, 0.5)
        clock.t += 0.005
    assert q.get(0) is None  # not due yet
    clock.t += 0.5
    assert q.get(0) == A and q.get(0) is None
    q.done(A)
    q.defer(A, 0.5)  # a touch after it was handed out starts a new period
    clock.t += 0.5
    assert q.get(0) == A
    q.done(A)
    assert q.get(0) is None


def test_a_ticket_waits_for_its_keys_not_for_retries() -> None:
    q = WorkQueue()
    ticket = q.add([A])
    assert not q.wait(ticket, 0.05)  # A not reconciled yet
    key = q.get(0)
    assert key == A
    q.retry(A)  # it failed: the attempt counts, its retry is not waited for
    q.done(A)
    assert q.wait(ticket, 0.05)
    later = q.add([B])
    assert q.get(0) == B
    q.add_after(B, 60, keep_waiters=True)  # waits for a dependency: waiters keep waiting
    q.done(B)
    assert not q.wait(later, 0.05)


def test_changes_go_before_the_resync_and_say_how_long_they_waited() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    C = keys.node(3)
    q.add([A, B], background=True)  # the resync's looks
    clock.t += 2.0
    q.add([C])  # a user's change: first, though queued last
    q.add([B])  # a change to what the resync queued: moves to the front, once
    clock.t += 0.5
    assert q.get(0) == C and q.waited(C) == (0.5, False)
    assert q.get(0) == B and q.waited(B) == (2.5, False)
    assert q.get(0) == A and q.waited(A) == (2.5, True)
    assert q.get(0) is None  # B's entry in the background lane is not handed out again
    for key in (A, B, C):
        q.done(key)
    assert q.waited(A) == (0.0, False) and q.depth() == 0
    q.add([A], background=True)
    q.add([A], background=True)
    assert q.get(0) == A and q.get(0) is None


# -- what a write hands over -----------------------------------------------------------------------


def test_a_write_hands_over_the_keys_of_what_it_touched(world: Any) -> None:  # noqa: F811
    api = world
    api.changed = True
    seen: list[set[Key]] = []
    kicker = api.ctx.kicker
    real = kicker.touch

    def spy(keys_: Any) -> int:
        got = set(keys_)
        seen.append(got)
        return int(real(got))

    kicker.touch = spy
    try:
        ok(api.req("POST", "/v1/instances", json={
            "name": "second", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}),
           201)
        ok(api.req("POST", "/v1/networks/acme-vpc/subnets",
                   json={"name": "more", "cidr": "10.0.5.0/24"}), 201)
        ok(api.req("POST", "/v1/appliances", json={
            "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
            "backends": 1}), 202)
    finally:
        kicker.touch = real
    inst, sub, app = seen[:3]
    assert {k.kind for k in inst} == {"node", "rules"}
    assert {k.kind for k in sub} >= {"subnet", "router", "rules"}
    assert {k.kind for k in app} >= {"appliance", "node", "agent"}
    assert sum(1 for k in app if k.kind == "node") == 2  # its front-end and its backend


# -- reconcilers on the fake -----------------------------------------------------------------------


class Flaky(FakeDataPlane):
    """Refuses to make one node: a Retry the first `times` calls, or always Fatal."""

    fails = 0
    fatal_name = ""

    def ensure_node(self, spec: NodeSpec) -> None:
        if spec.netns.endswith(self.fatal_name) and self.fatal_name:
            raise fatal(f"{spec.netns}: cannot be made")
        if self.fails > 0 and spec.role == "instance":
            self.fails -= 1
            raise DataPlaneError(f"{spec.netns}: not now")
        super().ensure_node(spec)


def _plane(tmp_path: Any, dp: FakeDataPlane) -> tuple[Context, Controller]:
    from facade.service import accounts

    ctx = Context.open(tmp_path / "home", dp)
    accounts.bootstrap_operator(ctx)
    controller = Controller(ctx, resync=3600)
    controller.start()
    return ctx, controller


def _instance(ctx: Context, name: str) -> None:
    from facade.service import accounts, instances, networks
    from facade.service.context import Caller

    op = Caller(account_id=1, account="operator", operator=True)
    if name == "first":
        accounts.create(ctx, op, "acme")
        networks.create_network(ctx, op, "vpc", "acme", "10.0.0.0/16",
                        [{"name": "app", "cidr": "10.0.1.0/24"}])
    instances.create(ctx, op, name, "acme", [{"subnet": "vpc/app"}])


def _status(ctx: Context, name: str) -> str:
    from sqlalchemy import select

    from facade.store.models import Instance

    with ctx.read() as s:
        return str(s.scalar(select(Instance.status).where(Instance.name == name)))


def test_a_retry_comes_back_and_a_fatal_failure_marks_the_node(tmp_path: Any) -> None:
    dp = Flaky()
    dp.fails = 2
    ctx, controller = _plane(tmp_path, dp)
    try:
        _instance(ctx, "first")
        deadline = time.monotonic() + 5
        while _status(ctx, "first") != "active" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _status(ctx, "first") == "active" and dp.fails == 0  # after two retries
        dp.fatal_name = "broken"
        _instance(ctx, "broken")
        assert _status(ctx, "broken") == "failed"
        calls = [c for c in dp.calls if c.endswith("-broken")]
        time.sleep(0.3)
        assert [c for c in dp.calls if c.endswith("-broken")] == calls  # not retried
    finally:
        controller.stop()
        ctx.engine.dispose()


def test_the_resync_removes_what_the_store_does_not_explain(tmp_path: Any) -> None:
    dp = FakeDataPlane()
    ctx, controller = _plane(tmp_path, dp)
    try:
        _instance(ctx, "first")
        dp.ensure_subnet(SubnetSpec("fcdb99", "10.9.9.0/24"))
        stray = NodeSpec("fcd-i77-stray", "instance",
                         (PortSpec("fcdv77", "fcdb99", "eth0", "10.9.9.2/24"),))
        dp.ensure_node(stray)
        dp.start_process(ProcessSpec("wl77", stray.netns, ("sleep", "9")))
        controller.touch(controller.all_keys())
        deadline = time.monotonic() + 5
        while (stray.netns in dp.nodes or "fcdb99" in dp.subnets) \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stray.netns not in dp.nodes and "wl77" not in dp.processes
        assert "fcdb99" not in dp.subnets
        assert any(n.endswith("-first") for n in dp.nodes)  # what is desired stays
    finally:
        controller.stop()
        ctx.engine.dispose()


def test_a_backend_that_fails_its_check_leaves_the_rotation_and_comes_back(
        world: Any) -> None:  # noqa: F811
    api = world
    api.changed = True
    ok(api.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 2}), 202)
    deadline = time.monotonic() + 5
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = ok(api.req("GET", "/v1/appliances/docs"))
        if app["status"] == "ready":
            break
        time.sleep(0.02)
    fe = app["frontend"]["netns"]
    victim = app["backends"][0]
    assert len(api.dp.backends[fe]) == 2
    key = f"wl{victim['netns'].split('-')[1][1:]}"
    spec, _pid = api.dp.processes.pop(key)  # the workload dies: the fake stops answering
    gone = threading.Event()

    def watch() -> None:
        while time.monotonic() < deadline + 5:
            if len(api.dp.backends.get(fe, ())) == 1:
                gone.set()
                return
            time.sleep(0.005)

    t = threading.Thread(target=watch)
    t.start()
    deadline = time.monotonic() + 5
    t.join()
    assert gone.is_set()  # out of the rotation ...
    while time.monotonic() < deadline and len(api.dp.backends.get(fe, ())) != 2:
        time.sleep(0.01)
    assert key in api.dp.processes and len(api.dp.backends[fe]) == 2  # ... restarted, back in


def test_an_appliance_is_not_ready_before_its_agent_answers_for_every_node(
        world: Any, monkeypatch: Any) -> None:  # noqa: F811
    api = world
    api.changed = True
    start = api.dp.start_process
    released = threading.Event()

    def held(spec: ProcessSpec) -> int:  # the management agent cannot start until released
        if spec.key.startswith("agent-") and not released.is_set():
            raise DataPlaneError(f"{spec.key}: held by the test")
        return start(spec)

    monkeypatch.setattr(api.dp, "start_process", held)
    ok(api.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    deadline = time.monotonic() + 5
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:  # rotation complete and endpoint answering ...
        app = ok(api.req("GET", "/v1/appliances/docs"))
        if app["status_detail"].startswith("management path"):
            break
        time.sleep(0.02)
    # ... but its provider cannot reach its front-end: not ready, and the detail says why
    assert app["status"] == "provisioning", app
    assert app["status_detail"].startswith("management path: docs-fe's agent: "), app
    assert api.dp.backends[app["frontend"]["netns"]]  # the rotation was complete
    released.set()
    while time.monotonic() < deadline + 5 and app["status"] != "ready":
        app = ok(api.req("GET", "/v1/appliances/docs"))
        time.sleep(0.02)
    assert app["status"] == "ready", app


# -- what it spends its CPU on -------------------------------------------------------------------


def test_costs_add_thread_cpu_per_activity_and_start_again_after_a_take() -> None:
    from facade.controller.costs import Costs, describe

    costs = Costs()
    with costs.measure("busy"):
        end = time.thread_time() + 0.03
        while time.thread_time() < end:
            pass
    with costs.measure("asleep"):
        time.sleep(0.05)  # waiting costs no CPU
    double = costs.wrap("pooled", lambda x: 2 * x)
    assert [double(1), double(2)] == [2, 4]
    taken = {a: (n, cpu) for a, n, cpu in costs.take()}
    assert taken["busy"][0] == 1 and taken["busy"][1] >= 0.02
    assert taken["asleep"][0] == 1 and taken["asleep"][1] < taken["busy"][1]
    assert taken["pooled"][0] == 2
    assert costs.take() == []
    assert describe([("node", 12, 0.08)]) == "node 12 in 0.08 s CPU"


def test_costs_keep_the_waits_of_each_kind_until_taken() -> None:
    from facade.controller.costs import Costs, describe_waits

    costs = Costs()
    for seconds in (0.002, 0.004, 0.040):
        costs.waited("node", seconds)
    costs.waited("agent", 0.001)
    waits = costs.take_waits()
    assert [(k, n) for k, n, _, _ in waits] == [("node", 3), ("agent", 1)]  # longest first
    assert abs(waits[0][2] - 0.0153) < 1e-3 and waits[0][3] == 0.040
    assert costs.take_waits() == []
    assert describe_waits(waits[:1]) == "node 3, 15 ms on average, 40 ms at most"


def test_the_controller_reports_the_cpu_of_each_kind_of_key_it_reconciled(
        tmp_path: Any, caplog: Any, monkeypatch: Any) -> None:
    import logging
    import re

    monkeypatch.setenv("FACADE_REPORT", "1")
    caplog.set_level(logging.INFO, logger="facade.controller")
    ctx, controller = _plane(tmp_path, FakeDataPlane())
    try:
        _instance(ctx, "first")
        reported = re.compile(r"^in the last \d+ s: .*\bnode \d+ in \d+\.\d\d s CPU")
        deadline = time.monotonic() + 5
        while not any(reported.search(r.message) for r in caplog.records) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(reported.search(r.message) for r in caplog.records), \
            [r.message for r in caplog.records]
    finally:
        controller.stop()
        ctx.engine.dispose()
