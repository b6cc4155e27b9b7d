"""The control plane's own metrics and request ids, through the API with the controller running
on the fake driver: what /metrics shows after real calls and real reconciles (read back with
prometheus_client's parser, tests/prom.py), the X-Request-ID of a request in its answer, its log
lines and the events it causes, down to the worker's."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from typing import Any

from facade.api import logs
from facade.dataplane.errors import fatal
from facade.domain.specs import NodeSpec, Probe, ProbeResult
from tests import prom
from tests.service.helpers import appliance_body, err, eventually, ok, wait_ready

API = "facade_api_request_duration_seconds"


def _scrape(api: Any) -> str:
    res = api.req("GET", "/metrics")
    assert res.status_code == 200, res.text
    return str(res.text)


def _count(text: str, name: str, **labels: str) -> float:
    return sum(prom.with_labels(text, f"{name}_count", **labels).values())


def _routes(text: str) -> set[str]:
    return {dict(labels)["route"] for labels in prom.with_labels(text, f"{API}_count")}


# -- API latency -------------------------------------------------------------------------------


def test_api_latency_is_counted_by_route_template_method_and_status(world: Any) -> None:
    api = world
    before = _scrape(api)
    ok(api.req("GET", "/v1/networks/acme-vpc"))
    api.req("GET", "/v1/networks/no-such-vpc")
    api.req("GET", "/v1/networks/acme-vpc", token=None)
    after = _scrape(api)
    route = "/v1/networks/{name}"
    for status in ("200", "404", "401"):
        grew = _count(after, API, route=route, method="GET", status=status) \
            - _count(before, API, route=route, method="GET", status=status)
        assert grew == 1, (status, grew)
    # the raw paths are no label value; the sum of seconds moved too
    assert "acme-vpc" not in after and "no-such-vpc" not in after
    assert prom.value(after, f"{API}_sum", route=route, method="GET", status="200")


def test_an_unknown_path_or_method_makes_no_new_label_value(world: Any) -> None:
    api = world
    api.req("GET", "/nowhere/1")  # the first unmatched request makes the one label value
    _scrape(api)  # (and the first scrape the route of /metrics)
    before = _routes(_scrape(api))
    for path in ("/nowhere/2", "/v1/zzz", "/v1/networks/acme-vpc/no/such/thing", "/x" * 50):
        assert api.req("GET", path).status_code == 404
    assert api.client.request("BREW", "/v1/networks").status_code == 405
    text = _scrape(api)
    assert _routes(text) == before and "unmatched" in before
    assert "/nowhere" not in text and "zzz" not in text
    methods = {dict(labels)["method"] for labels in prom.with_labels(text, f"{API}_count")}
    assert "BREW" not in methods and "other" in methods


def test_an_account_reads_its_usage_only_not_the_control_planes_metrics(world: Any) -> None:
    text = world.req("GET", "/metrics", token=world.acme).text
    assert API not in text and "facade_reconcile" not in text
    assert "facade_usage_bytes_total" in text  # (its HELP and TYPE, no appliance yet)
    assert API in _scrape(world)


# -- the controller ----------------------------------------------------------------------------


def test_reconciles_are_timed_by_kind_and_outcome(world: Any, monkeypatch: Any) -> None:
    api = world
    api.changed = True
    before = _scrape(api)
    ok(api.req("POST", "/v1/appliances", json=appliance_body()), 202)
    wait_ready(api, "docs")
    after = _scrape(api)
    for kind in ("node", "appliance"):
        assert _count(after, "facade_reconcile_duration_seconds", kind=kind, outcome="ok") \
            > _count(before, "facade_reconcile_duration_seconds", kind=kind, outcome="ok")
    real = api.dp.ensure_node

    def refused(spec: NodeSpec) -> None:
        if spec.netns.endswith("-doomed"):
            raise fatal(f"{spec.netns}: cannot be made")
        real(spec)

    monkeypatch.setattr(api.dp, "ensure_node", refused)
    ok(api.req("POST", "/v1/instances", json={
        "name": "doomed", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}), 201)
    eventually(lambda: _count(_scrape(api), "facade_reconcile_duration_seconds",
                              kind="node", outcome="fatal") >= 1)


def test_queue_depth_by_kind_while_a_worker_is_busy(world: Any, monkeypatch: Any) -> None:
    api = world
    api.changed = True
    busy, release = threading.Event(), threading.Event()
    real = api.dp.ensure_node

    def slow(spec: NodeSpec) -> None:  # the one worker is held on the first instance's node
        if spec.netns.endswith("-first"):
            busy.set()
            release.wait(10)
        real(spec)

    monkeypatch.setattr(api.dp, "ensure_node", slow)

    def create(name: str) -> threading.Thread:  # (a create waits for its node: converge)
        body = {"name": name, "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}
        t = threading.Thread(target=lambda: ok(api.req("POST", "/v1/instances", json=body),
                                               201))
        t.start()
        return t

    def waiting() -> float | None:
        return prom.value(_scrape(api), "facade_queue_depth", kind="node", state="waiting")

    threads = [create("first")]
    try:
        assert busy.wait(5)
        threads.append(create("second"))
        eventually(lambda: waiting() == 1)
    finally:
        release.set()
        for t in threads:
            t.join(10)
    eventually(lambda: waiting() == 0)


def test_health_check_outcomes_pass_fail_and_timeout(world: Any, monkeypatch: Any) -> None:
    api = world
    api.changed = True
    ok(api.req("POST", "/v1/appliances", json=appliance_body()), 202)
    app = wait_ready(api, "docs")

    def checks(outcome: str) -> float:
        return sum(prom.with_labels(_scrape(api), "facade_health_checks_total",
                                    outcome=outcome).values())

    eventually(lambda: checks("pass") >= 2)
    failed = checks("fail")  # (a backend's checks while its workload starts)
    assert checks("timeout") == 0
    victim = app["backends"][0]["netns"]
    api.dp.processes.pop(f"wl{victim.split('-')[1][1:]}")  # the workload dies
    eventually(lambda: checks("fail") > failed)
    real = api.dp.probe_many

    def slow(probes: list[Probe]) -> list[ProbeResult]:
        return [ProbeResult(ok=False, detail="timed out") if p.netns == victim else r
                for p, r in zip(probes, real(probes), strict=True)]

    monkeypatch.setattr(api.dp, "probe_many", slow)
    eventually(lambda: checks("timeout") >= 1)


# -- request ids -------------------------------------------------------------------------------


def test_a_request_id_is_echoed_or_made(world: Any) -> None:
    api = world
    given = "req-2026.12.08:abc_DEF/1+2=3@x"
    res = api.client.get("/v1/networks", headers={**api.as_(api.token), "X-Request-ID": given})
    assert res.status_code == 200 and res.headers["X-Request-ID"] == given
    made = {api.req("GET", "/v1/networks").headers["X-Request-ID"] for _ in range(3)}
    assert len(made) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", m) for m in made)
    # an error answer has one too
    assert api.req("GET", "/v1/networks/nope").headers["X-Request-ID"]
    assert api.req("GET", "/v1/networks", token=None).headers["X-Request-ID"]


def test_a_bad_request_id_is_a_400_naming_the_header_and_changes_nothing(world: Any) -> None:
    api = world
    for bad in ("", "x" * 129, "has space", "semi;colon", "quote\"", "caf\u00e9".encode(),
                "a\tb"):
        res = api.client.post("/v1/accounts", json={"name": "never"},
                              headers={**api.as_(api.token), "X-Request-ID": bad})
        e = err(res, 400, "X-Request-ID", code="invalid", where="X-Request-ID")
        assert not bad or str(bad) not in e["message"]
    assert api.req("GET", "/v1/accounts/never").status_code == 404
    res = api.client.get("/v1/networks", headers={**api.as_(api.token),
                                                   "X-Request-ID": "x" * 128})
    assert res.status_code == 200


def _events(api: Any) -> list[dict[str, Any]]:
    return list(api.items("/v1/events"))


def test_the_events_a_request_causes_carry_its_id_down_to_the_workers(world: Any) -> None:
    api = world
    api.changed = True
    rid = "create-docs-1"
    res = api.client.post("/v1/appliances", json=appliance_body(),
                          headers={**api.as_(api.acme), "X-Request-ID": rid})
    assert res.status_code == 202 and res.headers["X-Request-ID"] == rid
    app = wait_ready(api, "docs")
    mine = [e for e in _events(api) if e["request_id"] == rid]
    kinds = {e["kind"] for e in mine}
    assert "appliance.created" in kinds, kinds
    # the worker's events for the change: the nodes made for it, and its endpoint
    made = {e["object"] for e in mine if e["kind"].startswith("reconcile.")}
    assert app["frontend"]["netns"] in made and app["backends"][0]["netns"] in made, made
    # another request's events are its own; the controller's own have none
    res = api.client.post("/v1/accounts", json={"name": "other"},
                          headers={**api.as_(api.token), "X-Request-ID": "other-1"})
    assert res.status_code == 201
    assert _events(api)[0]["kind"] == "account.created"
    assert _events(api)[0]["request_id"] == "other-1"
    victim = app["backends"][1]
    workload = f"wl{victim['netns'].split('-')[1][1:]}"

    def starts() -> list[dict[str, Any]]:
        return [e for e in _events(api) if e["object"] == workload
                and e["kind"] == "reconcile.start_process"]

    assert [e["request_id"] for e in starts()] == [rid]
    api.dp.processes.pop(workload)  # dies: the health engine has its node repaired
    eventually(lambda: len(starts()) == 2)
    assert [e["request_id"] for e in starts()] == [None, rid]  # newest first
    # an account sees the field too, and finds what one request did
    seen = api.items("/v1/events", token=api.acme)
    assert any(e["request_id"] == rid for e in seen)
    found = api.items(f"/v1/events?request_id={rid}", token=api.acme)
    assert found == [e for e in seen if e["request_id"] == rid] and found
    assert api.items("/v1/events?request_id=other-1", token=api.acme) == []  # not its own
    assert [e["kind"] for e in api.items("/v1/events?request_id=other-1")] \
        == ["account.created"]
    err(api.req("GET", "/v1/events?request_id=a%20b"), 400, code="invalid", where="request_id")
    err(api.req("GET", "/v1/events?request_id=" + "x" * 129), 422, where="request_id")


def test_a_log_line_is_one_json_object_with_the_request_id(world: Any,
                                                          monkeypatch: Any) -> None:
    from facade.service import networks

    api = world
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("facade")
    logger.addHandler(handler)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(networks, "list_networks", broken)
    try:
        client = api.client.__class__(api.client.app, raise_server_exceptions=False)
        res = client.get("/v1/networks", headers={**api.as_(api.token),
                                                  "X-Request-ID": "bug-1"})
    finally:
        logger.removeHandler(handler)
    err_body = res.json()["error"]
    assert res.status_code == 500 and err_body["code"] == "internal"
    assert res.headers["X-Request-ID"] == "bug-1"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    line = next(x for x in lines if x["message"] == "unexpected error")
    assert line["request_id"] == "bug-1" and line["level"] == "ERROR"
    assert line["logger"] == "facade.api" and "RuntimeError: a bug" in line["exception"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    text = _scrape(api)
    assert prom.value(text, f"{API}_count", route="/v1/networks", method="GET",
                      status="500") == 1
