"""Authorization, route by route: every API route is tried without a token and with the token
of a third tenant who owns nothing involved. Without a token: 401. With the stranger's token:
another tenant's objects do not exist for it (404; 403 where it names an account it may not act
for), lists hide them, and nothing changes. Every route of the OpenAPI document must be in the
matrix below, so a new route cannot skip this test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.service.helpers import build_world, ok, running_api, snapshot

# (method, path template, concrete path, body) -> statuses the stranger may get
MATRIX: list[tuple[str, str, str, dict[str, Any] | None, set[int]]] = [
    ("GET", "/v1/accounts", "/v1/accounts", None, {200}),
    ("POST", "/v1/accounts", "/v1/accounts", {"name": "x1"}, {403}),
    ("GET", "/v1/accounts/{name}", "/v1/accounts/acme", None, {404}),
    ("DELETE", "/v1/accounts/{name}", "/v1/accounts/acme", None, {403, 404}),
    ("POST", "/v1/accounts/{name}/tokens", "/v1/accounts/acme/tokens", None, {404}),
    ("POST", "/v1/accounts/{name}/tokens/rotate", "/v1/accounts/acme/tokens/rotate", None,
     {404}),
    ("GET", "/v1/accounts/{name}/quotas", "/v1/accounts/acme/quotas", None, {404}),
    ("PUT", "/v1/accounts/{name}/quotas", "/v1/accounts/acme/quotas", {"networks": 0}, {404}),
    ("GET", "/v1/networks", "/v1/networks", None, {200}),
    ("POST", "/v1/networks", "/v1/networks",
     {"name": "x2", "account": "acme", "cidr": "10.9.0.0/16"}, {403}),
    ("GET", "/v1/networks/{name}", "/v1/networks/acme-vpc", None, {404}),
    ("DELETE", "/v1/networks/{name}", "/v1/networks/acme-vpc", None, {404}),
    ("POST", "/v1/networks/{network}/subnets", "/v1/networks/acme-vpc/subnets",
     {"name": "x3", "cidr": "10.0.50.0/24"}, {404}),
    ("GET", "/v1/subnets", "/v1/subnets", None, {200}),
    ("GET", "/v1/subnets/{network}/{subnet}", "/v1/subnets/acme-vpc/app", None, {404}),
    ("DELETE", "/v1/subnets/{network}/{subnet}", "/v1/subnets/acme-vpc/tiny", None, {404}),
    ("GET", "/v1/instances", "/v1/instances", None, {200}),
    ("POST", "/v1/instances", "/v1/instances",
     {"name": "x4", "interfaces": [{"subnet": "acme-vpc/app"}]}, {404}),
    ("GET", "/v1/instances/{name}", "/v1/instances/client", None, {404}),
    ("DELETE", "/v1/instances/{name}", "/v1/instances/client", None, {404}),
    ("POST", "/v1/instances/{name}/exec", "/v1/instances/client/exec", {"argv": ["true"]},
     {404}),
    ("GET", "/v1/services", "/v1/services", None, {200}),  # offers are public
    ("POST", "/v1/services", "/v1/services",
     {"name": "x5", "workload": "http-echo", "port": 80, "backend_subnet": "search-vpc/backend",
      "management_subnet": "search-vpc/mgmt"}, {404}),
    ("GET", "/v1/services/{name}", "/v1/services/search", None, {200}),
    ("DELETE", "/v1/services/{name}", "/v1/services/search", None, {404}),
    ("GET", "/v1/services/{name}/autoscale", "/v1/services/search/autoscale", None, {200}),
    ("PUT", "/v1/services/{name}/autoscale", "/v1/services/search/autoscale",
     {"min": 1, "max": 2, "metric": "requests", "target": 5}, {403}),
    ("DELETE", "/v1/services/{name}/autoscale", "/v1/services/search/autoscale", None, {403}),
    ("PUT", "/v1/services/{name}/limits", "/v1/services/search/limits", {"pids": 64}, {403}),
    ("PUT", "/v1/services/{name}/health_check", "/v1/services/search/health_check",
     {"fall": 3}, {403}),
    ("PUT", "/v1/instances/{name}/limits", "/v1/instances/client/limits", {"pids": 64},
     {404}),
    ("GET", "/v1/appliances", "/v1/appliances", None, {200}),
    ("POST", "/v1/appliances", "/v1/appliances",
     {"name": "x6", "service": "search", "subnet": "acme-vpc/app"}, {404}),
    ("GET", "/v1/appliances/{name}", "/v1/appliances/docs", None, {404}),
    ("PATCH", "/v1/appliances/{name}", "/v1/appliances/docs", {"backends": 1}, {404}),
    ("DELETE", "/v1/appliances/{name}", "/v1/appliances/docs", None, {404}),
    ("GET", "/v1/subnets/{network}/{subnet}/rules", "/v1/subnets/acme-vpc/app/rules", None,
     {404}),
    ("POST", "/v1/subnets/{network}/{subnet}/rules", "/v1/subnets/acme-vpc/app/rules",
     {"direction": "ingress", "action": "deny", "priority": 1}, {404}),
    ("DELETE", "/v1/subnets/{network}/{subnet}/rules/{priority}",
     "/v1/subnets/acme-vpc/app/rules/1?direction=ingress", None, {404}),
    ("GET", "/v1/instances/{name}/interfaces/{ifname}/rules",
     "/v1/instances/client/interfaces/eth0/rules", None, {404}),
    ("POST", "/v1/instances/{name}/interfaces/{ifname}/rules",
     "/v1/instances/client/interfaces/eth0/rules",
     {"direction": "ingress", "action": "deny", "priority": 1}, {404}),
    ("DELETE", "/v1/instances/{name}/interfaces/{ifname}/rules/{priority}",
     "/v1/instances/client/interfaces/eth0/rules/1?direction=ingress", None, {404}),
    ("GET", "/v1/topology", "/v1/topology", None, {200}),
    ("GET", "/v1/events", "/v1/events", None, {200}),
    ("GET", "/v1/usage", "/v1/usage?by=node", None, {200}),  # lists only its own usage
    ("GET", "/v1/usage/public-ips", "/v1/usage/public-ips", None, {200}),  # its own only
    ("GET", "/v1/usage/channels", "/v1/usage/channels", None, {200}),  # its own only
    ("GET", "/metrics", "/metrics", None, {200}),
    ("POST", "/v1/apply", "/v1/apply",
     {"yaml": "appliances: [{name: x7, account: acme, service: search, "
              "subnet: acme-vpc/app}]"}, {403}),
    ("POST", "/v1/destroy", "/v1/destroy",
     {"yaml": "networks: [{name: acme-vpc, account: acme, cidr: 10.0.0.0/16}]"}, {403, 404}),
]
MATRIX += [  # billing (docs/billing.md): prices are public, the rest the operator's or the account's
    ("GET", "/v1/prices", "/v1/prices", None, {200}),
    ("PUT", "/v1/prices", "/v1/prices", {"node_hour": {"backend": "1"}}, {403}),
    ("PUT", "/v1/prices/edge", "/v1/prices/edge", {"public_ip_hour": "1"}, {403}),
    ("GET", "/v1/accounts/{name}/frontend-prices", "/v1/accounts/acme/frontend-prices", None,
     {404}),
    ("PUT", "/v1/accounts/{name}/frontend-prices", "/v1/accounts/acme/frontend-prices",
     {"node_hour": "1"}, {404}),
    ("GET", "/v1/accounts/{name}/invoice", "/v1/accounts/acme/invoice?period=2025-06", None,
     {404}),
    ("POST", "/v1/billing/runs", "/v1/billing/runs", {"period": "2025-06"}, {403}),
    ("GET", "/v1/billing/ledger", "/v1/billing/ledger?period=2025-06", None, {403}),
]
MATRIX += [  # subnet grants (docs/composition.md): a stranger's grant requests meet the 404
    ("POST", "/v1/subnets/{network}/{subnet}/grants", "/v1/subnets/acme-vpc/app/grants",
     {"account": "eve"}, {404}),
    ("GET", "/v1/subnets/{network}/{subnet}/grants", "/v1/subnets/acme-vpc/app/grants", None,
     {404}),
    ("DELETE", "/v1/subnets/{network}/{subnet}/grants/{account}",
     "/v1/subnets/acme-vpc/app/grants/eve", None, {404}),
]
MATRIX += [  # load-balancer offers (docs/composition.md): public offers; a stranger cannot
    # place one in a subnet it cannot see, nor withdraw one it does not own
    ("GET", "/v1/load-balancers", "/v1/load-balancers", None, {200}),
    ("POST", "/v1/load-balancers", "/v1/load-balancers",
     {"name": "lb1", "management_subnet": "search-vpc/mgmt"}, {404}),
    ("GET", "/v1/load-balancers/{name}", "/v1/load-balancers/lb", None, {404}),
    ("DELETE", "/v1/load-balancers/{name}", "/v1/load-balancers/lb", None, {404}),
]
MATRIX += [  # the edge (docs/edge.md): a stranger's addresses and hosts meet the 404; pools
    # are the operator's
    ("PATCH", "/v1/networks/{name}", "/v1/networks/acme-vpc", {"public_gateway": True},
     {404}),
    ("PATCH", "/v1/subnets/{network}/{subnet}", "/v1/subnets/acme-vpc/app", {"internet": False},
     {404}),
    ("GET", "/v1/public-ips", "/v1/public-ips", None, {200}),
    ("POST", "/v1/public-ips", "/v1/public-ips", {"account": "acme"}, {403}),
    ("GET", "/v1/public-ips/{address}", "/v1/public-ips/203.0.113.1", None, {404}),
    ("POST", "/v1/public-ips/{address}/associate", "/v1/public-ips/203.0.113.1/associate",
     {"instance": "client"}, {404}),
    ("POST", "/v1/public-ips/{address}/disassociate",
     "/v1/public-ips/203.0.113.1/disassociate", None, {404}),
    ("DELETE", "/v1/public-ips/{address}", "/v1/public-ips/203.0.113.1", None, {404}),
    ("GET", "/v1/ip-pools", "/v1/ip-pools", None, {403}),
    ("POST", "/v1/ip-pools", "/v1/ip-pools", {"cidr": "198.51.100.0/24"}, {403}),
    ("GET", "/v1/externals", "/v1/externals", None, {200}),
    ("POST", "/v1/externals", "/v1/externals", {"name": "x8", "account": "acme"}, {403}),
    ("GET", "/v1/externals/{name}", "/v1/externals/acme-laptop", None, {404}),
    ("DELETE", "/v1/externals/{name}", "/v1/externals/acme-laptop", None, {404}),
    # customer sites and channels: another account's are the same 404 as none
    ("GET", "/v1/sites", "/v1/sites", None, {200}),
    ("POST", "/v1/sites", "/v1/sites", {"name": "x9", "account": "acme",
                                        "cidr": "172.16.0.0/16"}, {403}),
    ("GET", "/v1/sites/{name}", "/v1/sites/acme-hq", None, {404}),
    ("DELETE", "/v1/sites/{name}", "/v1/sites/acme-hq", None, {404}),
    ("POST", "/v1/sites/{name}/hosts", "/v1/sites/acme-hq/hosts", {"name": "x10"}, {404}),
    ("DELETE", "/v1/sites/{name}/hosts/{host}", "/v1/sites/acme-hq/hosts/acme-desk", None,
     {404}),
    ("GET", "/v1/vpns", "/v1/vpns", None, {200}),
    ("POST", "/v1/vpns", "/v1/vpns", {"name": "x11", "network": "acme-vpc",
                                      "site": "acme-hq"}, {404}),
    ("GET", "/v1/vpns/{name}", "/v1/vpns/acme-link", None, {404}),
    ("DELETE", "/v1/vpns/{name}", "/v1/vpns/acme-link", None, {404}),
    # hosts are the operator's (docs/api.md, "Hosts")
    ("GET", "/v1/hosts", "/v1/hosts", None, {403}),
    ("POST", "/v1/hosts", "/v1/hosts", {"name": "h9", "simulated": True}, {403}),
    ("GET", "/v1/hosts/{name}", "/v1/hosts/local", None, {403}),
    ("POST", "/v1/hosts/{name}/drain", "/v1/hosts/local/drain", None, {403}),
    ("POST", "/v1/hosts/{name}/resume", "/v1/hosts/local/resume", None, {403}),
    ("DELETE", "/v1/hosts/{name}", "/v1/hosts/local", None, {403}),
    ("POST", "/v1/hosts/{name}/tokens", "/v1/hosts/h9/tokens", None, {403}),
    ("DELETE", "/v1/hosts/{name}/tokens", "/v1/hosts/h9/tokens", None, {403}),
    # a host agent's routes take its host's token only: an account's is unknown there
    ("POST", "/v1/host-agent/register", "/v1/host-agent/register",
     {"agent": "agent-0001", "underlay": "10.9.0.1"}, {401}),
    ("POST", "/v1/host-agent/heartbeat", "/v1/host-agent/heartbeat", {"agent": "agent-0001"},
     {401}),
    ("GET", "/v1/host-agent/work", "/v1/host-agent/work?agent=agent-0001&wait=0", None, {401}),
    ("POST", "/v1/host-agent/results", "/v1/host-agent/results",
     {"agent": "agent-0001", "results": []}, {401}),
]
OPEN = {("GET", "/v1/health")}


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One world for the whole matrix (each case asserts that it changed nothing, so they can
    share it): building one per case was most of this module's time."""
    with running_api(tmp_path_factory.mktemp("authz")) as world:
        yield _populate(world)


