"""Autoscaling, the pure part: the decision (bounds, cool-down, no flapping), the policy's
rules and the YAML policy (the API and the worker's scaler: tests/service/test_autoscale.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facade.domain import autoscale as A
from facade.domain.errors import Invalid
from facade.scenario import parse_scenario

pytestmark = pytest.mark.no_store  # tests/conftest.py

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
