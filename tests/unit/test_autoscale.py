"""Autoscaling: the pure decision (bounds, cool-down, no flapping), the policy API and YAML, and
the worker's scaler resizing an appliance from metered rates (fake data plane, fake clock)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facade.controller.autoscaling import Scaler
from facade.domain import autoscale as A
from facade.domain.errors import Invalid
from facade.scenario import parse_scenario
from facade.store.models import Appliance
from tests.unit.clock import Clock
from tests.unit.test_api_validation import appliance_body, ok, world  # noqa: F401 - fixture

P = A.Policy(min=1, max=4, metric="requests", target=Decimal(10), cooldown=30)


def test_wanted_is_ceil_of_rate_over_target_within_bounds() -> None:
    assert [A.wanted(P, r) for r in (0, 0.1, 10, 10.01, 35, 1e9, float("nan"))] == \
        [1, 1, 1, 2, 4, 4, 1]


def test_up_at_once_down_only_after_a_quiet_cooldown() -> None:
    s = A.State()
    assert A.decide(P, 1, 25, 0.0, s) == 3  # up at once
    assert A.decide(P, 3, 45, 1.0, s) is None  # up again only after UP_COOLDOWN
    assert A.decide(P, 3, 45, 3.0, s) == 4
    assert A.decide(P, 4, 5, 10.0, s) is None  # low: the cool-down starts
    assert A.decide(P, 4, 15, 25.0, s) is None  # still below 4 (wants 2)
    assert A.decide(P, 4, 45, 30.0, s) is None  # back up to 4: the quiet time starts over
    assert A.decide(P, 4, 5, 31.0, s) is None
    assert A.decide(P, 4, 15, 50.0, s) is None
    assert A.decide(P, 4, 5, 61.0, s) == 2  # down to the largest size wanted while low


def test_a_size_outside_the_bounds_is_brought_inside() -> None:
    assert A.decide(P, 9, 0, 0.0, A.State()) == 4
    assert A.decide(A.Policy(2, 4, "connections", Decimal(1), 0), 1, 0, 0.0, A.State()) == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1000, allow_nan=False), st.floats(0.1, 5)),
                min_size=1, max_size=60),
       st.integers(1, 3), st.integers(0, 3), st.integers(0, 20))
def test_never_outside_bounds_and_never_flaps(steps: list[tuple[float, float]], low: int,
                                              extra: int, cooldown: int) -> None:
    policy = A.Policy(min=low, max=low + extra, metric="connections", target=Decimal(7),
                      cooldown=cooldown)
    state, size, now, last_down, last_change = A.State(), low, 0.0, None, float("-inf")
    for rate, dt in steps:
        now += dt
        new = A.decide(policy, size, rate, now, state)
        if new is None:
            continue
        assert policy.min <= new <= policy.max and new != size
        if new < size:  # a step down comes a whole cool-down after any change
            assert now - last_change >= cooldown
            last_down = now
        size, last_change = new, now
    assert last_down is None or last_down <= now


@pytest.mark.parametrize("kw, where", [
    ({"min": 0, "max": 2}, "autoscale.min"), ({"min": 3, "max": 2}, "autoscale.min"),
    ({"metric": "bytes"}, "autoscale.metric"), ({"target": Decimal(0)}, "autoscale.target"),
    ({"cooldown": -1}, "autoscale.cooldown")])
def test_bad_policies_name_the_field(kw: dict[str, Any], where: str) -> None:
    base = {"min": 1, "max": 2, "metric": "requests", "target": Decimal(5), "cooldown": 0}
    with pytest.raises(Invalid) as err:
        A.Policy(**{**base, **kw})
    assert err.value.where == where




def test_policy_api_and_the_scaler(world: Any) -> None:  # noqa: F811
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


def test_yaml_policy_and_its_errors() -> None:
    sc = parse_scenario(YAML % "", "f.yaml")
    assert sc.services[0].autoscale == A.Policy(1, 4, "requests", Decimal("2.5"), 30)
    with pytest.raises(Invalid) as err:
        parse_scenario(YAML % ", cooldown: -3", "f.yaml")
    assert err.value.where == "f.yaml:13" and "cooldown" in err.value.message
    with pytest.raises(Invalid) as err:
        parse_scenario((YAML % "").replace("metric: requests", "metric: bytes"), "f.yaml")
    assert err.value.where == "f.yaml:13" and "metric" in err.value.message


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
