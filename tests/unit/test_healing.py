"""Node replacement decisions (pure, with a fake clock): only a backend that keeps failing after
its start-up grace is replaced, at most one per appliance per cool-down (a replacement on the
fake data plane: tests/service/test_healing.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facade.controller.healing import REPLACE_AFTER, REPLACE_COOLDOWN, STARTUP_GRACE, Healer
from facade.domain.health import HealthCheck
from facade.service import desired as desired_mod
from tests.unit.clock import Clock

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _want(status: str = "ready") -> desired_mod.Desired:
    backends = tuple(desired_mod.BackendTarget(i, f"a-b{i}", f"fcd-i{i}-a-b{i}", f"10.0.1.{i}")
                     for i in (1, 2))
    app = desired_mod.ApplianceTarget(
        id=7, name="a", status=status, frontend_netns="fcd-i9-a-fe", router_netns="fcd-r1",
        endpoint="10.0.1.50", port=80, health=HealthCheck(type="http", path="/health"),
        backends=backends, leaving=(),
        peers_file=Path("/nonexistent"), peers=())
    want = desired_mod.Desired(state=desired_mod.DesiredState())
    want.appliances = [app]
    return want


PRESENT = {"fcd-i1-a-b1", "fcd-i2-a-b2"}


def test_only_a_backend_failing_past_grace_and_delay_is_replaced() -> None:
    clock, want = Clock(1000.0), _want()
    h = Healer(clock)
    assert h.review(want, PRESENT, {"fcd-i2-a-b2"}) == []  # b1 failing, but just born
    clock.t += STARTUP_GRACE - 1
    assert h.review(want, PRESENT, {"fcd-i2-a-b2"}) == []  # still in its grace period
    clock.t += 1
    (r,) = h.review(want, PRESENT, {"fcd-i2-a-b2"})
    assert (r.appliance_id, r.instance_id, r.node) == (7, 1, "a-b1")
    assert "health check failing" in r.reason


def test_a_recovered_backend_starts_counting_again() -> None:
    clock, want = Clock(1000.0), _want()
    h = Healer(clock)
    h.review(want, PRESENT, {"fcd-i1-a-b1", "fcd-i2-a-b2"})
    clock.t += STARTUP_GRACE
    h.review(want, PRESENT, {"fcd-i2-a-b2"})  # b1 starts failing
    clock.t += REPLACE_AFTER - 0.5
    h.review(want, PRESENT, {"fcd-i1-a-b1", "fcd-i2-a-b2"})  # and recovers in time
    clock.t += 1
    assert h.review(want, PRESENT, {"fcd-i2-a-b2"}) == []  # failing again: a new count
    clock.t += REPLACE_AFTER
    assert [r.node for r in h.review(want, PRESENT, {"fcd-i2-a-b2"})] == ["a-b1"]


def test_one_replacement_per_appliance_per_cooldown_and_none_while_deleting() -> None:
    clock, want = Clock(1000.0), _want()
    h = Healer(clock)
    h.review(want, PRESENT, set())
    clock.t += STARTUP_GRACE + REPLACE_AFTER
    assert len(h.review(want, PRESENT, set())) == 1  # both fail: one at a time
    clock.t += REPLACE_COOLDOWN - 1
    assert h.review(want, PRESENT, set()) == []
    clock.t += 1
    assert len(h.review(want, PRESENT, set())) == 1
    h2 = Healer(clock)
    h2.review(_want("deleting"), PRESENT, set())
    clock.t += 100
    assert h2.review(_want("deleting"), PRESENT, set()) == []


def test_a_node_never_seen_is_not_replaced() -> None:
    clock, want = Clock(1000.0), _want()
    h = Healer(clock)
    h.review(want, set(), set())  # namespaces not made yet
    clock.t += 100
    assert h.review(want, set(), set()) == []
