"""The controller running on the fake driver: what a write hands it (service/changes.py), its
reconcilers (a failure retried or reported, orphans removed by the resync, a backend's health
change moving its rotation, readiness waiting for the agents) and its report (the work queue
alone: tests/unit/test_controller.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from facade.controller import Controller
from facade.dataplane.errors import DataPlaneError, fatal
from facade.dataplane.fake import FakeDataPlane
from facade.domain import keys
from facade.domain.keys import Key
from facade.domain.specs import NodeSpec, PortSpec, ProcessSpec, SubnetSpec
from facade.service.context import Context
from tests.service.helpers import ok
from tests.stores import open_context

A, B = keys.node(1), keys.node(2)


# -- what a write hands over -----------------------------------------------------------------------


def test_a_write_hands_over_the_keys_of_what_it_touched(world: Any) -> None:
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

    def ensure_node(self, spec: NodeSpec,
                        start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        if spec.netns.endswith(self.fatal_name) and self.fatal_name:
            raise fatal(f"{spec.netns}: cannot be made")
        if self.fails > 0 and spec.role == "instance":
            self.fails -= 1
            raise DataPlaneError(f"{spec.netns}: not now")
        return super().ensure_node(spec, start)


def _plane(tmp_path: Any, dp: FakeDataPlane) -> tuple[Context, Controller]:
    from facade.service import accounts

    ctx = open_context(tmp_path / "home", dp)
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


OVERLAY = ("fcd-h-h1", "fcd-h-edge-2", "fcd-rr", "fcd-substrate", "fcd-n-a1")


def test_the_resync_keeps_the_namespaces_of_the_overlay(tmp_path: Any) -> None:
    """Simulated hosts, the route reflector, the substrate and the substrate's own nodes are
    Facade's namespaces no row explains (docs/multi-host.md): never orphans, while a stray
    node beside them still goes."""
    dp = FakeDataPlane()
    ctx, controller = _plane(tmp_path, dp)
    try:
        _instance(ctx, "first")
        dp.ensure_subnet(SubnetSpec("fcdb99", "10.9.9.0/24"))
        for netns in OVERLAY:
            dp.ensure_node(NodeSpec(netns, "router", ()))
        stray = NodeSpec("fcd-i77-stray", "instance",
                         (PortSpec("fcdv77", "fcdb99", "eth0", "10.9.9.2/24"),))
        dp.ensure_node(stray)
        queued = controller.all_keys()
        assert Key("orphan-netns", stray.netns) in queued
        assert [k for k in queued if k.kind == "orphan-netns" and k.ident in OVERLAY] == []
        controller.touch(queued)
        # an orphan key of an overlay namespace (queued by anyone) removes nothing either
        ticket = controller.touch([Key("orphan-netns", "fcd-h-h1"),
                                   Key("orphan-netns", "fcd-rr")])
        assert controller.wait(ticket, 5)
        deadline = time.monotonic() + 5
        while stray.netns in dp.nodes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stray.netns not in dp.nodes  # the resync ran ...
        assert all(netns in dp.nodes for netns in OVERLAY)  # ... and kept every one
        assert not [c for c in dp.calls if c.startswith("delete_node fcd-") and
                    c.split()[1] in OVERLAY]
    finally:
        controller.stop()
        ctx.engine.dispose()


def test_a_backend_that_fails_its_check_leaves_the_rotation_and_comes_back(
        world: Any) -> None:
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
    gone = threading.Event()
    start = api.dp.start_process

    def after_it_left(spec: ProcessSpec) -> int:
        # a reconcile of the node that happens to run now (a resync) would restart the
        # workload before a check could see it fail: this test is about the checks
        if spec.key == key:
            gone.wait(10)
        return start(spec)

    api.dp.start_process = after_it_left
    spec, _pid = api.dp.processes.pop(key)  # the workload dies: the fake stops answering

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
        world: Any, monkeypatch: Any) -> None:
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


# -- the agent's entries -----------------------------------------------------------------------


def _entries(folder: Any) -> set[str]:
    """The node entries an agent's folder holds (not a `.tmp` file an atomic write is making)."""
    import os
    return {n for n in (os.listdir(folder) if folder.exists() else []) if n.endswith(".json")}


def test_an_agents_leftover_entries_are_pruned_once_a_minute_not_at_every_creation(
        tmp_path: Any) -> None:
    """An entry of a node that no longer exists (left by a crash between the node's deletion
    and its entry's) goes at the agent's next prune: at its first pass, then once a minute
    (controller/agents.py), not at every creation, which would read the whole roll each time."""
    import os

    from facade.domain import agent_layout as layout
    from facade.service import accounts, appliances, catalog, management, networks
    from facade.service.context import Caller

    ctx, controller = _plane(tmp_path, FakeDataPlane())
    try:
        op = Caller(account_id=1, account="operator", operator=True)
        for name in ("acme", "searchco"):
            accounts.create(ctx, op, name)
        networks.create_network(ctx, op, "acme-vpc", "acme", "10.0.0.0/16",
                                [{"name": "app", "cidr": "10.0.1.0/24"}])
        networks.create_network(ctx, op, "s-vpc", "searchco", "10.1.0.0/16",
                                [{"name": "backend", "cidr": "10.1.1.0/24"},
                                 {"name": "mgmt", "cidr": "10.1.200.0/24"}])
        catalog.create(ctx, op, name="search", account="searchco", workload_name="http-echo",
                       command=None, port=80, backend_subnet="s-vpc/backend",
                       management_subnet="s-vpc/mgmt")
        appliances.create(ctx, op, name="a0", account="acme", service="search",
                          subnet="acme-vpc/app", backends=1)
        folder = management.config_dir(ctx.home, 2) / layout.NODES
        deadline = time.monotonic() + 5
        while len(_entries(folder)) < 2:
            assert time.monotonic() < deadline, "the nodes' entries were not written"
            time.sleep(0.01)
        live = _entries(folder)
        stray = folder / layout.node_file("fcd-i999-gone")
        stray.write_text("{}")
        old = time.time() - 10
        os.utime(stray, (old, old))
        appliances.create(ctx, op, name="a1", account="acme", service="search",
                          subnet="acme-vpc/app", backends=1)
        deadline = time.monotonic() + 5
        while len(_entries(folder)) < 5:  # a1's two entries beside a0's and the stray one
            assert time.monotonic() < deadline, sorted(_entries(folder))
            time.sleep(0.01)
        time.sleep(0.2)  # a1's agent key handled by now: no prune, not due
        assert stray.exists()
        with controller.rt.lock:
            controller.rt.pruned.clear()  # a minute later, as far as the agent is concerned
        controller.touch([keys.agent(2)])
        deadline = time.monotonic() + 5
        while stray.exists():
            assert time.monotonic() < deadline, "the leftover entry was not pruned"
            time.sleep(0.01)
        assert live < _entries(folder)  # the live nodes' entries stay
    finally:
        controller.stop()
        ctx.engine.dispose()
