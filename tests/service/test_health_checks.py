"""Tunable health checks (docs/health.md) through the API: a service's check created, changed
and refused, only by its provider, and followed by a running appliance and its agent (the rules
and the engine: tests/unit/test_health_checks.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.service.helpers import eventually, ok, wait_ready

# -- the API -----------------------------------------------------------------------------------


def test_a_service_is_created_with_a_check_and_changed_later(bare_world: Any) -> None:
    api = bare_world
    made = ok(api.req("POST", "/v1/services", json={
        "name": "perf", "account": "searchco", "command": "iperf3 -s -B {ip} -p {port}",
        "port": 5201, "backend_subnet": "search-vpc/backend",
        "management_subnet": "search-vpc/mgmt",
        "health_check": {"type": "agent", "interval": 2, "fall": 3}}), 201)
    assert made["health_check"] == {"type": "agent", "path": None, "codes": None,
                                    "interval": 2.0, "timeout": 0.5, "rise": 1, "fall": 3}
    changed = ok(api.req("PUT", "/v1/services/perf/health_check", json={
        "type": "http", "path": "/ready", "codes": "200-399", "interval": None}))
    assert changed == {"type": "http", "path": "/ready", "codes": "200-399", "interval": 1.0,
                       "timeout": 0.5, "rise": 1, "fall": 3}
    assert ok(api.req("GET", "/v1/services/perf"))["health_check"] == changed
    events = api.items("/v1/events")
    assert any(e["kind"] == "service.health_check" and "GET /ready answers 200-399"
               in e["message"] for e in events)


def test_bad_checks_are_400_and_change_nothing(bare_world: Any) -> None:
    api = bare_world
    before = ok(api.req("GET", "/v1/services/search"))
    for body, where in (({"timeout": 5}, "health_check.timeout"),
                        ({"type": "bogus"}, "health_check.type"),
                        ({"codes": "200-"}, "health_check.codes")):
        resp = api.req("PUT", "/v1/services/search/health_check", json=body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["where"] == where
    assert api.req("PUT", "/v1/services/search/health_check",
                   json={"interval": "1s"}).status_code == 422
    assert ok(api.req("GET", "/v1/services/search")) == before
    resp = api.req("POST", "/v1/services", json={
        "name": "echo", "account": "searchco", "command": "prog {ip} {port}", "port": 80,
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt",
        "health_path": "/a", "health_check": {"path": "/b"}})
    assert resp.status_code == 400 and resp.json()["error"]["where"] == "health_check.path"
    assert api.req("GET", "/v1/services/echo").status_code == 404


def test_only_the_provider_changes_a_check(bare_world: Any) -> None:
    api = bare_world
    acme = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"]
    resp = api.req("PUT", "/v1/services/search/health_check", json={"fall": 5}, token=acme)
    assert resp.status_code == 403
    assert ok(api.req("GET", "/v1/services/search"))["health_check"]["fall"] == 2


def test_a_running_appliance_and_its_agent_follow_a_change(bare_world: Any) -> None:
    api = bare_world
    ok(api.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    wait_ready(api, "docs")
    ok(api.req("PUT", "/v1/services/search/health_check", json={"type": "agent"}))
    # (each node's entry in its agent's configuration follows its node's reconcile)
    def agent_checks_listen() -> bool:
        nodes = [json.loads(p.read_text())
                 for p in (api.ctx.home / "agents").glob("agent-n*/nodes/*.json")]
        return any((n.get("workload") or {}).get("check") == "listen" for n in nodes)

    eventually(agent_checks_listen)
