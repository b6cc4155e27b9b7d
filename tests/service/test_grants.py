"""Subnet grants (docs/composition.md, "Cross-account interfaces"): without a grant another
account's subnet is a 404 and nothing is allocated; with one the grantee's instance gets a leg
there (seen in the data plane's node spec); revoking blocks new interfaces and names the
instances that still use the subnet; only the owner (or the operator) grants; YAML too."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.helpers import err, ok, snapshot

GRANTS = "/v1/subnets/search-vpc/backend/grants"


@pytest.fixture
def w(world: Any) -> Any:
    return world


def _inst(api: Any, name: str, subnet: str, token: str) -> Any:
    return api.req("POST", "/v1/instances", token=token, json={
        "name": name, "interfaces": [{"subnet": "acme-vpc/app"}, {"subnet": subnet}]})


def _bridges(api: Any, name: str) -> set[str]:
    nodes = [s for n, s in api.dp.nodes.items() if n.endswith(name) or name in n]
    assert len(nodes) == 1, list(api.dp.nodes)
    return {p.bridge for p in nodes[0].ports}


def _bridge_of(api: Any, path: str) -> str:
    return str(ok(api.req("GET", f"/v1/subnets/{path}"))["bridge"])


def test_without_a_grant_the_subnet_is_404_and_nothing_is_allocated(w: Any) -> None:
    before = snapshot(w)
    err(_inst(w, "leg", "search-vpc/backend", w.acme), 404, "search-vpc/backend",
        where="interfaces[1]")
    assert snapshot(w) == before
    assert ok(w.req("GET", "/v1/subnets/search-vpc/backend"))["used"] == 0
    # the operator acting for acme is told why, and nothing changes either
    e = err(w.req("POST", "/v1/instances", json={
        "name": "leg", "account": "acme", "interfaces": [{"subnet": "search-vpc/backend"}]}),
        403, "has not granted")
    assert "searchco" in e["message"]
    assert snapshot(w) == before


def test_grant_gives_the_grantee_a_leg_in_the_other_accounts_subnet(w: Any) -> None:
    w.changed = True
    g = ok(w.req("POST", GRANTS, token=w.searchco, json={"account": "acme"}), 201)
    assert (g["subnet"], g["account"], g["used_by"]) == ("search-vpc/backend", "acme", [])
    inst = ok(_inst(w, "leg", "search-vpc/backend", w.acme), 201)
    assert [i["subnet"] for i in inst["interfaces"]] == ["acme-vpc/app", "search-vpc/backend"]
    # the data plane was asked for a node with a port on the other account's bridge
    assert _bridge_of(w, "search-vpc/backend") in _bridges(w, "leg")
    assert ok(w.req("GET", "/v1/subnets/search-vpc/backend"))["used"] == 1
    # the grantee sees its own grant; the owner sees who uses it
    assert [r["account"] for r in w.items(GRANTS, token=w.acme)] == ["acme"]
    assert w.items(GRANTS, token=w.searchco)[0]["used_by"] == ["leg"]
    # a grant to use is not a right to manage: the subnet itself stays the owner's
    err(w.req("GET", "/v1/subnets/search-vpc/backend", token=w.acme), 404)
    err(w.req("DELETE", "/v1/subnets/search-vpc/backend", token=w.acme), 404)
    err(w.req("POST", GRANTS, token=w.acme, json={"account": "acme"}), 403, "owner")
    err(w.req("DELETE", f"{GRANTS}/acme", token=w.acme), 403, "owner")


def test_revoke_blocks_new_interfaces_and_names_the_users(w: Any) -> None:
    w.changed = True
    ok(w.req("POST", GRANTS, token=w.searchco, json={"account": "acme"}), 201)
    ok(_inst(w, "leg1", "search-vpc/backend", w.acme), 201)
    ok(_inst(w, "leg2", "search-vpc/backend", w.acme), 201)
    out = ok(w.req("DELETE", f"{GRANTS}/acme", token=w.searchco))
    assert out["still_used_by"] == ["leg1", "leg2"]
    assert "leg1, leg2" in out["message"] and "keep working" in out["message"]
    events = w.items("/v1/events?limit=1000")
    assert any(e["kind"] == "subnet.revoked" and "leg1, leg2" in e["message"] for e in events)
    before = snapshot(w)
    err(_inst(w, "leg3", "search-vpc/backend", w.acme), 404, "search-vpc/backend")
    assert snapshot(w) == before
    # the existing legs are untouched
    assert _bridge_of(w, "search-vpc/backend") in _bridges(w, "leg1")
    err(w.req("DELETE", f"{GRANTS}/acme", token=w.searchco), 404, "no grant")
    assert w.items(GRANTS, token=w.searchco) == []


def test_grant_errors_change_nothing(w: Any) -> None:
    before = snapshot(w)
    err(w.req("POST", GRANTS, token=w.searchco, json={"account": "nobody"}), 404,
        "nobody", where="account")
    err(w.req("POST", GRANTS, token=w.searchco, json={"account": "searchco"}), 400,
        "needs no grant", where="account")
    err(w.req("POST", "/v1/subnets/search-vpc/nope/grants", token=w.searchco,
                  json={"account": "acme"}), 404, "nope")
    err(w.req("POST", GRANTS, token=w.acme, json={"account": "acme"}), 404)
    err(w.req("POST", GRANTS, token=w.searchco, json={"account": 5}), 422)
    err(w.req("POST", GRANTS, token=w.searchco, json={}), 422)
    assert snapshot(w) == before
    w.changed = True
    ok(w.req("POST", GRANTS, json={"account": "acme"}), 201)  # the operator may grant
    err(w.req("POST", GRANTS, token=w.searchco, json={"account": "acme"}), 409,
        "already")


def test_appliance_front_end_in_a_customer_subnet_needs_no_grant(w: Any) -> None:
    w.changed = True
    app = ok(w.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    assert app["name"] == "docs"
    assert ok(w.req("GET", "/v1/subnets/acme-vpc/app"))["used"] == 2  # client + front-end


YAML = """\
grants:
  - subnet: search-vpc/backend
    account: acme
