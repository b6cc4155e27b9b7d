"""Every bad request is refused with the right status and a clear error, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.service.helpers import appliance_body, err, ok, service_body, snapshot

# -- subnets and addresses -----------------------------------------------------------------

@pytest.mark.parametrize("cidr", ["10.0.1.0/24", "10.0.1.128/25", "10.0.0.0/20"])
def test_overlapping_subnet_is_409(world: Any, cidr: str) -> None:
    e = err(world.req("POST", "/v1/networks/acme-vpc/subnets",
                      json={"name": "other", "cidr": cidr}), 409, "overlaps", "app",
            code="conflict")
    assert e["where"]


def test_overlapping_subnets_in_one_new_network_are_409(world: Any) -> None:
    err(world.req("POST", "/v1/networks", json={
        "name": "vpc2", "account": "acme", "cidr": "172.16.0.0/16",
        "subnets": [{"name": "a", "cidr": "172.16.1.0/24"},
                    {"name": "b", "cidr": "172.16.1.0/25"}]}), 409, "overlaps",
        where="subnets[1]")


def test_subnet_outside_network_is_400(world: Any) -> None:
    err(world.req("POST", "/v1/networks/acme-vpc/subnets",
                  json={"name": "far", "cidr": "10.1.0.0/24"}), 400, "outside", "10.0.0.0/16")
    err(world.req("POST", "/v1/networks", json={
        "name": "vpc2", "account": "acme", "cidr": "172.16.0.0/16",
        "subnets": [{"name": "a", "cidr": "172.17.1.0/24"}]}), 400, "outside",
        where="subnets[0]")


@pytest.mark.parametrize(("cidr", "words"), [
    ("10.0.3.7/24", "host bits"), ("not-a-cidr", "not an IPv4 CIDR"), ("10.0.3.0/30", "/30")])
def test_bad_subnet_cidr_is_400(world: Any, cidr: str, words: str) -> None:
    err(world.req("POST", "/v1/networks/acme-vpc/subnets",
                  json={"name": "bad", "cidr": cidr}), 400, words, where="cidr")


@pytest.mark.parametrize(("cidr", "words"), [
    ("10.0.0.0/7", "/7"), ("10.0.0.5/16", "host bits"), ("x", "not an IPv4 CIDR")])
def test_bad_network_cidr_is_400(world: Any, cidr: str, words: str) -> None:
    err(world.req("POST", "/v1/networks", json={"name": "vpc2", "account": "acme",
                                                  "cidr": cidr}), 400, words, where="cidr")


@pytest.mark.parametrize(("ip", "status", "words"), [
    ("10.0.2.5", 400, "outside"), ("10.0.1.1", 400, "gateway"), ("10.0.1.0", 400, "reserved"),
    ("10.0.1.255", 400, "reserved"), ("10.0.1.2", 409, "already taken"),
    ("10.0.1.x", 400, "not an IPv4 address")])
def test_bad_requested_address(world: Any, ip: str, status: int, words: str) -> None:
    err(world.req("POST", "/v1/instances", json={
        "name": "db", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app", "ip": ip}]}),
        status, words, where="interfaces[0]")


def test_same_address_twice_in_one_request_is_409(world: Any) -> None:
    err(world.req("POST", "/v1/instances", json={
        "name": "db", "account": "acme", "interfaces": [
            {"subnet": "acme-vpc/app", "ip": "10.0.1.50"},
            {"subnet": "acme-vpc/app", "ip": "10.0.1.50"}]}), 409, "already taken",
        where="interfaces[1]")


def test_full_subnet_is_exhausted(world: Any) -> None:
    api = world
    for i in range(5):
        ok(api.req("POST", "/v1/instances", json={
            "name": f"t{i}", "account": "acme", "interfaces": [{"subnet": "acme-vpc/tiny"}]}),
            201)
    sub = ok(api.req("GET", "/v1/subnets/acme-vpc/tiny"))
    assert (sub["used"], sub["capacity"]) == (5, 5)
    before = snapshot(api)
    err(api.req("POST", "/v1/instances", json={
        "name": "t5", "account": "acme", "interfaces": [{"subnet": "acme-vpc/tiny"}]}),
        409, "acme-vpc/tiny", "10.0.9.0/29", "5", "full", code="exhausted")
    # an appliance whose endpoint would need the full subnet: refused, and no backend was kept
    err(api.req("POST", "/v1/appliances", json=appliance_body(subnet="acme-vpc/tiny")),
        409, "acme-vpc/tiny", "5", code="exhausted")
    assert snapshot(api) == before
    api.changed = True


def test_exhausted_backend_subnet_rolls_back_the_whole_appliance(api: Any) -> None:
    for name in ("acme", "searchco"):
        ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "search-vpc", "account": "searchco", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "backend", "cidr": "10.0.1.0/29"},
                    {"name": "mgmt", "cidr": "10.0.200.0/24"}]}), 201)
    ok(api.req("POST", "/v1/services", json={
        "name": "search", "account": "searchco", "workload": "http-echo", "port": 80,
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}), 201)
    before = snapshot(api)
    # front-end + 5 backends need 6 addresses in a /29 with 5
    err(api.req("POST", "/v1/appliances", json=appliance_body(backends=5)), 409,
        "search-vpc/backend", "5", code="exhausted")
    assert snapshot(api) == before
    ok(api.req("POST", "/v1/appliances", json=appliance_body(backends=4)), 202)
    # scaling past the backend subnet is refused too, and changes nothing
    before = snapshot(api)
    err(api.req("PATCH", "/v1/appliances/docs", json={"backends": 5}), 409,
        "search-vpc/backend", code="exhausted")
    assert snapshot(api) == before
    assert ok(api.req("GET", "/v1/appliances/docs"))["desired_backends"] == 4


# -- references ----------------------------------------------------------------------------

def test_unknown_service_is_404(world: Any) -> None:
    err(world.req("POST", "/v1/appliances", json=appliance_body(service="nope")), 404,
        "nope", where="service")


@pytest.mark.parametrize("path", ["acme-vpc/nope", "nope/app"])
def test_unknown_subnet_is_404(world: Any, path: str) -> None:
    err(world.req("POST", "/v1/appliances", json=appliance_body(subnet=path)), 404, path,
        where="subnet")
    err(world.req("POST", "/v1/instances", json={
        "name": "x", "account": "acme", "interfaces": [{"subnet": path}]}), 404, path,
        where="interfaces[0]")
    err(world.req("POST", "/v1/services", json=service_body(backend_subnet=path)), 404, path,
        where="backend_subnet")


@pytest.mark.parametrize("path", ["acme-vpc", "a/b/c/d", ""])
def test_badly_written_subnet_is_400(world: Any, path: str) -> None:
    err(world.req("POST", "/v1/instances", json={
        "name": "x", "account": "acme", "interfaces": [{"subnet": path}]}), 400,
        "NETWORK/SUBNET", where="interfaces[0]")


def test_unknown_objects_are_404(world: Any) -> None:
    for path in ("/v1/accounts/nope", "/v1/networks/nope", "/v1/subnets/acme-vpc/nope",
                 "/v1/instances/nope", "/v1/services/nope", "/v1/appliances/nope"):
        err(world.req("GET", path), 404, "nope")
        if not path.startswith("/v1/subnets"):
            err(world.req("DELETE", path), 404, "nope")
    err(world.req("DELETE", "/v1/subnets/acme-vpc/nope"), 404, "nope")
    err(world.req("PATCH", "/v1/appliances/nope", json={"backends": 2}), 404, "nope")
    err(world.req("POST", "/v1/networks/nope/subnets", json={"name": "a", "cidr": "10.0.0.0/24"}),
        404, "nope")
    err(world.req("POST", "/v1/networks", json={"name": "n", "account": "nope",
                                                  "cidr": "10.0.0.0/16"}), 404, "nope")


# -- names ---------------------------------------------------------------------------------

def test_names_used_twice_are_409(world: Any) -> None:
    api = world
    err(api.req("POST", "/v1/accounts", json={"name": "acme"}), 409, "acme", "already exists",
        where="name")
    err(api.req("POST", "/v1/networks", json={"name": "acme-vpc", "account": "acme",
                                                "cidr": "172.16.0.0/16"}), 409, "acme-vpc",
        "already exists", where="name")
    # names are unique per account only (docs/api.md, "Names"): another account may take it
    api.changed = True
    ok(api.req("POST", "/v1/networks", json={"name": "acme-vpc", "account": "searchco",
                                               "cidr": "172.16.0.0/16"}), 201)
    # the operator now says whose acme-vpc (a bare name two accounts have is a 400)
    err(api.req("POST", "/v1/networks/acme-vpc/subnets", json={"name": "app",
                                                               "cidr": "10.0.50.0/24"}),
        400, "ambiguous", "acme/acme-vpc", "searchco/acme-vpc", where="network")
    err(api.req("POST", "/v1/networks/acme-vpc/subnets?account=acme",
                json={"name": "app", "cidr": "10.0.50.0/24"}),
        409, "acme-vpc/app", "already exists", where="name")
    err(api.req("POST", "/v1/instances", json={
        "name": "client", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}),
        409, "client", "already exists", where="name")
    err(api.req("POST", "/v1/services", json=service_body(name="search")), 409, "search",
        "already exists", where="name")


def test_appliance_name_used_twice_is_409(world: Any) -> None:
    api = world
    ok(api.req("POST", "/v1/appliances", json=appliance_body()), 202)
    before = snapshot(api)
    err(api.req("POST", "/v1/appliances", json=appliance_body()), 409, "docs",
        "already exists", where="name")
    # an instance may not take a name an appliance node will use
    err(api.req("POST", "/v1/instances", json={
        "name": "docs-fe", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}),
        409, "docs-fe")
    assert snapshot(api) == before
    api.changed = True


def test_appliance_whose_node_name_is_taken_is_409(world: Any) -> None:
    api = world
    ok(api.req("POST", "/v1/instances", json={
        "name": "web-b2", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}), 201)
    before = snapshot(api)
    err(api.req("POST", "/v1/appliances", json=appliance_body(name="web")), 409, "web-b2")
    assert snapshot(api) == before
    api.changed = True


@pytest.mark.parametrize("name", ["Acme", "1x", "a_b", "x-", "abc\n", ""])
def test_bad_names_are_400(world: Any, name: str) -> None:
    api = world
    err(api.req("POST", "/v1/accounts", json={"name": name}), 400, "name", where="name")
    err(api.req("POST", "/v1/networks", json={"name": name, "account": "acme",
                                                "cidr": "172.16.0.0/16"}), 400, where="name")
    err(api.req("POST", "/v1/networks/acme-vpc/subnets",
                json={"name": name, "cidr": "10.0.50.0/24"}), 400, "subnet name", where="name")
    err(api.req("POST", "/v1/instances", json={
        "name": name, "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}), 400,
        where="name")
    err(api.req("POST", "/v1/services", json=service_body(name=name)), 400, where="name")
    err(api.req("POST", "/v1/appliances", json=appliance_body(name=name)), 400, where="name")


def test_name_over_40_is_422(world: Any) -> None:
    err(world.req("POST", "/v1/accounts", json={"name": "a" * 41}), 422, where="name")


# -- permissions ---------------------------------------------------------------------------

def test_operator_cannot_put_acme_instance_in_searchco_subnet(world: Any) -> None:
    err(world.req("POST", "/v1/instances", json={
        "name": "x", "account": "acme", "interfaces": [{"subnet": "search-vpc/backend"}]}),
        403, "searchco", "acme", where="interfaces[0]", code="forbidden")
    err(world.req("POST", "/v1/appliances", json=appliance_body(subnet="search-vpc/backend")),
        403, "searchco", where="subnet")
    err(world.req("POST", "/v1/services", json=service_body(account="acme")), 403,
        "searchco", where="backend_subnet")


def test_acme_token_on_searchco_subnet_is_404(world: Any) -> None:
    api = world
    err(api.req("POST", "/v1/instances", token=api.acme, json={
        "name": "x", "interfaces": [{"subnet": "search-vpc/backend"}]}), 404,
        "search-vpc/backend", where="interfaces[0]")
    err(api.req("POST", "/v1/appliances", token=api.acme,
                json=appliance_body(account=None, subnet="search-vpc/backend")), 404,
        "search-vpc/backend")
    err(api.req("POST", "/v1/networks/search-vpc/subnets", token=api.acme,
                json={"name": "mine", "cidr": "10.0.50.0/24"}), 404, "search-vpc")


def test_unknown_fields_are_422_naming_them(world: Any) -> None:
    api = world
    err(api.req("POST", "/v1/accounts", json={"name": "x", "colour": "red"}), 422,
        where="colour")
    err(api.req("POST", "/v1/appliances", json={**appliance_body(), "backend": 3}), 422,
        where="backend")
    err(api.req("POST", "/v1/instances", json={
        "name": "x", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app",
                                                       "address": "10.0.1.9"}]}),
        422, where="interfaces.0.address")
    err(api.req("PATCH", "/v1/appliances/x", json={"backends": 2, "size": 1}), 422,
        where="size")


def test_missing_fields_and_wrong_types_are_422(world: Any) -> None:
    api = world
    err(api.req("POST", "/v1/networks", json={"name": "x"}), 422, where="cidr")
    err(api.req("POST", "/v1/appliances", json=appliance_body(backends="many")), 422,
        where="backends")
    err(api.req("POST", "/v1/instances", json=[1, 2]), 422)


def test_missing_token_is_401(world: Any) -> None:
    for method, path in (("GET", "/v1/accounts"), ("GET", "/v1/networks"),
                         ("POST", "/v1/accounts"), ("GET", "/v1/appliances/x"),
                         ("GET", "/v1/events"), ("POST", "/v1/apply")):
        err(world.req(method, path, token=None, json={"name": "x"}), 401, "token",
            code="unauthorized")


def test_bad_token_is_401(world: Any) -> None:
    err(world.req("GET", "/v1/accounts", token="fcd_nope"), 401, "unknown token")
    err(world.req("POST", "/v1/accounts", token="fcd_nope", json={"name": "x"}), 401)
    resp = world.client.get("/v1/accounts", headers={"Authorization": world.token})
    err(resp, 401)  # no "Bearer" scheme


def test_account_token_cannot_act_for_another_account(world: Any) -> None:
    api = world
    err(api.req("POST", "/v1/networks", token=api.acme, json={
        "name": "evil", "account": "searchco", "cidr": "172.16.0.0/16"}), 403, "acme",
        "searchco", where="account", code="forbidden")
    err(api.req("POST", "/v1/instances", token=api.acme, json={
        "name": "evil", "account": "searchco", "interfaces": [{"subnet": "search-vpc/mgmt"}]}),
        403, "searchco")
    err(api.req("POST", "/v1/appliances", token=api.acme,
                json=appliance_body(account="searchco")), 403, "searchco")
    err(api.req("POST", "/v1/services", token=api.acme, json=service_body()), 403, "searchco")
    err(api.req("POST", "/v1/accounts", token=api.acme, json={"name": "evil"}), 403,
        "operator")
    err(api.req("DELETE", "/v1/accounts/acme", token=api.acme), 403, "operator")


def test_account_token_cannot_see_other_tenants(world: Any) -> None:
    api = world
    for path in ("/v1/accounts/searchco", "/v1/networks/search-vpc",
                 "/v1/subnets/search-vpc/backend"):
        err(api.req("GET", path, token=api.acme), 404)
    err(api.req("GET", "/v1/instances/client", token=api.searchco), 404, "client")
    err(api.req("DELETE", "/v1/instances/client", token=api.searchco), 404, "client")
    err(api.req("POST", "/v1/instances/client/exec", token=api.searchco,
                json={"argv": ["true"]}), 404, "client")
    err(api.req("DELETE", "/v1/networks/search-vpc", token=api.acme), 404)
    err(api.req("DELETE", "/v1/subnets/search-vpc/mgmt", token=api.acme), 404)
    err(api.req("POST", "/v1/accounts/searchco/tokens", token=api.acme), 404)
    assert [a["name"] for a in api.items("/v1/accounts", token=api.acme)] == ["acme"]
    assert [n["name"] for n in api.items("/v1/networks", token=api.acme)] == [
        "acme-vpc"]
    assert {s["network"] for s in api.items("/v1/subnets", token=api.acme)} == {
        "acme-vpc"}
    assert api.items("/v1/instances", token=api.searchco) == []
    topo = ok(api.req("GET", "/v1/topology", token=api.acme))
    assert [n["name"] for n in topo["networks"]] == ["acme-vpc"]
    # its own events only: nothing about searchco's network, service or nodes
    objects = {e["object"] for e in api.items("/v1/events", token=api.acme)}
    assert "acme" in objects and not objects & {"searchco", "search-vpc", "search"}
    assert not any(o.startswith("search-vpc") for o in objects)


def test_other_customer_cannot_see_or_delete_an_appliance(world: Any) -> None:
    api = world
    ok(api.req("POST", "/v1/appliances", json=appliance_body()), 202)
    ok(api.req("POST", "/v1/accounts", json={"name": "third"}), 201)
    third = ok(api.req("POST", "/v1/accounts/third/tokens"), 201)["token"]
    before = snapshot(api)
    err(api.req("GET", "/v1/appliances/docs", token=third), 404, "docs")
    err(api.req("DELETE", "/v1/appliances/docs", token=third), 404, "docs")
    err(api.req("PATCH", "/v1/appliances/docs", token=third, json={"backends": 3}), 404)
    assert api.items("/v1/appliances", token=third) == []
    # the provider sees it but may not delete its customer's appliance
    err(api.req("DELETE", "/v1/appliances/docs", token=api.searchco), 403, "docs")
    # appliance nodes are deleted through their appliance only
    err(api.req("DELETE", "/v1/instances/docs-fe"), 400, "appliance")
    assert snapshot(api) == before
    api.changed = True


# -- in use --------------------------------------------------------------------------------

def test_deleting_what_is_in_use_is_409_naming_the_user(world: Any) -> None:
    api = world
    ok(api.req("POST", "/v1/appliances", json=appliance_body()), 202)
    before = snapshot(api)
    err(api.req("DELETE", "/v1/subnets/acme-vpc/app"), 409, "client", code="in_use")
    err(api.req("DELETE", "/v1/subnets/search-vpc/mgmt"), 409, "search", code="in_use")
    err(api.req("DELETE", "/v1/networks/acme-vpc"), 409, "client", code="in_use")
    err(api.req("DELETE", "/v1/networks/search-vpc"), 409, "service search", code="in_use")
    err(api.req("DELETE", "/v1/services/search"), 409, "docs", code="in_use")
    err(api.req("DELETE", "/v1/accounts/acme"), 409, "acme-vpc", code="in_use")
    err(api.req("DELETE", "/v1/accounts/searchco"), 409, "search-vpc", code="in_use")
    err(api.req("DELETE", "/v1/accounts/operator"), 403, "operator")
    assert snapshot(api) == before
    api.changed = True


def test_subnet_used_only_by_an_appliance_is_in_use(world: Any) -> None:
    api = world
    ok(api.req("POST", "/v1/networks/acme-vpc/subnets",
               json={"name": "apps", "cidr": "10.0.60.0/24"}), 201)
    ok(api.req("POST", "/v1/appliances", json=appliance_body(subnet="acme-vpc/apps")), 202)
    err(api.req("DELETE", "/v1/subnets/acme-vpc/apps"), 409, "docs", code="in_use")
    api.changed = True


# -- bodies --------------------------------------------------------------------------------

def test_body_over_2mib_is_413(world: Any) -> None:
    body = json.dumps({"name": "x" * (2 * 1024 * 1024 + 10)})
    resp = world.client.post("/v1/accounts", content=body,
                             headers={**world.as_(world.token),
                                      "Content-Type": "application/json"})
    err(resp, 413, "2097152")


def test_malformed_json_is_422(world: Any) -> None:
    resp = world.client.post("/v1/accounts", content=b'{"name": "x",',
                             headers={**world.as_(world.token),
                                      "Content-Type": "application/json"})
    err(resp, 422)


def test_backends_out_of_range_are_400(world: Any) -> None:
    api = world
    for n in (0, 65, -1):
        err(api.req("POST", "/v1/appliances", json=appliance_body(backends=n)), 400,
            str(n), "1-64", where="backends")
    ok(api.req("POST", "/v1/appliances", json=appliance_body()), 202)
    before = snapshot(api)
    for n in (0, 65):
        err(api.req("PATCH", "/v1/appliances/docs", json={"backends": n}), 400, "1-64",
            where="backends")
    assert snapshot(api) == before
    api.changed = True


@pytest.mark.parametrize("port", [0, 70000, -1])
def test_port_out_of_range_is_400(world: Any, port: int) -> None:
    err(world.req("POST", "/v1/services", json=service_body(port=port)), 400, str(port),
        "1-65535", where="port")


def test_unknown_workload_is_400(world: Any) -> None:
    err(world.req("POST", "/v1/services", json=service_body(workload="nginx")), 400, "nginx",
        "unknown workload", where="workload")


def test_workload_and_command_exclusive(world: Any) -> None:
    err(world.req("POST", "/v1/services", json=service_body(command="prog {port}")), 400,
        "exactly one", where="workload")
    err(world.req("POST", "/v1/services", json=service_body(workload=...)), 400,
        "exactly one", where="workload")


@pytest.mark.parametrize(("command", "words"), [
    ("prog {host}", "unknown placeholder {host}"), ("prog 'open", "cannot be split"),
    ("prog {ip", "bad placeholder")])
def test_bad_command_is_400(world: Any, command: str, words: str) -> None:
    err(world.req("POST", "/v1/services", json=service_body(workload=..., command=command)),
        400, words, where="command")


def test_backend_and_management_subnets_must_differ(world: Any) -> None:
    err(world.req("POST", "/v1/services",
                  json=service_body(management_subnet="search-vpc/backend")), 400,
        "different", where="management_subnet")


def test_bad_health_path_is_400(world: Any) -> None:
    err(world.req("POST", "/v1/services", json=service_body(health_path="health")), 400,
        "starting with '/'", where="health_path")


def test_bad_exec_is_400(world: Any) -> None:
    api = world
    err(api.req("POST", "/v1/instances/client/exec", json={"argv": [""]}), 400, "argv",
        where="argv")
    err(api.req("POST", "/v1/instances/client/exec", json={"argv": ["true"], "timeout": 0}),
        400, "timeout", where="timeout")
    err(api.req("POST", "/v1/instances/client/exec", json={"argv": []}), 422, where="argv")


def test_instance_interface_count_rules(world: Any) -> None:
    err(world.req("POST", "/v1/instances", json={"name": "x", "account": "acme",
                                                   "interfaces": []}), 400, "at least one",
        where="interfaces")
    err(world.req("POST", "/v1/instances", json={
        "name": "x", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}] * 9}), 422,
        where="interfaces")


def test_bad_event_limit_is_422(world: Any) -> None:
    err(world.req("GET", "/v1/events?limit=0"), 422, where="limit")


def test_unknown_route_and_method(world: Any) -> None:
    err(world.req("GET", "/v1/nothing"), 404)
    resp = world.req("PUT", "/v1/accounts")
    assert resp.status_code == 405
    assert set(resp.json()["error"]) == {"code", "message", "where"}
