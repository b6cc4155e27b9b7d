"""Observability of a real control plane (`facade up --log-format json`, the linux driver): its
own metrics after real reconciles and real health checks (read with prometheus_client's parser),
a request's X-Request-ID on the events the workers write while they carry it out, and every
line of the server's log one JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import prom
from tests.integration.controlplane import ControlPlane
from tests.integration.echo_layout import apply_echo

pytestmark = pytest.mark.root

SERVER_ARGS = ("--log-format", "json")
SERVER_ENV = {"FACADE_REPORT": "1"}  # the controller's report: a log line a second


@pytest.fixture(scope="module")
def app(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return apply_echo(cp, tmp_path_factory, "obs1", 1)


def _sum(text: str, name: str, **labels: str) -> float:
    return sum(prom.with_labels(text, name, **labels).values())


def test_the_control_planes_own_metrics_after_real_work(cp: ControlPlane,
                                                        app: dict[str, Any]) -> None:
    def checked() -> str | None:
        text = cp.api("GET", "/metrics").text
        return text if _sum(text, "facade_health_checks_total", outcome="pass") else None

    text = cp.wait_for(checked, timeout=15, what="a passing health check")
    for kind in ("node", "subnet", "appliance"):
        assert _sum(text, "facade_reconcile_duration_seconds_count", kind=kind,
                    outcome="ok") >= 1, kind
    assert _sum(text, "facade_api_request_duration_seconds_count",
                route="/v1/appliances/{name}", method="GET", status="200") >= 1
    assert "obs1" not in str(prom.with_labels(text, "facade_api_request_duration_seconds_count"))
    assert prom.with_labels(text, "facade_queue_depth", state="waiting")
    # an account gets its usage only
    shop = cp.api("POST", "/v1/accounts/shop/tokens").json()["token"]
    assert "facade_reconcile" not in cp.api("GET", "/metrics", token=shop).text


def test_a_scale_requests_id_reaches_the_events_of_the_node_it_makes(
        cp: ControlPlane, app: dict[str, Any]) -> None:
    res = httpx.patch(f"{cp.url}/v1/appliances/obs1", json={"backends": 2}, timeout=60,
                      headers={"Authorization": f"Bearer {cp.token}",
                               "X-Request-ID": "e2e-scale-1"})
    assert res.status_code == 202, res.text
    assert res.headers["X-Request-ID"] == "e2e-scale-1"

    def made() -> list[dict[str, Any]]:
        return [e for e in cp.items("/v1/events", params={"request_id": "e2e-scale-1"})
                if e["kind"].startswith("reconcile.") and "obs1-b2" in e["object"]]

    assert cp.wait_for(made, timeout=30, what="the new backend's events")


def test_every_log_line_is_one_json_object(cp: ControlPlane, app: dict[str, Any]) -> None:
    log = Path(cp.log.name)

    def lines() -> list[str]:
        return [x for x in log.read_text().splitlines() if x.strip()]

    cp.wait_for(lambda: any('"facade.controller"' in x for x in lines()), timeout=15,
                what="the controller's report")
    # what the server prints at start (the operator token, the address) is not a log line
    logged = [x for x in lines() if not x.startswith(("operator token", "fcd_",
                                                      "Facade control plane"))]
    parsed = [json.loads(x) for x in logged]
    assert all({"time", "level", "logger", "message"} <= set(p) for p in parsed)
    assert any(p["logger"] == "facade.controller" and p["message"].startswith("in the last")
               for p in parsed)
