"""A simulated host that stops (service/hosts_loss.py) on the fake driver: after LOST_AFTER
seconds it is `lost`, each of its backends replaced at once on a host that takes nodes, the
appliances full and ready again; when it runs again it is `ready`. The kernel test cuts a
host's link (tests/integration/test_hosts_overlay_e2e.py)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.agents import back, lose
from tests.service.helpers import eventually, ok, wait_ready


@pytest.mark.agents
def test_a_stopped_host_is_lost_its_backends_replaced_and_ready_when_it_runs_again(
        world: Any, quick_loss: None) -> None:
    world.changed = True
    for host in ("h1", "h2"):
        ok(world.req("POST", "/v1/hosts", json={"name": host, "simulated": True}), 201)
    for name, n in (("a", 3), ("b", 5)):
        ok(world.req("POST", "/v1/appliances", json={
            "name": name, "account": "acme", "service": "search", "subnet": "acme-vpc/app",
            "backends": n}), 202)
        wait_ready(world, name)
    on_h1 = {b["name"] for a in ("a", "b")
             for b in ok(world.req("GET", f"/v1/appliances/{a}"))["backends"]
             if b["host"] == "h1"}
    assert len(on_h1) == 3  # a: one, b: two
    started = time.monotonic()
    lose(world, "h1")  # on agents: its agent killed too
    eventually(lambda: ok(world.req("GET", "/v1/hosts/h1"))["state"] == "lost", 10, "h1 not lost")
    for name, n in (("a", 3), ("b", 5)):
        app = eventually(lambda name=name, n=n: (a := ok(world.req("GET", f"/v1/appliances/{name}")))
                     ["status"] == "ready" and len(a["backends"]) == n
                     and "h1" not in {b["host"] for b in a["backends"]} and a,
                     10, f"{name} not full and ready off h1")
        assert not on_h1 & {b["name"] for b in app["backends"]}
    full_s = time.monotonic() - started
    assert full_s < 10
    assert Counter(b["host"] for b in ok(world.req("GET", "/v1/appliances/b"))["backends"]) \
        .keys() <= {"local", "h2"}
    events = [e for e in world.items("/v1/events") if e["object"] in ("h1", "a", "b")]
    assert any(e["kind"] == "host.lost" for e in events)
    assert sum(1 for e in events if e["kind"] == "appliance.node_replaced"
               and "h1 is lost" in e["message"]) == 3
    ok(world.req("POST", "/v1/appliances", json={  # a host that does not run takes nothing
        "name": "c", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 3}), 202)
    wait_ready(world, "c")
    assert "h1" not in {b["host"] for b in ok(world.req("GET", "/v1/appliances/c"))["backends"]}
    back(world, "h1")
    eventually(lambda: ok(world.req("GET", "/v1/hosts/h1"))["state"] == "ready", 10,
           "h1 not ready again")
    eventually(lambda: ok(world.req("GET", "/v1/hosts/h1"))["nodes"] == 0, 10,
           "h1's old nodes not gone")
