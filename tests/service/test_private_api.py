"""The private API endpoint on the fake driver (docs/multi-host.md, "The private API endpoint"):
the operator offers workload control-plane-api, no one else may; a customer's appliance of it
runs, in each backend, the relay to the API's unix socket in the state folder, outside the
sandbox and in the backend's namespace; its endpoint takes no public address; the YAML file
says the same, at its line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from facade.domain.states import NodeRole
from tests.service.helpers import err, ok, snapshot, wait_ready

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "private-api.yaml").read_text()


def _platform(api: Any) -> None:
    """The operator's own account `platform` with the subnets its offer needs."""
    ok(api.req("POST", "/v1/accounts", json={"name": "platform"}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "platform-vpc", "account": "platform", "cidr": "10.9.0.0/16",
        "subnets": [{"name": "backend", "cidr": "10.9.1.0/24"},
                    {"name": "mgmt", "cidr": "10.9.200.0/24"}]}), 201)


def _offer(api: Any, token: str | None = "op", account: str = "platform") -> Any:
    return api.req("POST", "/v1/services", token=token, json={
        "name": "control-plane-api", "account": account, "workload": "control-plane-api",
        "port": 8470, "backend_subnet": "platform-vpc/backend",
        "management_subnet": "platform-vpc/mgmt"})


def test_the_operator_offers_it_and_a_customer_gets_the_relay(world: Any) -> None:
    world.changed = True
    _platform(world)
    svc = ok(_offer(world), 201)
    assert svc["workload"] == "control-plane-api"
    assert svc["health_check"]["path"] == "/v1/health"  # the API's, answered without a token
    ok(world.req("POST", "/v1/appliances", token=world.acme, json={
        "name": "api", "service": "control-plane-api", "subnet": "acme-vpc/app",
        "backends": 2}), 202)
    app = wait_ready(world, "api")
    assert app["endpoint"] == {"ip": app["frontend"]["interfaces"][0]["ip"], "port": 8470}
    home = world.ctx.home
    procs = [spec for key, (spec, _) in world.dp.processes.items() if key.startswith("wl")]
    assert len(procs) == 2  # the workloads (the management agent is the other process)
    netns = {spec.netns for spec in procs}
    assert netns == {n for n in world.dp.nodes if "-api-b" in n}  # each in its backend
    for spec in procs:
        assert not spec.sandboxed  # the operator's own program, like the management agent
        assert spec.argv[:3] == (sys.executable, "-m", "facade.workloads.api_relay")
        assert spec.argv[spec.argv.index("--api-socket") + 1] == str(home / "api.sock")
        assert spec.argv[spec.argv.index("--port") + 1] == "8470"
    # the backends' node specs are those of any backend (their sandbox too: nothing changes
    # for the node, only where its one program runs)
    backends = [world.dp.nodes[n] for n in netns]
    assert all(b.role == NodeRole.BACKEND and b.sandbox is not None for b in backends)


def test_only_the_operator_offers_it(world: Any) -> None:
    before = snapshot(world)
    err(_offer(world, token=world.searchco, account="searchco"), 403, "operator",
        code="forbidden", where="workload")
    assert snapshot(world) == before


def test_its_endpoint_takes_no_public_address(world: Any) -> None:
    world.changed = True
    _platform(world)
    ok(_offer(world), 201)
    ok(world.req("POST", "/v1/appliances", token=world.acme, json={
        "name": "api", "service": "control-plane-api", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    wait_ready(world, "api")
    ok(world.req("PATCH", "/v1/networks/acme-vpc", json={"public_gateway": True}))
    address = ok(world.req("POST", "/v1/public-ips", json={"account": "acme"}), 201)["address"]
    e = err(world.req("POST", f"/v1/public-ips/{address}/associate", token=world.acme,
                      json={"appliance": "api"}), 409, "private endpoint", "no public address",
            where="appliance")
    assert "api" in e["message"]
    got = ok(world.req("GET", f"/v1/public-ips/{address}", token=world.acme))
    assert got["associated"] is None
    # an instance of the same subnet still takes one: only the API's endpoint is refused
    ok(world.req("POST", f"/v1/public-ips/{address}/associate", token=world.acme,
                 json={"instance": "client"}))


def test_the_example_file_applies_and_a_tenant_file_is_refused_at_its_line(api: Any) -> None:
    out = ok(api.req("POST", "/v1/apply", json={"yaml": EXAMPLE, "filename": "p.yaml"}))
    assert out["appliances"] == ["acme/api"]
    wait_ready(api, "api")
    ok(api.req("POST", "/v1/accounts", json={"name": "mallory"}), 201)
    tok = ok(api.req("POST", "/v1/accounts/mallory/tokens"), 201)["token"]
    mine = """\
networks:
  - {name: m-vpc, account: mallory, cidr: 10.0.0.0/16,
     subnets: [{name: b, cidr: 10.0.1.0/24}, {name: m, cidr: 10.0.2.0/24}]}
services:
  - {name: my-api, account: mallory, workload: control-plane-api, port: 80,
     backend_subnet: m-vpc/b, management_subnet: m-vpc/m}
"""
    e = err(api.req("POST", "/v1/apply", token=tok, json={"yaml": mine, "filename": "m.yaml"}),
            403, "operator", code="forbidden")
    assert e["where"].startswith("m.yaml:5"), e  # the service's line
    assert [s["name"] for s in api.items("/v1/services")] == ["control-plane-api"]
    assert ok(api.req("GET", "/v1/networks", token=tok))["items"] == []  # nothing applied
