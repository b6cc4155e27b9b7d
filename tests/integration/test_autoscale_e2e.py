"""Autoscaling on the kernel, with a bounded load test: real connections from the customer's
instance through the endpoint (at most 600, at most 20 s) make the appliance grow within its
bounds; when the load stops it shrinks back after the cool-down. The customer's subnet never
changes meanwhile (the same endpoint, the same nodes in it)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.echo_layout import apply_echo, rotation

pytestmark = pytest.mark.root

AUTOSCALE = "\n    autoscale: {min: 1, max: 3, metric: connections, target: 8, cooldown: 4}"
MAX_REQUESTS = 600
MAX_SECONDS = 20.0
RATE = 40.0  # connections per second: wants ceil(40 / 8) = 5 backends, bounded to 3


@pytest.fixture(scope="module")
def app(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return apply_echo(cp, tmp_path_factory, "auto1", 1, AUTOSCALE)


def _customer_subnet(cp: ControlPlane) -> list[tuple[str, str]]:
    topo = cp.get("/v1/topology")
    (net,) = [n for n in topo["networks"] if n["name"] == "shop-vpc"]
    (web,) = net["subnets"]
    return sorted((n["name"], n["ip"]) for n in web["nodes"])


def test_grows_under_load_and_shrinks_after(cp: ControlPlane, app: dict[str, Any]) -> None:
    fe = app["frontend"]["netns"]
    shopper = next(n for n in nsclient.facade_netns() if n.endswith("-shopper"))
    customer_side = _customer_subnet(cp)
    assert len(rotation(fe)) == 1
    start, sent, grown_at = time.monotonic(), 0, None
    while sent < MAX_REQUESTS and time.monotonic() - start < MAX_SECONDS:
        status, _, _ = nsclient.http(shopper, app["endpoint"]["ip"], 8080)
        assert status == 200  # no request fails while the appliance grows
        sent += 1
        if grown_at is None and len(rotation(fe)) >= 3:
            grown_at = time.monotonic() - start
        if grown_at is not None and time.monotonic() - start > grown_at + 2:
            break  # grown and served a little longer: enough load
        time.sleep(max(0.0, start + sent / RATE - time.monotonic()))
    assert grown_at is not None, f"did not grow to 3 backends after {sent} requests"
    view = cp.get("/v1/appliances/auto1")
    assert view["desired_backends"] == 3  # bounded by max, though the rate wanted 5
    assert view["endpoint"] == app["endpoint"]
    assert _customer_subnet(cp) == customer_side
    stopped = time.monotonic()
    cp.wait_for(lambda: len(rotation(fe)) == 1
                and cp.get("/v1/appliances/auto1")["desired_backends"] == 1,
                timeout=40, what="the appliance back at its minimum")
    shrunk_after = time.monotonic() - stopped
    assert _customer_subnet(cp) == customer_side
    events = [e for e in cp.events()
              if e["kind"] == "appliance.autoscaled"]
    assert any("-> 3 backends" in e["message"] for e in events)
    assert any("-> 1 backends" in e["message"] for e in events)
    print(f"\nautoscale: {sent} requests at {RATE:.0f}/s; 1 -> 3 backends after "
          f"{grown_at:.1f} s of load; back to 1 {shrunk_after:.1f} s after it stopped")
