"""Who sees what of an appliance: its customer sees the endpoint and the front-end's interface
in its own subnet, never the provider's nodes; its provider sees its nodes, never the
customer's other instances; the operator sees everything."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_api_validation import ok, world  # noqa: F401 - fixture


@pytest.fixture
def docs(world: Any) -> Any:  # noqa: F811 - the fixture imported above
    ok(world.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 2}), 202)
    world.changed = True
    return world


def test_the_customer_sees_one_appliance_in_its_subnet(docs: Any) -> None:
    for app in (ok(docs.req("GET", "/v1/appliances/docs", token=docs.acme)),
                ok(docs.req("GET", "/v1/appliances", token=docs.acme))[0]):
        assert app["backends"] == [] and app["backend_count"] == 2
        assert [i["subnet"] for i in app["frontend"]["interfaces"]] == ["acme-vpc/app"]
        assert app["frontend"]["interfaces"][0]["ip"] == app["endpoint"]["ip"]
        assert app["frontend"]["management"] is None
        assert "search-vpc" not in str(app)
    for node in ("docs-fe", "docs-b1", "docs-b2"):
        assert docs.req("GET", f"/v1/instances/{node}", token=docs.acme).status_code == 404
    topo = ok(docs.req("GET", "/v1/topology", token=docs.acme))
    assert [n["name"] for n in topo["networks"]] == ["acme-vpc"]
    assert "docs-b1" not in str(topo)


def test_the_provider_sees_its_nodes_not_the_customers_instances(docs: Any) -> None:
    app = ok(docs.req("GET", "/v1/appliances/docs", token=docs.searchco))
    assert len(app["backends"]) == 2 and app["backend_count"] == 2
    assert len(app["frontend"]["interfaces"]) == 3
    assert docs.req("GET", "/v1/instances/client", token=docs.searchco).status_code == 404
    assert ok(docs.req("GET", "/v1/instances", token=docs.searchco)) == []
    assert "client" not in str(ok(docs.req("GET", "/v1/topology", token=docs.searchco)))
    node = ok(docs.req("GET", "/v1/instances/docs-b1", token=docs.searchco))
    assert node["role"] == "backend"


def test_the_operator_sees_everything(docs: Any) -> None:
    app = ok(docs.req("GET", "/v1/appliances/docs"))
    assert len(app["backends"]) == 2 and len(app["frontend"]["interfaces"]) == 3
