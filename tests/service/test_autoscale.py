"""Autoscaling through the API: the policy API, the worker's scaler resizing an appliance from
metered rates (fake data plane, fake clock), and apply setting the policy (the pure decision:
tests/unit/test_autoscale.py)."""

from __future__ import annotations

from typing import Any

from facade.controller.autoscaling import Scaler
from facade.store.models import Appliance
from tests.service.helpers import appliance_body, ok
from tests.unit.clock import Clock


def test_policy_api_and_the_scaler(world: Any) -> None:
    api = world
    api.changed = True
    body = {"min": 1, "max": 3, "metric": "connections", "target": 5, "cooldown": 10}
    # only the provider (or the operator) sets it; everyone may read it
    res = api.req("PUT", "/v1/services/search/autoscale", token=api.acme, json=body)
    assert res.status_code == 403
    pol = ok(api.req("PUT", "/v1/services/search/autoscale", token=api.searchco, json=body))
    assert pol == {"service": "search", "enabled": True, "min": 1, "max": 3,
                   "metric": "connections", "target": "5", "cooldown": 10}
    assert ok(api.req("GET", "/v1/services/search/autoscale", token=api.acme)) == pol
    bad = api.req("PUT", "/v1/services/search/autoscale", json={**body, "min": 4})
    assert bad.status_code == 400 and bad.json()["error"]["where"] == "autoscale.min"
    ok(api.req("POST", "/v1/appliances", json=appliance_body(backends=1)), 202)
    api.ctx.converge(10)
    clock = Clock()
    scaler = Scaler(clock)
    with api.ctx.read() as s:
        app_id = s.query(Appliance).filter_by(name="docs").one().id
    for k in range(4):  # 40 connections/s for 3 s: wants ceil(40/5) = 8, at most 3
        scaler.observe({app_id: {"connections": 40 if k else 0}})
        clock.t += 1
    with api.ctx.write() as s:
        scaler.review(api.ctx, s)
    view = ok(api.req("GET", "/v1/appliances/docs"))
    assert view["desired_backends"] == 3 and view["endpoint"]["ip"] == "10.0.1.3"
    kinds = {e["kind"]: e["message"] for e in api.items("/v1/events", params={
        "limit": 1000})}
    assert "1 -> 3 backends" in kinds["appliance.autoscaled"]
    # quiet: down to 1 only after the cool-down
    for _ in range(8):
        scaler.observe({app_id: {"connections": 0}})
        clock.t += 1
        with api.ctx.write() as s:
            scaler.review(api.ctx, s)
    assert ok(api.req("GET", "/v1/appliances/docs"))["desired_backends"] == 3
    for _ in range(12):  # the window empties (6 s), then 10 quiet seconds
        scaler.observe({app_id: {"connections": 0}})
        clock.t += 1
        with api.ctx.write() as s:
            scaler.review(api.ctx, s)
    # down to the largest size wanted while it was low (the window still held some traffic
    # when the quiet time began), then, one more quiet cool-down later, to the minimum
    assert ok(api.req("GET", "/v1/appliances/docs"))["desired_backends"] == 2
    for _ in range(11):
        scaler.observe({app_id: {"connections": 0}})
        clock.t += 1
        with api.ctx.write() as s:
            scaler.review(api.ctx, s)
    assert ok(api.req("GET", "/v1/appliances/docs"))["desired_backends"] == 1
    off = ok(api.req("DELETE", "/v1/services/search/autoscale", token=api.searchco))
    assert off == {"service": "search", "enabled": False}


YAML = """
accounts: [{name: p}]
networks:
  - {name: p-vpc, account: p, cidr: 10.0.0.0/16,
     subnets: [{name: b, cidr: 10.0.1.0/24}, {name: m, cidr: 10.0.2.0/24}]}
services:
  - name: s
    account: p
    workload: http-echo
    port: 80
    backend_subnet: p-vpc/b
    management_subnet: p-vpc/m
    autoscale: {min: 1, max: 4, metric: requests, target: 2.5%s}
"""


def test_apply_sets_updates_and_removes_the_policy(api: Any) -> None:
    def apply(text: str) -> list[dict[str, str]]:
        res = api.req("POST", "/v1/apply", json={"yaml": text, "filename": "f.yaml"})
        assert res.status_code == 200, res.text
        return [c for c in res.json()["changes"] if c["kind"] == "service"]

    assert apply(YAML % "")[0]["action"] == "created"
    got = ok(api.req("GET", "/v1/services/s/autoscale"))
    assert (got["min"], got["max"], got["metric"], got["target"]) == (1, 4, "requests", "2.5")
    assert apply(YAML % "")[0]["action"] == "unchanged"
    assert apply(YAML % ", cooldown: 9")[0]["action"] == "updated"
    assert ok(api.req("GET", "/v1/services/s/autoscale"))["cooldown"] == 9
    without = (YAML % "").replace("    autoscale: {min: 1, max: 4, metric: requests, "
                                  "target: 2.5}\n", "")
    assert apply(without)[0]["action"] == "updated"
    assert ok(api.req("GET", "/v1/services/s/autoscale")) == {"service": "s", "enabled": False}
