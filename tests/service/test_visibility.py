"""Who sees what of an appliance: its customer sees the endpoint and the front-end's interface
in its own subnet, never the provider's nodes; its provider sees its nodes, never the
customer's other instances; the operator sees everything."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.helpers import ok


@pytest.fixture
def docs(world: Any) -> Any:
    ok(world.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 2}), 202)
    world.changed = True
    return world


def test_the_customer_sees_one_appliance_in_its_subnet(docs: Any) -> None:
    for app in (ok(docs.req("GET", "/v1/appliances/docs", token=docs.acme)),
                docs.items("/v1/appliances", token=docs.acme)[0]):
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
    assert docs.items("/v1/instances", token=docs.searchco) == []
    assert "client" not in str(ok(docs.req("GET", "/v1/topology", token=docs.searchco)))
    node = ok(docs.req("GET", "/v1/instances/docs-b1", token=docs.searchco))
    assert node["role"] == "backend"


def test_the_operator_sees_everything(docs: Any) -> None:
    app = ok(docs.req("GET", "/v1/appliances/docs"))
    assert len(app["backends"]) == 2 and len(app["frontend"]["interfaces"]) == 3


def test_events_each_party_sees_its_own(world: Any) -> None:
    """The provider sees its appliance's node events, the customer its appliance's events but
    none naming the provider's nodes, a stranger nothing of either."""
    from facade.service import appliances
    from facade.store.models import Appliance

    api = world
    api.changed = True
    ok(api.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 2}), 202)
    api.ctx.converge(10)
    with api.ctx.write() as s:
        app = s.query(Appliance).filter_by(name="docs").one()
        appliances.replace_backend(api.ctx, s, app, app.nodes[1], "test")
    api.ctx.converge(10)

    def events(token: str | None) -> list[dict[str, Any]]:
        return api.items("/v1/events", params={"limit": 1000}, token=token)

    everything = events("op")
    provider = events(api.searchco)
    customer = events(api.acme)
    assert {e["kind"] for e in provider} >= {"appliance.created", "appliance.node_replaced",
                                             "service.created"}
    assert any(e["object"].startswith("fcd-i") and "-docs-b" in e["object"] for e in provider)
    assert "appliance.created" in {e["kind"] for e in customer}
    assert "appliance.node_replaced" not in {e["kind"] for e in customer}
    assert not any("docs-b" in e["object"] or "docs-b" in e["message"] for e in customer)
    assert not any(e["object"] in ("search", "search-vpc") for e in customer)
    # the appliance is the only object both see
    assert {e["object"] for e in customer} & {e["object"] for e in provider} == {"docs"}
    ok(api.req("POST", "/v1/accounts", json={"name": "eve"}), 201)
    eve = ok(api.req("POST", "/v1/accounts/eve/tokens"), 201)["token"]
    assert {e["object"] for e in events(eve)} == {"eve"}  # its account and token events
    assert len(everything) > len(provider) > 0