instances:
  - name: yleg
    account: acme
    interfaces: [acme-vpc/app, search-vpc/backend]
"""


def test_yaml_grants_apply_before_instances_and_are_destroyed(w: Any) -> None:
    w.changed = True
    out = ok(w.req("POST", "/v1/apply", json={"yaml": YAML, "filename": "g.yaml"}))
    kinds = [(c["kind"], c["action"]) for c in out["changes"]]
    assert kinds == [("grant", "created"), ("instance", "created")]
    assert w.items(GRANTS)[0]["used_by"] == ["yleg"]
    again = ok(w.req("POST", "/v1/apply", json={"yaml": YAML, "filename": "g.yaml"}))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}
    out = ok(w.req("POST", "/v1/destroy", json={"yaml": YAML, "filename": "g.yaml"}))
    assert ("grant", "deleted") in [(c["kind"], c["action"]) for c in out["changes"]]
    assert w.items(GRANTS) == []


def test_yaml_grant_errors_name_the_line(w: Any) -> None:
    before = snapshot(w)
    bad = "grants:\n  - subnet: search-vpc/backend\n    acount: acme\n"
    e = err(w.req("POST", "/v1/apply", json={"yaml": bad, "filename": "g.yaml"}), 400,
            "acount")
    assert e["where"] == "g.yaml:3"
    twice = ("grants:\n  - {subnet: search-vpc/backend, account: acme}\n"
             "  - {subnet: search-vpc/backend, account: acme}\n")
    e = err(w.req("POST", "/v1/apply", json={"yaml": twice, "filename": "g.yaml"}), 400,
            "twice")
    assert e["where"] == "g.yaml:3"
    # a stranger's subnet in a file: the same 404, at the grant's line, nothing applied
    e = err(w.req("POST", "/v1/apply", token=w.acme, json={
        "yaml": YAML, "filename": "g.yaml"}), 404, "search-vpc/backend")
    assert e["where"].startswith("g.yaml:2")
    assert snapshot(w) == before
