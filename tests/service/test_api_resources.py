"""The REST resources end to end on the fake data plane: CRUD, appliance shape, scaling,
readiness and deletion, address accounting."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.helpers import eventually, ok, wait_gone, wait_ready


def subnet(api: Any, path: str) -> dict[str, Any]:
    return ok(api.req("GET", f"/v1/subnets/{path}"))


def used(api: Any, path: str) -> int:
    return subnet(api, path)["used"]


# -- accounts ------------------------------------------------------------------------------

def test_health_needs_no_token(api: Any) -> None:
    assert ok(api.req("GET", "/v1/health", token=None)) == {"status": "ok"}


def test_accounts_crud_and_tokens(api: Any) -> None:
    assert api.items("/v1/accounts") == [{"name": "operator", "operator": True}]
    assert ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201) == {
        "name": "acme", "operator": False}
    assert ok(api.req("GET", "/v1/accounts/acme")) == {"name": "acme", "operator": False}
    tok = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)
    assert tok["account"] == "acme" and tok["token"].startswith("fcd_")
    # the new token works and sees only its own account
    assert api.items("/v1/accounts", token=tok["token"]) == [
        {"name": "acme", "operator": False}]
    assert api.req("DELETE", "/v1/accounts/acme").status_code == 204
    assert api.req("GET", "/v1/accounts/acme").status_code == 404
    # its tokens died with it
    assert api.req("GET", "/v1/accounts", token=tok["token"]).status_code == 401


# -- networks and subnets ------------------------------------------------------------------

def test_networks_and_subnets_crud(api: Any) -> None:
    ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
    net = ok(api.req("POST", "/v1/networks", json={
        "name": "vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)
    assert net["name"] == "vpc" and net["account"] == "acme" and net["cidr"] == "10.0.0.0/16"
    assert [s["name"] for s in net["subnets"]] == ["vpc/app"]
    sub = ok(api.req("POST", "/v1/networks/vpc/subnets",
                     json={"name": "db", "cidr": "10.0.2.0/29"}), 201)
    assert sub == {**sub, "name": "vpc/db", "network": "vpc", "account": "acme",
                   "cidr": "10.0.2.0/29", "gateway": "10.0.2.1", "used": 0, "capacity": 5}
    assert [s["name"] for s in api.items("/v1/subnets")] == ["vpc/app", "vpc/db"]
    assert ok(api.req("GET", "/v1/subnets/vpc/app"))["capacity"] == 253
    got = ok(api.req("GET", "/v1/networks/vpc"))
    assert [s["name"] for s in got["subnets"]] == ["vpc/app", "vpc/db"]
    assert [n["name"] for n in api.items("/v1/networks")] == ["vpc"]
    assert api.req("DELETE", "/v1/subnets/vpc/db").status_code == 204
    assert api.req("GET", "/v1/subnets/vpc/db").status_code == 404
    assert api.req("DELETE", "/v1/networks/vpc").status_code == 204
    assert api.req("GET", "/v1/networks/vpc").status_code == 404
    assert api.items("/v1/subnets") == []


def test_network_kernel_objects_follow(api: Any) -> None:
    ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
    net = ok(api.req("POST", "/v1/networks", json={
        "name": "vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)
    bridge = net["subnets"][0]["bridge"]
    eventually(lambda: bridge in api.dp.subnets and net["router"] in api.dp.nodes)
    api.req("DELETE", "/v1/networks/vpc")
    eventually(lambda: bridge not in api.dp.subnets and net["router"] not in api.dp.nodes)


# -- instances -----------------------------------------------------------------------------

def test_instance_lifecycle(bare_world: Any) -> None:
    api = bare_world
    inst = ok(api.req("POST", "/v1/instances", json={
        "name": "client", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}), 201)
    assert inst["role"] == "instance" and inst["account"] == "acme"
    assert inst["status"] == "active"  # kernel ready when the answer comes
    assert inst["interfaces"] == [{"name": "eth0", "subnet": "acme-vpc/app", "ip": "10.0.1.2"}]
    assert inst["netns"] in api.dp.nodes
    assert used(api, "acme-vpc/app") == 1
    assert [i["name"] for i in api.items("/v1/instances")] == ["client"]
    assert ok(api.req("GET", "/v1/instances/client"))["interfaces"] == inst["interfaces"]
    res = ok(api.req("POST", "/v1/instances/client/exec", json={"argv": ["echo", "hi"]}))
    assert res["returncode"] == 0 and res["timed_out"] is False
    assert api.req("DELETE", "/v1/instances/client").status_code == 204
    wait_gone(api, "/v1/instances/client")
    assert inst["netns"] not in api.dp.nodes
    assert used(api, "acme-vpc/app") == 0
    assert api.items("/v1/instances") == []


def test_instance_with_requested_ip(bare_world: Any) -> None:
    api = bare_world
    inst = ok(api.req("POST", "/v1/instances", json={
        "name": "db", "account": "acme",
        "interfaces": [{"subnet": "acme-vpc/app", "ip": "10.0.1.77"}]}), 201)
    assert inst["interfaces"][0]["ip"] == "10.0.1.77"
    # the next automatic address is still the lowest free one
    other = ok(api.req("POST", "/v1/instances", json={
        "name": "web", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}), 201)
    assert other["interfaces"][0]["ip"] == "10.0.1.2"


def test_instance_with_two_interfaces_in_two_subnets(bare_world: Any) -> None:
    api = bare_world
    ok(api.req("POST", "/v1/networks/acme-vpc/subnets",
               json={"name": "data", "cidr": "10.0.2.0/24"}), 201)
    inst = ok(api.req("POST", "/v1/instances", json={
        "name": "router", "account": "acme",
        "interfaces": [{"subnet": "acme-vpc/app"}, {"subnet": "acme-vpc/data", "ip": "10.0.2.9"}]}),
        201)
    assert inst["interfaces"] == [
        {"name": "eth0", "subnet": "acme-vpc/app", "ip": "10.0.1.2"},
        {"name": "eth1", "subnet": "acme-vpc/data", "ip": "10.0.2.9"}]
    ports = api.dp.nodes[inst["netns"]].ports
    assert [(p.ifname, p.address) for p in ports] == [("eth0", "10.0.1.2/24"),
                                                      ("eth1", "10.0.2.9/24")]
    assert used(api, "acme-vpc/app") == 1 and used(api, "acme-vpc/data") == 1


def test_two_interfaces_in_one_subnet_get_distinct_addresses(bare_world: Any) -> None:
    api = bare_world
    inst = ok(api.req("POST", "/v1/instances", json={
        "name": "multi", "account": "acme",
        "interfaces": [{"subnet": "acme-vpc/app"}, {"subnet": "acme-vpc/app"}]}), 201)
    assert [i["ip"] for i in inst["interfaces"]] == ["10.0.1.2", "10.0.1.3"]


def test_account_token_creates_in_its_own_account(bare_world: Any) -> None:
    api = bare_world
    tok = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"]
    inst = ok(api.req("POST", "/v1/instances", token=tok, json={
        "name": "mine", "interfaces": [{"subnet": "acme-vpc/app"}]}), 201)
    assert inst["account"] == "acme"


# -- services ------------------------------------------------------------------------------

def test_services_crud(bare_world: Any) -> None:
    api = bare_world
    svc = ok(api.req("GET", "/v1/services/search"))
    assert svc == {"name": "search", "account": "searchco", "workload": "http-echo",
                   "command": None, "port": 80, "health_path": None,
                   "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt",
                   "upstream": None, "frontend": None, "extra_subnets": [],
                   "limits": {"memory_mb": 512, "pids": 512, "cpu_weight": 100},
                   # a built-in workload: GET /health (docs/health.md), the defaults
                   "health_check": {"type": "http", "path": "/health", "codes": "200-299",
                                    "interval": 1.0, "timeout": 0.5, "rise": 1, "fall": 2},
                   "billing_model": "provider-bills",  # no prices: all free
                   "prices": {"currency": "USD", "node_hour": {"frontend": "0", "backend": "0"},
                              "per_gb": "0", "per_connection": "0", "per_1000_requests": "0"},
                   "tenancy": "shared"}
    ok(api.req("POST", "/v1/services", json={
        "name": "echo", "account": "searchco", "command": "prog --ip {ip} --port {port}",
        "port": 9000, "backend_subnet": "search-vpc/backend",
        "management_subnet": "search-vpc/mgmt", "health_path": "/ping"}), 201)
    assert [s["name"] for s in api.items("/v1/services")] == ["search", "echo"]
    # services are offers: every account sees them
    tok = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"]
    assert [s["name"] for s in api.items("/v1/services", token=tok)] == [
        "search", "echo"]
    assert api.req("DELETE", "/v1/services/echo").status_code == 204
    assert api.req("GET", "/v1/services/echo").status_code == 404


# -- appliances ----------------------------------------------------------------------------

def create_docs(api: Any, backends: int = 3, name: str = "docs") -> dict[str, Any]:
    app = ok(api.req("POST", "/v1/appliances", json={
        "name": name, "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": backends}), 202)
    return app


def test_appliance_shape_and_ready(bare_world: Any) -> None:
    api = bare_world
    app = create_docs(api)
    assert app["status"] == "provisioning"
    assert app["name"] == "docs" and app["account"] == "acme" and app["service"] == "search"
    assert app["provider"] == "searchco" and app["subnet"] == "acme-vpc/app"
    assert app["desired_backends"] == 3
    assert app["endpoint"] == {"ip": "10.0.1.2", "port": 80}
    app = wait_ready(api, "docs")
    fe = app["frontend"]
    assert fe["role"] == "frontend" and fe["appliance"] == "docs" and fe["status"] == "active"
    assert fe["netns"].startswith("fcd-i") and fe["netns"] in api.dp.nodes
    assert [i["subnet"] for i in fe["interfaces"]] == [
        "acme-vpc/app", "search-vpc/backend", "search-vpc/mgmt"]
    assert [i["name"] for i in fe["interfaces"]] == ["eth0", "eth1", "eth2"]
    assert fe["interfaces"][0]["ip"] == app["endpoint"]["ip"]
    assert len(app["backends"]) == 3
    for b in app["backends"]:
        assert b["role"] == "backend" and b["status"] == "active" and b["appliance"] == "docs"
        assert b["netns"] in api.dp.nodes
        assert [i["subnet"] for i in b["interfaces"]] == ["search-vpc/backend",
                                                          "search-vpc/mgmt"]
    ips = [b["interfaces"][0]["ip"] for b in app["backends"]]
    assert len(set(ips)) == 3
    assert api.dp.backends[fe["netns"]] == tuple(sorted(ips))
    assert [a["name"] for a in api.items("/v1/appliances")] == ["docs"]
    # appliance nodes are not customer instances
    assert api.items("/v1/instances") == []
    # the provider sees the appliance too
    tok = ok(api.req("POST", "/v1/accounts/searchco/tokens"), 201)["token"]
    assert ok(api.req("GET", "/v1/appliances/docs", token=tok))["name"] == "docs"


@pytest.mark.parametrize("backends", [1, 3, 7])
def test_customer_subnet_gives_exactly_one_address(bare_world: Any, backends: int) -> None:
    api = bare_world
    create_docs(api, backends)
    assert used(api, "acme-vpc/app") == 1
    assert used(api, "search-vpc/backend") == backends + 1
    assert used(api, "search-vpc/mgmt") == backends + 1


def test_scale_keeps_endpoint_and_customer_address(bare_world: Any) -> None:
    api = bare_world
    app = create_docs(api, 3)
    endpoint = app["endpoint"]
    wait_ready(api, "docs")
    for n in (5, 1):
        scaled = ok(api.req("PATCH", "/v1/appliances/docs", json={"backends": n}), 202)
        assert scaled["desired_backends"] == n
        assert scaled["endpoint"] == endpoint

        def settled(n: int = n) -> dict[str, Any] | None:
            a = ok(api.req("GET", "/v1/appliances/docs"))
            return a if a["status"] == "ready" and len(a["backends"]) == n else None
        got = eventually(settled)
        assert got["endpoint"] == endpoint
        assert used(api, "acme-vpc/app") == 1
        assert used(api, "search-vpc/backend") == n + 1
        ips = sorted(b["interfaces"][0]["ip"] for b in got["backends"])
        assert api.dp.backends[got["frontend"]["netns"]] == tuple(ips)
        assert sum(1 for ns in api.dp.nodes if "-docs-b" in ns) == n
    # the survivor is the oldest backend
    assert [b["name"] for b in got["backends"]] == ["docs-b1"]


def test_scale_down_then_up_reuses_addresses(bare_world: Any) -> None:
    api = bare_world
    create_docs(api, 3)
    wait_ready(api, "docs")
    ok(api.req("PATCH", "/v1/appliances/docs", json={"backends": 1}), 202)
    eventually(lambda: len(ok(api.req("GET", "/v1/appliances/docs"))["backends"]) == 1)
    ok(api.req("PATCH", "/v1/appliances/docs", json={"backends": 2}), 202)
    app = eventually(lambda: (lambda a: a if a["status"] == "ready"
                              and len(a["backends"]) == 2 else None)(
        ok(api.req("GET", "/v1/appliances/docs"))))
    # b2 and b3 were gone before the scale-up, so the name and lowest address come back
    assert [b["name"] for b in app["backends"]] == ["docs-b1", "docs-b2"]
    assert used(api, "search-vpc/backend") == 3


def test_scale_up_while_backends_still_leaving_never_reuses_a_name(
        bare_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    api = bare_world
    create_docs(api, 3)
    wait_ready(api, "docs")
    # hold the controller so both requests land before the shrink is carried out
    with api.ctx.kicker.held():
        ok(api.req("PATCH", "/v1/appliances/docs", json={"backends": 1}), 202)
        grown = ok(api.req("PATCH", "/v1/appliances/docs", json={"backends": 3}), 202)
    names = [b["name"] for b in grown["backends"]]
    assert len(names) == len(set(names)) == 5
    app = eventually(lambda: (lambda a: a if a["status"] == "ready"
                              and len(a["backends"]) == 3 else None)(
        ok(api.req("GET", "/v1/appliances/docs"))))
    assert [b["name"] for b in app["backends"]] == ["docs-b1", "docs-b4", "docs-b5"]
    assert used(api, "search-vpc/backend") == 4


def test_delete_appliance_frees_everything(bare_world: Any) -> None:
    api = bare_world
    app = wait_ready(api, create_docs(api)["name"])
    netns = [app["frontend"]["netns"], *(b["netns"] for b in app["backends"])]
    gone = api.req("DELETE", "/v1/appliances/docs")
    assert gone.status_code == 202
    assert gone.json()["status"] == "deleting"
    wait_gone(api, "/v1/appliances/docs")
    assert api.items("/v1/appliances") == []
    for path in ("acme-vpc/app", "search-vpc/backend", "search-vpc/mgmt"):
        assert used(api, path) == 0
    assert not set(netns) & set(api.dp.nodes)
    # the workloads went with their nodes; the management network's agent stops once it
    # serves nothing, with the other changes of its next SETTLE seconds (controller/runtime.py)
    assert not {k for k in api.dp.processes if not k.startswith("agent-")}
    eventually(lambda: not api.dp.processes or None)
    # now the service, subnets and networks can go
    assert api.req("DELETE", "/v1/services/search").status_code == 204
    assert api.req("DELETE", "/v1/networks/search-vpc").status_code == 204
    assert api.req("DELETE", "/v1/networks/acme-vpc").status_code == 204
    assert api.req("DELETE", "/v1/accounts/acme").status_code == 204
    eventually(lambda: not api.dp.nodes and not api.dp.subnets)


def test_topology_and_events(bare_world: Any) -> None:
    api = bare_world
    create_docs(api, 2)
    wait_ready(api, "docs")
    topo = ok(api.req("GET", "/v1/topology"))
    nets = {n["name"]: n for n in topo["networks"]}
    app_nodes = nets["acme-vpc"]["subnets"][0]["nodes"]
    assert [(n["name"], n["role"], n["ip"]) for n in app_nodes] == [
        ("docs-fe", "frontend", "10.0.1.2")]
    kinds = [e["kind"] for e in api.items("/v1/events?limit=1000")]
    assert "appliance.created" in kinds and "appliance.ready" in kinds
