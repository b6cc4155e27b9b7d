"""Metering through the API: an appliance metered by the controller through its agent's hub
(and node by node through an older agent), what /v1/usage and /metrics show to whom, and bad
queries (the counters and the records: tests/unit/test_metering.py)."""

from __future__ import annotations

from typing import Any

import pytest

from facade.domain.metering import from_ms
from facade.service import desired, metering
from facade.store.models import UsageRecord
from tests import prom
from tests.service.helpers import appliance_body, eventually, ok, wait_gone, wait_ready

HOUR = 3_600_000
T0 = 1_795_000_000_000 - 1_795_000_000_000 % HOUR  # an hour boundary in 2026


# --- recording -----------------------------------------------------------------------------


def _node(iid: int, role: str, ip: str, name: str | None = None) -> metering.MeteredNode:
    return metering.MeteredNode(
        instance_id=iid, name=name or f"docs-{role[0]}{iid}", netns=f"fcd-i{iid}-x", role=role,
        ip=ip, appliance_id=1, appliance="docs", customer="acme", provider="searchco",
        owner="searchco", service="search", agent=None, mgmt_ip=None)




def _bytes_in(api: Any) -> int:
    rows = api.items("/v1/usage?appliance=docs")
    return int(rows[0]["bytes_in"]) if rows else 0


def test_an_appliance_metered_through_its_agents_hub(world: Any) -> None:
    """On the fake data plane, whose agents answer as the real one does: the controller's
    metering reads the agent's hub (one request for every node), an agent started by an
    older release node by node, and the last reading of a node being deleted counts what it
    counted up to then."""
    api = world
    api.changed = True
    ok(api.req("POST", "/v1/appliances", token=api.acme, json=appliance_body(backends=1)), 202)
    wait_ready(api, "docs")
    dp = api.ctx.dataplane
    with api.ctx.read() as session:
        nodes = {n.role: n for n in desired.metered_nodes(session)}
    fe, backend = nodes["frontend"], nodes["backend"]
    asked: list[str] = []
    real = dp.http_request

    def counted(netns: str, ip: str, port: int, path: str = "/", **kw: Any) -> Any:
        if path.startswith("/v1/counters"):
            asked.append(ip)
        return real(netns, ip, port, path, **kw)

    dp.http_request = counted
    dp.meters.traffic[fe.netns] = {backend.ip: [1000, 2000, 3]}
    dp.meters.requests[backend.netns] = 5
    eventually(lambda: _bytes_in(api) == 1000)
    (row,) = api.items("/v1/usage?appliance=docs")
    assert (row["bytes_out"], row["connections"], row["requests"]) == (2000, 3, 5)
    assert set(asked) == {"127.0.0.1"}  # the hub only: no question per node
    # an agent of an older release (no hub): node by node, nothing lost
    assert backend.agent is not None
    dp.meters.old.add(backend.agent.key)
    asked.clear()
    dp.meters.traffic[fe.netns][backend.ip][0] = 1500
    eventually(lambda: _bytes_in(api) == 1500)
    assert {fe.mgmt_ip, backend.mgmt_ip} <= set(asked)
    # counted right before the deletion: billed (the last reading before the nodes go)
    dp.meters.old.clear()
    dp.meters.traffic[fe.netns][backend.ip][0] = 1800
    ok(api.req("DELETE", "/v1/appliances/docs", token=api.acme), 202)
    wait_gone(api, "/v1/appliances/docs")
    assert _bytes_in(api) == 1800


# --- API -----------------------------------------------------------------------------------


def _seed(api: Any) -> None:
    """Usage of acme's appliance `docs` of searchco's service, as metering would write it."""
    with api.ctx.write() as s:
        for node, role, metric, q in (("docs-fe", "frontend", "node_ms", 7_200_000),
                                      ("docs-b1", "backend", "node_ms", 3_600_500),
                                      ("docs-b1", "backend", "bytes_in", 12_345),
                                      ("docs-b1", "backend", "bytes_out", 99_999),
                                      ("docs-b1", "backend", "connections", 4),
                                      ("docs-b1", "backend", "requests", 9)):
            s.add(UsageRecord(hour=T0 // HOUR, customer="acme", provider="searchco",
                              owner="searchco", service="search", appliance_id=1,
                              appliance="docs", node=node, role=role, metric=metric,
                              quantity=q))
    api.changed = True


def test_usage_api_per_party(world: Any) -> None:
    api = world
    _seed(api)
    (row,) = api.items("/v1/usage", token=api.acme)
    assert row == {"appliance": "docs", "customer": "acme", "provider": "searchco",
                   "service": "search", "frontend_node_seconds": "7200.000",
                   "backend_node_seconds": "3600.500", "bytes_in": 12_345, "bytes_out": 99_999,
                   "connections": 4, "requests": 9}
    # per node: the customer sees none of the provider's nodes; the provider sees them all
    assert api.items("/v1/usage?by=node", token=api.acme) == []
    nodes = api.items("/v1/usage?by=node", token=api.searchco)
    assert {(r["node"], r["role"]) for r in nodes} == {("docs-fe", "frontend"),
                                                      ("docs-b1", "backend")}
    assert api.items("/v1/usage?account=acme") == [row]  # operator
    assert api.items("/v1/usage?period=2026-10&appliance=docs") == []
    assert api.items("/v1/usage?period=2026-11&appliance=docs") == [row]
    period = f"{from_ms(T0).isoformat()}/{from_ms(T0 + HOUR).isoformat()}"
    assert api.items("/v1/usage", params={"period": period}) == [row]
    # a stranger sees nothing, and may not ask for another account
    ok(api.req("POST", "/v1/accounts", json={"name": "stranger"}), 201)
    tok = ok(api.req("POST", "/v1/accounts/stranger/tokens"), 201)["token"]
    assert api.items("/v1/usage", token=tok) == []
    bad = api.req("GET", "/v1/usage?account=acme", token=tok)
    assert bad.status_code == 403 and bad.json()["error"]["where"] == "account"


@pytest.mark.parametrize("query, where", [("period=2026-13", "period"),
                                          ("period=2026-11-01T00:30Z/2026-11-02T00:00Z",
                                           "period"),
                                          ("account=nobody", "account")])
def test_usage_bad_input_names_the_field(world: Any, query: str, where: str) -> None:
    res = world.req("GET", f"/v1/usage?{query}")
    assert res.status_code in (400, 404), res.text
    assert res.json()["error"]["where"] == where


def test_metrics_prometheus_text(world: Any) -> None:
    api = world
    _seed(api)
    assert api.req("GET", "/metrics", token=None).status_code == 401
    res = api.req("GET", "/metrics", token=api.acme)
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = res.text
    labels = {"appliance": "docs", "account": "acme", "provider": "searchco",
              "service": "search"}
    assert prom.value(text, "facade_usage_bytes_total", **labels, direction="in") == 12345
    assert prom.value(text, "facade_usage_node_seconds_total", **labels,
                      role="frontend") == 7200
    assert prom.value(text, "facade_usage_connections_total", **labels) == 4
    assert "# TYPE facade_usage_requests_total counter\n" in text
    assert "facade_api_request_duration_seconds" not in text  # the operator's only
    # every sample line is NAME{labels} VALUE
    for line in text.splitlines():
        if not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            assert name.startswith("facade_") and float(value) >= 0
    ok(api.req("POST", "/v1/accounts", json={"name": "stranger"}), 201)
    tok = ok(api.req("POST", "/v1/accounts/stranger/tokens"), 201)["token"]
    assert 'appliance="docs"' not in api.req("GET", "/metrics", token=tok).text
