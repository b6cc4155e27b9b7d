"""POST /v1/apply and /v1/destroy with the example scenario: idempotent, atomic, located errors."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.lines import line_of
from tests.service.helpers import err, ok

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "search.yaml").read_text()
FILE = "search.yaml"
LISTS = ("/v1/accounts", "/v1/networks", "/v1/subnets", "/v1/instances", "/v1/services",
         "/v1/appliances")
STABLE = ("/v1/accounts", "/v1/networks", "/v1/subnets", "/v1/services")


def apply(api: Any, text: str = EXAMPLE, filename: str = FILE) -> Any:
    return api.req("POST", "/v1/apply", json={"yaml": text, "filename": filename})


def destroy(api: Any, text: str = EXAMPLE, filename: str = FILE) -> Any:
    return api.req("POST", "/v1/destroy", json={"yaml": text, "filename": filename})


def _settled(obj: Any) -> Any:
    """An API answer without the agents' live observations (`management`: what the last poll
    saw, and when), which change on their own schedule, not with what a file declares."""
    if isinstance(obj, dict):
        return {k: _settled(v) for k, v in obj.items() if k != "management"}
    if isinstance(obj, list):
        return [_settled(v) for v in obj]
    return obj


def lists(api: Any, paths: tuple[str, ...] = LISTS) -> dict[str, Any]:
    return {p: _settled(api.items(p)) for p in paths}


def created_events(api: Any) -> list[dict[str, Any]]:
    return [e for e in api.items("/v1/events?limit=1000")
            if e["kind"].endswith(".created")]


def wait_app(api: Any, name: str, backends: int, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        app = ok(api.req("GET", f"/v1/appliances/{name}"))
        if app["status"] == "ready" and len(app["backends"]) == backends:
            return app
        assert time.monotonic() < deadline, app
        time.sleep(0.02)


def test_first_apply_creates_everything(api: Any) -> None:
    out = ok(apply(api))
    assert out["appliances"] == ["acme/docs"]  # the operator says whose
    assert [(c["action"], c["kind"], c["name"]) for c in out["changes"]] == [
        ("created", "account", "acme"), ("created", "account", "searchco"),
        ("created", "network", "acme-vpc"), ("created", "network", "search-vpc"),
        ("created", "service", "search"), ("created", "instance", "client"),
        ("created", "appliance", "docs")]
    got = lists(api)
    assert [a["name"] for a in got["/v1/accounts"]] == ["operator", "acme", "searchco"]
    assert [s["name"] for s in got["/v1/subnets"]] == [
        "acme-vpc/app", "search-vpc/backend", "search-vpc/mgmt"]
    assert [i["name"] for i in got["/v1/instances"]] == ["client"]
    app = wait_app(api, "docs", 3)
    assert app["subnet"] == "acme-vpc/app" and app["provider"] == "searchco"
    assert ok(api.req("GET", "/v1/subnets/acme-vpc/app"))["used"] == 2  # client + endpoint


def test_second_apply_changes_nothing(api: Any) -> None:
    ok(apply(api))
    wait_app(api, "docs", 3)
    before, events = lists(api), created_events(api)
    out = ok(apply(api))
    assert {c["action"] for c in out["changes"]} == {"unchanged"}
    assert len(out["changes"]) == 7
    assert lists(api) == before
    assert created_events(api) == events


def test_changing_backends_scales(api: Any) -> None:
    ok(apply(api))
    first = wait_app(api, "docs", 3)
    text = EXAMPLE.replace("backends: 3", "backends: 5")
    assert text != EXAMPLE
    out = ok(apply(api, text))
    actions = {(c["kind"], c["name"]): c["action"] for c in out["changes"]}
    assert actions.pop(("appliance", "docs")) == "updated"
    assert set(actions.values()) == {"unchanged"}
    app = wait_app(api, "docs", 5)
    assert app["desired_backends"] == 5
    assert app["endpoint"] == first["endpoint"]
    assert ok(api.req("GET", "/v1/subnets/acme-vpc/app"))["used"] == 2
    # and once more is unchanged
    assert {c["action"] for c in ok(apply(api, text))["changes"]} == {"unchanged"}


def test_adding_a_subnet_updates_the_network(api: Any) -> None:
    ok(apply(api))
    text = EXAMPLE.replace("subnets: [{name: app, cidr: 10.0.1.0/24}]",
                           "subnets: [{name: app, cidr: 10.0.1.0/24}, "
                           "{name: data, cidr: 10.0.2.0/24}]")
    assert text != EXAMPLE
    actions = {(c["kind"], c["name"]): c["action"] for c in ok(apply(api, text))["changes"]}
    assert actions[("network", "acme-vpc")] == "updated"
    assert ok(api.req("GET", "/v1/subnets/acme-vpc/data"))["cidr"] == "10.0.2.0/24"


def test_conflicting_network_cidr_is_409_at_its_line(api: Any) -> None:
    ok(apply(api))
    wait_app(api, "docs", 3)
    before, events = lists(api), created_events(api)
    text = EXAMPLE.replace("name: acme-vpc, account: acme, cidr: 10.0.0.0/16",
                           "name: acme-vpc, account: acme, cidr: 10.0.0.0/12")
    assert text != EXAMPLE
    e = err(apply(api, text), 409, code="conflict")
    assert e["where"].startswith(f"{FILE}:{line_of(text, 'name: acme-vpc')}")
    assert "10.0.0.0/16" in e["message"] and "10.0.0.0/12" in e["message"]
    assert lists(api) == before
    assert created_events(api) == events


def test_malformed_yaml_is_400_with_line(api: Any) -> None:
    text = "accounts: [{name: acme}]\nnetworks:\n  - {name: x, cidr: [\n"
    e = err(apply(api, text, "bad.yaml"), 400, code="invalid")
    assert e["where"].startswith("bad.yaml:")
    assert int(e["where"].split(":")[1]) >= 3
    assert lists(api, ("/v1/accounts",))["/v1/accounts"] == [
        {"name": "operator", "operator": True}]


def test_invalid_value_is_400_at_its_line(api: Any) -> None:
    text = EXAMPLE.replace("backends: 3", "backends: 65")
    e = err(apply(api, text), 400, code="invalid")
    assert e["where"].startswith(f"{FILE}:{line_of(text, 'name: docs')}")
    assert api.items("/v1/networks") == []


def test_unknown_service_fails_at_appliance_line_and_nothing_is_created(api: Any) -> None:
    before, events = lists(api), created_events(api)
    text = EXAMPLE.replace("service: search,", "service: serch,")
    assert text != EXAMPLE
    e = err(apply(api, text), 404, code="not_found")
    assert e["where"].startswith(f"{FILE}:{line_of(text, 'name: docs')}")
    assert "serch" in e["message"]
    assert lists(api) == before
    assert api.items("/v1/accounts") == [{"name": "operator", "operator": True}]
    assert api.items("/v1/networks") == []
    assert created_events(api) == events
    assert not api.dp.nodes and not api.dp.subnets


def test_apply_needs_a_token_and_accounts_need_the_operator(api: Any) -> None:
    err(api.req("POST", "/v1/apply", token=None, json={"yaml": EXAMPLE}), 401,
        code="unauthorized")
    ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
    tok = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"]
    e = err(api.req("POST", "/v1/apply", token=tok, json={"yaml": EXAMPLE, "filename": FILE}),
            403, code="forbidden")
    assert e["where"].startswith(f"{FILE}:")
    assert [n["name"] for n in api.items("/v1/accounts")] == ["operator", "acme"]


def test_destroy_removes_everything_then_reports_absent(api: Any) -> None:
    ok(apply(api))
    wait_app(api, "docs", 3)
    out = ok(destroy(api))
    assert out["appliances"] == ["acme/docs"]  # the operator says whose
    assert {c["action"] for c in out["changes"]} == {"deleted"}
    assert {(c["kind"], c["name"]) for c in out["changes"]} == {
        ("appliance", "docs"), ("instance", "client"), ("service", "search"),
        ("network", "search-vpc"), ("network", "acme-vpc"), ("account", "searchco"),
        ("account", "acme")}
    got = lists(api)
    assert got.pop("/v1/accounts") == [{"name": "operator", "operator": True}]
    assert all(v == [] for v in got.values()), got
    assert not api.dp.nodes and not api.dp.subnets and not api.dp.processes
    again = ok(destroy(api))
    assert {c["action"] for c in again["changes"]} == {"absent"}
    assert len(again["changes"]) == 7


def test_destroy_keeps_an_account_that_owns_other_things(api: Any) -> None:
    ok(apply(api))
    ok(api.req("POST", "/v1/networks", json={"name": "other", "account": "acme",
                                             "cidr": "172.16.0.0/16"}), 201)
    out = ok(destroy(api))
    actions = {(c["kind"], c["name"]): c["action"] for c in out["changes"]}
    assert actions[("account", "acme")] == "kept"
    assert actions[("account", "searchco")] == "deleted"
    assert [n["name"] for n in api.items("/v1/networks")] == ["other"]


def test_changed_service_setting_is_a_conflict_not_silently_ignored(api: Any) -> None:
    ok(apply(api))
    before = lists(api, STABLE)
    for old, new in (("port: 80,", "port: 8080,"),
                     ("workload: search,", "workload: web,")):
        text = EXAMPLE.replace(old, new)
        assert text != EXAMPLE
        e = err(apply(api, text), 409, code="conflict")
        assert e["where"].startswith(f"{FILE}:{line_of(text, 'name: search,')}")
        assert lists(api, STABLE) == before


def test_health_check_in_a_file_is_a_setting_the_file_replaces(api: Any) -> None:
    """A service's health check (health_path included) is a setting, like its limits: a
    changed file changes it, and what the file leaves out goes back to the default."""
    ok(apply(api))
    text = EXAMPLE.replace("workload: search, port: 80,", "workload: search, port: 80, "
                           "health_path: /ready, health_check: {codes: 200-399, fall: 3},")
    assert text != EXAMPLE
    out = ok(apply(api, text))
    assert {(c["kind"], c["name"], c["action"]) for c in out["changes"]
            if c["action"] != "unchanged"} == {("service", "search", "updated")}
    svc = ok(api.req("GET", "/v1/services/search"))
    assert svc["health_path"] == "/ready"
    assert svc["health_check"] == {"type": "http", "path": "/ready", "codes": "200-399",
                                   "interval": 1.0, "timeout": 0.5, "rise": 1, "fall": 3}
    ok(apply(api))  # the file without them: back to the defaults
    svc = ok(api.req("GET", "/v1/services/search"))
    assert svc["health_path"] is None
    assert svc["health_check"]["path"] == "/health" and svc["health_check"]["fall"] == 2
    bad = EXAMPLE.replace("workload: search, port: 80,", "workload: search, port: 80,\n"
                          "      health_check: {interval: 0.5, timeout: 2},")
    e = err(apply(api, bad), 400, code="invalid")
    assert "timeout (2 s) must not exceed its interval" in e["message"]
    assert e["where"].startswith(f"{FILE}:")


def dry_run(api: Any, text: str = EXAMPLE, filename: str = FILE) -> Any:
    return api.req("POST", "/v1/apply?dry_run=true", json={"yaml": text, "filename": filename})


def test_a_dry_run_answers_what_apply_would_do_and_changes_nothing(api: Any) -> None:
    """The same changes as the apply that follows, with nothing stored, no event and nothing
    queued; once applied, a dry run finds everything unchanged; an error is the same error at
    the same line."""
    before, events = lists(api), api.items("/v1/events?limit=1000")
    rehearsed = ok(dry_run(api))
    assert rehearsed["dry_run"] is True and rehearsed["appliances"] == ["acme/docs"]
    assert {c["action"] for c in rehearsed["changes"]} == {"created"}
    assert lists(api) == before and api.items("/v1/events?limit=1000") == events
    err(api.req("GET", "/v1/networks/acme-vpc"), 404)
    done = ok(apply(api))
    assert done["dry_run"] is False and done["changes"] == rehearsed["changes"]
    wait_app(api, "docs", 3)
    again = ok(dry_run(api))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}
    scaled = EXAMPLE.replace("backends: 3}", "backends: 4}")
    assert scaled != EXAMPLE
    plan = ok(dry_run(api, scaled))
    assert ("updated", "appliance", "docs") in {(c["action"], c["kind"], c["name"])
                                                 for c in plan["changes"]}
    assert len(ok(api.req("GET", "/v1/appliances/docs"))["backends"]) == 3  # not scaled
    broken = EXAMPLE.replace("backends: 3}", "backends: 0}")
    real, rehearsal = apply(api, broken), dry_run(api, broken)
    assert (real.status_code, real.json()) == (rehearsal.status_code, rehearsal.json())
    assert real.status_code == 400
    api.changed = True
