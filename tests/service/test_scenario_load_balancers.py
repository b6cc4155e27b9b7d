"""Load-balancer offers in scenario files (top-level `load_balancers:`), applied: after networks
and grants and before services (so a service may name an offer declared anywhere in the file),
unchanged on re-apply, a conflict when changed, withdrawn by destroy after the services that
name them; every bad offer fails at its line and changes nothing. Also applies every file in
examples/ on the fake data plane (parsing: tests/unit/test_scenario_load_balancers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from facade.scenario import parse_scenario
from facade.service import desired
from facade.store.models import Network
from tests.lines import line_of
from tests.service.helpers import err, offers, ok, settle, snapshot
from tests.service.test_apply import apply, created_events, destroy, wait_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = (EXAMPLES / "third-party-frontend.yaml").read_text()
FILE = "lb.yaml"


def state(api: Any) -> dict[str, Any]:
    """snapshot() (objects and their events) plus the offers, as the operator sees them."""
    return {**snapshot(api), "lbs": offers(api)}


def test_apply_reapply_and_destroy(api: Any) -> None:
    out = ok(apply(api, EXAMPLE, FILE))
    assert [(c["action"], c["kind"], c["name"]) for c in out["changes"]][5:8] == [
        ("created", "network", "lb-vpc"), ("created", "load-balancer", "edge"),
        ("created", "service", "search")]
    app = wait_app(api, "docs", 2)
    assert app["frontend"]["account"] == "lbco"
    assert [i["subnet"] for i in app["frontend"]["interfaces"]] == [
        "acme-vpc/app", "search-vpc/backend", "lb-vpc/mgmt"]
    offer = ok(api.req("GET", "/v1/load-balancers/edge"))
    assert (offer["account"], offer["management_subnet"], offer["services"]) == (
        "lbco", "lb-vpc/mgmt", ["search"])
    assert [n["name"] for n in offer["frontends"]] == ["docs-fe"]
    # the desired state the worker builds: lb-vpc's agent manages the front-end
    with api.ctx.read() as session:
        want = desired.build(session, api.ctx.home)
        nets = {n.name: n.id for n in session.scalars(select(Network))}
    # an agent knows each node by its namespace's name, fcd-i<id>-<name>
    agents = {a.network_id: sorted(n.name.split("-", 2)[2] for n in a.nodes)
              for a in want.agents}
    assert agents == {nets["lb-vpc"]: ["docs-fe"], nets["search-vpc"]: ["docs-b1", "docs-b2"]}

    settle(api)
    before, events = state(api), created_events(api)
    again = ok(apply(api, EXAMPLE, FILE))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}, again
    assert len(again["changes"]) == 10
    assert state(api) == before and created_events(api) == events

    out = ok(destroy(api, EXAMPLE, FILE))
    done = [(c["kind"], c["name"], c["action"]) for c in out["changes"]]
    assert ("load-balancer", "edge", "deleted") in done
    assert done.index(("service", "search", "deleted")) < \
        done.index(("load-balancer", "edge", "deleted")) < \
        done.index(("network", "lb-vpc", "deleted"))
    assert api.items("/v1/load-balancers") == []
    err(api.req("GET", "/v1/load-balancers/edge"), 404, code="not_found")
    assert [a["name"] for a in api.items("/v1/accounts")] == ["operator"]
    assert not api.dp.nodes and not api.dp.subnets
    again = ok(destroy(api, EXAMPLE, FILE))
    assert {c["action"] for c in again["changes"]} == {"absent"}
    assert ("load-balancer", "edge") in [(c["kind"], c["name"]) for c in again["changes"]]


def test_a_changed_offer_is_a_conflict_at_its_line(api: Any) -> None:
    ok(apply(api, EXAMPLE, FILE))
    settle(api)
    before = state(api)
    # another management subnet of lbco's, added by the same file
    moved = EXAMPLE.replace("subnets: [{name: mgmt, cidr: 10.0.200.0/24}]}\nload_balancers",
                            "subnets: [{name: mgmt, cidr: 10.0.200.0/24},\n"
                            "              {name: m2, cidr: 10.0.201.0/24}]}\nload_balancers"
                            ).replace("management_subnet: lb-vpc/mgmt",
                                      "management_subnet: lb-vpc/m2")
    assert moved.count("lb-vpc/m2") == 1
    e = err(apply(api, moved, FILE), 409, code="conflict")
    assert e["where"].startswith(f"{FILE}:{line_of(moved, 'name: edge')} (load-balancer edge)")
    assert "lb-vpc/mgmt" in e["message"] and "lb-vpc/m2" in e["message"]
    assert state(api) == before
    # the offer's name in another account is that account's own offer (names are unique per
    # account only, docs/api.md "Names"): created beside lbco's, which stays as it was
    other = EXAMPLE.replace("{name: edge, account: lbco,", "{name: edge, account: searchco,") \
        .replace("management_subnet: lb-vpc/mgmt", "management_subnet: search-vpc/mgmt")
    out = ok(apply(api, other, FILE))
    assert {"action": "created", "kind": "load-balancer", "name": "edge"} in out["changes"]
    assert ok(api.req("GET", "/v1/load-balancers/edge?account=lbco"))["management_subnet"] == \
        "lb-vpc/mgmt"
    assert ok(api.req("GET", "/v1/load-balancers/edge?account=searchco"))[
        "account"] == "searchco"


def test_someone_else_cannot_apply_an_offer_of_the_provider(api: Any) -> None:
    ok(apply(api, EXAMPLE, FILE))
    acme = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"]
    settle(api)
    before = state(api)
    only = "load_balancers:\n  - {name: edge, account: lbco, management_subnet: lb-vpc/mgmt}\n"
    e = err(api.req("POST", "/v1/apply", token=acme, json={"yaml": only, "filename": FILE}),
            403, code="forbidden")
    assert e["where"].startswith(f"{FILE}:2 (load-balancer edge)")
    # nor withdraw it: to acme the offer's details are not there to remove
    e = err(api.req("POST", "/v1/destroy", token=acme, json={"yaml": only, "filename": FILE}),
            404, code="not_found")
    assert e["where"].startswith(f"{FILE}:2 (load-balancer edge)")
    assert state(api) == before


BASE = """\
accounts: [{name: acme}, {name: searchco}, {name: lbco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16,
     subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: search-vpc, account: searchco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
  - {name: lb-vpc, account: lbco, cidr: 10.0.0.0/16,
     subnets: [{name: mgmt, cidr: 10.0.200.0/24}]}
"""


@pytest.mark.parametrize(("offer", "status", "code", "words"), [
    # a subnet that does not exist (its network does)
    ("{name: edge, account: lbco, management_subnet: lb-vpc/nope}", 404, "not_found",
     "lb-vpc/nope"),
    # a network that does not exist
    ("{name: edge, account: lbco, management_subnet: no-vpc/mgmt}", 404, "not_found",
     "no-vpc"),
    # another account's subnet that the file does not declare (it exists already)
    ("{name: edge, account: lbco, management_subnet: old-vpc/mgmt}", 403, "forbidden",
     "front-end provider lbco"),
    # an account that does not exist
    ("{name: edge, account: ghost, management_subnet: old-vpc/mgmt}", 404, "not_found",
     "ghost"),
])
def test_a_refused_offer_fails_at_its_line_and_changes_nothing(
        api: Any, offer: str, status: int, code: str, words: str) -> None:
    ok(api.req("POST", "/v1/accounts", json={"name": "oldco"}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "old-vpc", "account": "oldco", "cidr": "10.5.0.0/16",
        "subnets": [{"name": "mgmt", "cidr": "10.5.1.0/24"}]}), 201)
    ok(api.req("POST", "/v1/load-balancers", json={
        "name": "taken", "account": "oldco", "management_subnet": "old-vpc/mgmt"}), 201)
    before = state(api)
    text = (BASE + "services:\n"
            "  - {name: search, account: searchco, workload: search, port: 80, frontend: edge,\n"
            "     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}\n"
            f"load_balancers:\n  - {offer}\n")
    e = err(apply(api, text, FILE), status, code=code)
    assert e["where"].startswith(f"{FILE}:{len(text.splitlines())} (load-balancer "), e
    assert words in e["message"], e
    assert state(api) == before


def test_a_service_may_name_an_offer_declared_later_in_the_file(api: Any) -> None:
    text = (BASE + "appliances:\n"
            "  - {name: docs, account: acme, service: search, subnet: acme-vpc/app}\n"
            "services:\n"
            "  - {name: search, account: searchco, workload: search, port: 80, frontend: edge,\n"
            "     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}\n"
            "load_balancers:\n"
            "  - {name: edge, account: lbco, management_subnet: lb-vpc/mgmt}\n")
    out = ok(apply(api, text, FILE))
    kinds = [c["kind"] for c in out["changes"]]
    assert kinds.index("load-balancer") < kinds.index("service") < kinds.index("appliance")
    assert wait_app(api, "docs", 1)["frontend"]["account"] == "lbco"
    assert ok(api.req("GET", "/v1/services/search"))["frontend"] == "edge"


def test_destroy_keeps_an_offer_another_service_names_and_changes_nothing(api: Any) -> None:
    ok(apply(api, EXAMPLE, FILE))
    ok(api.req("POST", "/v1/services", json={
        "name": "other", "account": "searchco", "workload": "http-echo", "port": 81,
        "frontend": "edge", "backend_subnet": "search-vpc/backend",
        "management_subnet": "search-vpc/mgmt"}), 201)
    only = ("load_balancers:\n"
            "  - {name: edge, account: lbco, management_subnet: lb-vpc/mgmt}\n")
    settle(api)
    before = state(api)
    e = err(destroy(api, only, FILE), 409, code="in_use")
    assert e["where"].startswith(f"{FILE}:2 (load-balancer edge)") and "other" in e["message"]
    assert state(api) == before


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_applies_cleanly_again_unchanged_and_destroys(api: Any,
                                                                     path: Path) -> None:
    text = path.read_text()
    out = ok(apply(api, text, path.name))
    assert {c["action"] for c in out["changes"]} == {"created"}, out
    sc = parse_scenario(text, path.name)
    for app in sc.appliances:
        wait_app(api, app.name, app.backends)
    again = ok(apply(api, text, path.name))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}, again
    gone = ok(destroy(api, text, path.name))
    assert {c["action"] for c in gone["changes"]} == {"deleted"}, gone
    assert [a["name"] for a in api.items("/v1/accounts")] == ["operator"]
    assert api.items("/v1/load-balancers") == []
    assert not api.dp.nodes and not api.dp.subnets
