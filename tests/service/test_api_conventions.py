"""The API's conventions a generic client relies on: `Location` on every 201 and 202 that made
or changed an object with an address of its own, naming where it is read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.service.helpers import build_world, ok, running_api


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_api(tmp_path_factory.mktemp("conventions")) as api:
        build_world(api)
        api.changed = True
        yield api


@pytest.mark.parametrize(("path", "body", "where"), [
    ("/v1/accounts", {"name": "zed"}, "/v1/accounts/zed"),
    ("/v1/networks", {"name": "zed-vpc", "account": "acme", "cidr": "10.9.0.0/16"},
     "/v1/networks/zed-vpc"),
    ("/v1/networks/zed-vpc/subnets", {"name": "web", "cidr": "10.9.1.0/24"},
     "/v1/subnets/zed-vpc/web"),
    ("/v1/instances", {"name": "box", "account": "acme",
                       "interfaces": [{"subnet": "acme-vpc/app"}]}, "/v1/instances/box"),
    ("/v1/services", {"name": "echo2", "account": "searchco", "workload": "http-echo",
                      "port": 8080, "backend_subnet": "search-vpc/backend",
                      "management_subnet": "search-vpc/mgmt"}, "/v1/services/echo2"),
    ("/v1/load-balancers", {"name": "lb9", "account": "searchco",
                            "management_subnet": "search-vpc/mgmt"}, "/v1/load-balancers/lb9"),
    ("/v1/externals", {"name": "laptop", "account": "acme"}, "/v1/externals/laptop"),
    ("/v1/sites", {"name": "hq", "account": "acme", "cidr": "192.168.0.0/16"},
     "/v1/sites/hq"),
    ("/v1/vpns", {"name": "link", "network": "acme-vpc", "site": "hq"}, "/v1/vpns/link"),
])
def test_a_201_says_where_the_new_object_is(world: Any, path: str, body: dict[str, Any],
                                            where: str) -> None:
    resp = world.req("POST", path, json=body)
    ok(resp, 201)
    assert resp.headers["location"] == where
    assert ok(world.req("GET", where))["name"].endswith(body["name"])  # a subnet: NETWORK/NAME


def test_a_public_address_is_found_where_its_answer_says(world: Any) -> None:
    """The address is the pool's to choose: the Location names the one chosen."""
    resp = world.req("POST", "/v1/public-ips", json={"account": "acme"})
    address = ok(resp, 201)["address"]
    assert resp.headers["location"] == f"/v1/public-ips/{address}"
    assert ok(world.req("GET", resp.headers["location"]))["address"] == address


def test_an_appliance_is_followed_through_its_202s(world: Any) -> None:
    """Made, scaled and deleted: each 202 names the appliance, whose status tells how far the
    change has come; once gone, the same address answers 404."""
    resp = world.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1})
    ok(resp, 202)
    assert resp.headers["location"] == "/v1/appliances/docs"
    scaled = world.req("PATCH", "/v1/appliances/docs", json={"backends": 2})
    ok(scaled, 202)
    assert scaled.headers["location"] == "/v1/appliances/docs"
    assert ok(world.req("GET", "/v1/appliances/docs"))["name"] == "docs"
    gone = world.req("DELETE", "/v1/appliances/docs")
    ok(gone, 202)
    assert gone.headers["location"] == "/v1/appliances/docs"


def test_what_has_no_address_of_its_own_gets_no_location(world: Any) -> None:
    """A token (shown once, never read back) and a grant (listed with its subnet's) are not
    objects to be read at an address: no Location, rather than a wrong one."""
    resp = world.req("POST", "/v1/accounts/acme/tokens")
    ok(resp, 201)
    assert "location" not in resp.headers
    resp = world.req("POST", "/v1/subnets/acme-vpc/app/grants", json={"account": "searchco"})
    ok(resp, 201)
    assert "location" not in resp.headers