def _populate(world: Any) -> Any:
    build_world(world)
    ok(world.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 2}), 202)
    assert ok(world.req("POST", "/v1/public-ips", json={"account": "acme"}), 201)["address"] \
        == "203.0.113.1"
    ok(world.req("POST", "/v1/externals", json={"name": "acme-laptop", "account": "acme"}), 201)
    ok(world.req("POST", "/v1/sites", json={"name": "acme-hq", "account": "acme",
                                            "cidr": "192.168.0.0/16"}), 201)
    ok(world.req("POST", "/v1/sites/acme-hq/hosts", json={"name": "acme-desk"}), 201)
    ok(world.req("POST", "/v1/vpns", json={"name": "acme-link", "network": "acme-vpc",
                                           "site": "acme-hq"}), 201)
    ok(world.req("POST", "/v1/accounts", json={"name": "eve"}), 201)
    ok(world.req("POST", "/v1/networks", json={
        "name": "eve-vpc", "account": "eve", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)
    world.eve = ok(world.req("POST", "/v1/accounts/eve/tokens"), 201)["token"]
    world.changed = True  # this module's world grows on purpose; it checks its own snapshots
    return world


def test_every_route_is_in_the_matrix(stranger: Any) -> None:
    spec = stranger.client.get("/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    covered = {(m, t) for m, t, _, _, _ in MATRIX} | OPEN
    assert routes == covered, f"add to MATRIX: {sorted(routes - covered)}"


@pytest.mark.parametrize(("method", "template", "path", "body", "allowed"), MATRIX,
                         ids=[f"{m} {t}" for m, t, _, _, _ in MATRIX])
def test_no_token_is_401(stranger: Any, method: str, template: str, path: str,
                         body: dict[str, Any] | None, allowed: set[int]) -> None:
    resp = stranger.req(method, path, token=None, json=body)
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "template", "path", "body", "allowed"), MATRIX,
                         ids=[f"{m} {t}" for m, t, _, _, _ in MATRIX])
def test_a_stranger_sees_and_touches_nothing(stranger: Any, method: str, template: str,
                                             path: str, body: dict[str, Any] | None,
                                             allowed: set[int]) -> None:
    before = snapshot(stranger)
    resp = stranger.req(method, path, token=stranger.eve, json=body)
    assert resp.status_code in allowed, (resp.status_code, resp.text)
    assert snapshot(stranger) == before
    if resp.status_code == 200 and method == "GET":
        text = resp.text
        for foreign in ("acme-vpc", "search-vpc", "client", "docs"):
            if template in ("/v1/services", "/v1/services/{name}"):
                continue  # offers name their provider's subnets on purpose
            assert foreign not in text, (foreign, text)
