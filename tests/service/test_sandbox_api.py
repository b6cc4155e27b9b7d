"""Sandbox settings through the API, the CLI's body and scenario files: limits per instance and
per service (checked, stored, shown, changed while running), `exec` outside the sandbox for
the operator only, and the sandbox the desired state asks for every tenant node (the rules:
tests/unit/test_sandbox.py)."""

from __future__ import annotations

from typing import Any

from facade.domain import sandbox
from facade.service import desired
from tests.service.helpers import err, ok
from tests.unit.test_sandbox import SCENARIO

DEFAULT = {"memory_mb": 512, "pids": 512, "cpu_weight": 100}


def test_an_instance_takes_limits_and_shows_them(world: Any) -> None:
    api = world
    api.changed = True
    got = ok(api.req("POST", "/v1/instances", json={
        "name": "small", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}],
        "limits": {"memory_mb": 64, "pids": 32}}), 201)
    assert got["limits"] == {"memory_mb": 64, "pids": 32, "cpu_weight": 100}
    assert ok(api.req("GET", "/v1/instances/client"))["limits"] == DEFAULT
    # changed while it runs; null resets one to the default
    ok(api.req("PUT", "/v1/instances/small/limits", json={"cpu_weight": 500, "pids": None}))
    shown = ok(api.req("GET", "/v1/instances/small"))["limits"]
    assert shown == {"memory_mb": 64, "pids": 512, "cpu_weight": 500}
    # the desired state carries them to the node's sandbox
    with api.ctx.read() as session:
        from facade.service import desired

        nodes = {n.netns: n for n in desired.build(session, api.ctx.home).state.nodes}
    box = next(n.sandbox for n in nodes.values() if n.netns.endswith("-small"))
    assert box is not None and (box.memory, box.pids, box.cpu_weight) == (64 << 20, 512, 500)


def test_bad_limits_are_refused_where_they_are_wrong(world: Any) -> None:
    api = world
    body = {"name": "small", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}
    err(api.req("POST", "/v1/instances", json={**body, "limits": {"memory_mb": 1}}), 400,
        "memory_mb", "16 to 65536", where="limits.memory_mb")
    err(api.req("POST", "/v1/instances", json={**body, "limits": {"pids": "many"}}), 422)
    err(api.req("POST", "/v1/instances", json={**body, "limits": {"swap": 1}}), 422)
    err(api.req("PUT", "/v1/instances/client/limits", json={"cpu_weight": 0}), 400,
        "cpu_weight", where="limits.cpu_weight")
    err(api.req("PUT", "/v1/services/search/limits", json={"pids": 10**6}), 400, "pids")
    err(api.req("PUT", "/v1/instances/nobody/limits", json={"pids": 64}), 404)
    # a node of an appliance takes its service's limits
    ok(api.req("POST", "/v1/appliances", json={"name": "docs", "account": "acme",
                                               "service": "search", "subnet": "acme-vpc/app",
                                               "backends": 1}), 202)
    api.changed = True
    app = ok(api.req("GET", "/v1/appliances/docs"))
    err(api.req("PUT", f"/v1/instances/{app['backends'][0]['name']}/limits",
                json={"pids": 64}), 400, "service limits")


def test_a_service_s_limits_are_its_backends(world: Any) -> None:
    api = world
    api.changed = True
    ok(api.req("POST", "/v1/appliances", json={"name": "docs", "account": "acme",
                                               "service": "search", "subnet": "acme-vpc/app",
                                               "backends": 1}), 202)
    # only its provider changes them (the offer itself is public)
    err(api.req("PUT", "/v1/services/search/limits", token=api.acme, json={"pids": 64}), 403,
        "provider")
    got = ok(api.req("PUT", "/v1/services/search/limits", token=api.searchco,
                     json={"memory_mb": 128}))
    assert got == {"memory_mb": 128, "pids": 512, "cpu_weight": 100}
    app = ok(api.req("GET", "/v1/appliances/docs"))
    assert app["backends"][0]["limits"]["memory_mb"] == 128
    assert app["frontend"]["limits"] == {"memory_mb": 128, "pids": 128, "cpu_weight": 100}
    assert ok(api.req("GET", "/v1/services/search"))["limits"]["memory_mb"] == 128


def test_only_the_operator_runs_outside_the_sandbox(world: Any) -> None:
    api = world
    err(api.req("POST", "/v1/instances/client/exec", token=api.acme,
                json={"argv": ["id"], "host": True}), 403, "operator", where="host")
    assert not any(c.startswith("exec ") for c in api.dp.calls)
    ok(api.req("POST", "/v1/instances/client/exec", token=api.acme, json={"argv": ["id"]}))
    ok(api.req("POST", "/v1/instances/client/exec", json={"argv": ["id"], "host": True}))
    execs = [c for c in api.dp.calls if c.startswith("exec ")]
    assert [c.split()[2] for c in execs] == ["sandbox", "host"]


def test_applying_a_file_sets_limits_and_re_applying_changes_them(api: Any) -> None:
    def apply(text: str) -> Any:
        return ok(api.req("POST", "/v1/apply", json={"yaml": text, "filename": "s.yaml"}))

    apply(SCENARIO)
    assert ok(api.req("GET", "/v1/instances/client"))["limits"] == {
        "memory_mb": 512, "pids": 64, "cpu_weight": 200}
    assert ok(api.req("GET", "/v1/services/echo"))["limits"]["memory_mb"] == 96
    again = apply(SCENARIO)
    assert all(c["action"] == "unchanged" for c in again["changes"]), again
    changed = apply(SCENARIO.replace("pids: 64", "pids: 128").replace("    limits: {memory_mb: "
                                                                      "96}\n", ""))
    actions = {(c["kind"], c["name"]): c["action"] for c in changed["changes"]}
    assert actions[("instance", "client")] == "updated"
    assert actions[("service", "echo")] == "updated"
    assert ok(api.req("GET", "/v1/instances/client"))["limits"]["pids"] == 128
    assert ok(api.req("GET", "/v1/services/echo"))["limits"] == DEFAULT


def test_every_tenant_node_gets_a_sandbox_and_workloads_run_in_it(
        world: Any) -> None:
    api = world
    ok(api.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 2}), 202)
    api.changed = True
    with api.ctx.read() as session:
        want = desired.build(session, api.ctx.home).state
    accounts = {a["name"]: a for a in api.items("/v1/accounts")}
    assert accounts
    by_role: dict[str, list[object]] = {}
    for node in want.nodes:
        by_role.setdefault(node.role, []).append(node)
    assert all(n.sandbox is None for n in by_role["router"])
    (client,) = by_role["instance"]
    (fe,) = by_role["frontend"]
    backends = by_role["backend"]
    assert client.sandbox.own_network and client.sandbox.hostname == "client"
    assert not fe.sandbox.own_network
    assert fe.sandbox.memory == sandbox.FRONTEND_LIMITS.memory
    uids = {n.sandbox.uid for n in backends}
    assert len(uids) == 1 and uids != {client.sandbox.uid}
    assert fe.sandbox.uid in uids
    for b in backends:
        (bind,) = b.sandbox.binds
        assert bind[1] == desired.APPLIANCE_INSIDE and bind[0].endswith("/appliances/1")
    assert len(want.processes) == 3  # two workloads and the management agent
    for proc in want.processes:
        assert proc.sandboxed == ("facade.workloads.agent" not in proc.argv)
        if proc.sandboxed:
            assert f"{desired.APPLIANCE_INSIDE}/peers.json" not in proc.argv  # http-echo
            assert not any(str(api.ctx.home) in a for a in proc.argv)
