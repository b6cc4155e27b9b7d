"""Chained appliances on the fake data plane: a service's `upstream`, its resolution to a live
appliance in the backend subnet, the upstream file the worker writes, who sees `uses` and
`used_by`, loops refused, and deletion refused while used unless the caller chose: a cascade
(`force`) or the appliance alone (`detach`) (the file's rules: tests/unit/test_chains.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from facade.store.models import Appliance
from tests.service.helpers import err, ok, settle

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chain.yaml"


def _apply(api: Any, text: str, filename: str = "chain.yaml", status: int = 200) -> Any:
    return api.req("POST", "/v1/apply", json={"yaml": text, "filename": filename})


@pytest.fixture
def chain(api: Any) -> Any:
    ok(_apply(api, EXAMPLE.read_text()))
    settle(api)
    for name in ("acme", "webco", "searchco"):
        setattr(api, name, ok(api.req("POST", f"/v1/accounts/{name}/tokens"), 201)["token"])
    return api


def _get(api: Any, name: str, token: str | None = "op") -> Any:
    return ok(api.req("GET", f"/v1/appliances/{name}", token=token))


def _upstream_file(api: Any, name: str) -> dict[str, Any]:
    """What the worker wrote for the backends of appliance `name` to read."""
    with api.ctx.read() as session:
        app_id = session.scalar(select(Appliance.id).where(Appliance.name == name))
    return dict(json.loads((api.ctx.home / "appliances" / str(app_id) / "upstream.json")
                           .read_text()))


def test_the_worker_tells_the_backends_where_their_upstream_is(chain: Any) -> None:
    index = _get(chain, "site-index")
    assert _upstream_file(chain, "site") == {
        "appliance": "site-index", "endpoint": f"{index['endpoint']['ip']}:80"}
    # the web backends are started with that file; the search backends call nothing
    argvs = [spec.argv for spec, _ in chain.dp.processes.values()]
    site_b1 = next(v for v in argvs if "site-b1" in v)
    assert "facade.workloads.web" in site_b1 and "--upstream-file" in site_b1
    assert _upstream_file(chain, "site-index") == {"appliance": None, "endpoint": None}


def test_uses_and_used_by_as_each_party_sees_them(chain: Any) -> None:
    op = _get(chain, "site")
    assert op["uses"] == ["site-index"] and op["upstream"] == "site-index"
    assert _get(chain, "site-index")["used_by"] == ["site"]
    # the customer sees one appliance in its subnet: nothing of what it is built from
    acme = _get(chain, "site", chain.acme)
    assert acme["uses"] == [] and acme["upstream"] is None and acme["used_by"] == []
    assert chain.req("GET", "/v1/appliances/site-index", token=chain.acme).status_code == 404
    assert "site-index" not in json.dumps(ok(chain.req("GET", "/v1/topology", token=chain.acme)))
    assert ok(chain.req("GET", "/v1/services/web", token=chain.acme))["upstream"] is None
    # webco, provider of site and customer of site-index, sees both ends
    assert _get(chain, "site", chain.webco)["uses"] == ["site-index"]
    assert _get(chain, "site-index", chain.webco)["used_by"] == ["site"]
    assert ok(chain.req("GET", "/v1/services/web", token=chain.webco))["upstream"] == "site-index"
    # searchco, provider of site-index, never learns who its customer's customers are
    search = _get(chain, "site-index", chain.searchco)
    assert search["used_by"] == [] and search["uses"] == []
    assert chain.req("GET", "/v1/appliances/site", token=chain.searchco).status_code == 404
    topo = ok(chain.req("GET", "/v1/topology", token=chain.searchco))
    assert [a["name"] for a in topo["appliances"]] == ["site-index"]
    assert topo["appliances"][0]["used_by"] == []
    full = {a["name"]: a for a in ok(chain.req("GET", "/v1/topology"))["appliances"]}
    assert full["site"]["uses"] == ["site-index"] and full["site-index"]["used_by"] == ["site"]
    assert full["site"]["backends"] == ["site-b1", "site-b2"]


def test_an_upstream_may_be_named_before_it_exists(chain: Any) -> None:
    ok(chain.req("POST", "/v1/services", json={
        "name": "later", "account": "webco", "workload": "web", "port": 8080,
        "backend_subnet": "web-vpc/backend", "management_subnet": "web-vpc/mgmt",
        "upstream": "later-index"}), 201)
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "late", "account": "acme", "service": "later", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    settle(chain)
    assert _get(chain, "late")["uses"] == []
    assert _upstream_file(chain, "late") == {"appliance": "later-index", "endpoint": None}
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "later-index", "account": "webco", "service": "search",
        "subnet": "web-vpc/backend", "backends": 1}), 202)
    settle(chain)
    ep = _get(chain, "later-index")["endpoint"]
    assert _get(chain, "late")["uses"] == ["later-index"]
    assert _upstream_file(chain, "late")["endpoint"] == f"{ep['ip']}:{ep['port']}"


def test_an_appliance_elsewhere_is_not_an_upstream(chain: Any) -> None:
    """Only an appliance in the service's backend subnet resolves: an appliance of the same
    name in another subnet (the customer's, say) is never called."""
    e = err(chain.req("POST", "/v1/services", json={
        "name": "wrong", "account": "webco", "workload": "web", "port": 81,
        "backend_subnet": "web-vpc/backend", "management_subnet": "web-vpc/mgmt",
        "upstream": "site"}), 400, "acme-vpc/app", "backend subnet", where="upstream")
    assert e["code"] == "invalid"
    # an appliance webco cannot see is as good as absent: accepted, never resolved
    ok(chain.req("POST", "/v1/services", json={
        "name": "blind", "account": "webco", "workload": "web", "port": 82,
        "backend_subnet": "web-vpc/backend", "management_subnet": "web-vpc/mgmt",
        "upstream": "decoy"}, token=chain.webco), 201)
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "decoy", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "blind-1", "account": "acme", "service": "blind", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    settle(chain)
    assert _get(chain, "blind-1")["uses"] == [] and _get(chain, "decoy")["used_by"] == []
    assert _upstream_file(chain, "blind-1")["endpoint"] is None
    err(chain.req("POST", "/v1/services", json={
        "name": "bad-name", "account": "webco", "workload": "web", "port": 83,
        "backend_subnet": "web-vpc/backend", "management_subnet": "web-vpc/mgmt",
        "upstream": "Not A Name"}), 400, where="upstream")


def test_a_loop_of_appliances_is_refused(chain: Any) -> None:
    # webco's "loop" service calls "loop-1", which would be an appliance of "loop" itself
    ok(chain.req("POST", "/v1/services", json={
        "name": "loop", "account": "webco", "workload": "web", "port": 90,
        "backend_subnet": "web-vpc/backend", "management_subnet": "web-vpc/mgmt",
        "upstream": "loop-1"}), 201)
    err(chain.req("POST", "/v1/appliances", json={
        "name": "loop-1", "account": "webco", "service": "loop", "subnet": "web-vpc/backend",
        "backends": 1}), 409, "loop", where="name")
    # the same name elsewhere (a customer's subnet) is never the upstream: no loop, accepted
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "loop-1", "account": "acme", "service": "loop", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    assert _get(chain, "loop-1")["uses"] == []
    # two steps: "ping" calls "pong-1" (of "pong"), "pong" calls "ping-1" (of "ping")
    for svc, up in (("ping", "pong-1"), ("pong", "ping-1")):
        ok(chain.req("POST", "/v1/services", json={
            "name": svc, "account": "webco", "workload": "web", "port": 91,
            "backend_subnet": "web-vpc/backend", "management_subnet": "web-vpc/mgmt",
            "upstream": up}), 201)
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "ping-1", "account": "webco", "service": "ping", "subnet": "web-vpc/backend",
        "backends": 1}), 202)
    e = err(chain.req("POST", "/v1/appliances", json={
        "name": "pong-1", "account": "webco", "service": "pong", "subnet": "web-vpc/backend",
        "backends": 1}), 409, "loop", "ping-1")
    assert "pong-1" in e["message"]
    assert chain.req("GET", "/v1/appliances/pong-1").status_code == 404


def test_deleting_a_used_appliance_is_refused_and_changes_nothing(chain: Any) -> None:
    before = _get(chain, "site-index")
    e = err(chain.req("DELETE", "/v1/appliances/site-index", token=chain.webco), 409,
            "used by site", "--force", "--detach", code="in_use", where="appliance")
    assert "force=true" in e["message"] and "detach=true" in e["message"]
    assert _get(chain, "site-index") == before
    assert not [ev for ev in chain.items("/v1/events?limit=1000")
                if ev["kind"] == "appliance.deleting"]
    # the user itself goes without ceremony; then its upstream is free to go too
    ok(chain.req("DELETE", "/v1/appliances/site"), 202)
    ok(chain.req("DELETE", "/v1/appliances/site-index", token=chain.webco), 202)


def test_detach_deletes_the_upstream_alone_and_marks_its_users(chain: Any) -> None:
    answer = ok(chain.req("DELETE", "/v1/appliances/site-index?detach=true",
                          token=chain.webco), 202)
    assert answer["status"] == "deleting" and answer["deleted_with"] == []
    deadline = time.monotonic() + 5
    while chain.req("GET", "/v1/appliances/site-index").status_code != 404:
        assert time.monotonic() < deadline, "site-index was not removed"
        time.sleep(0.02)
    site = _get(chain, "site")
    assert site["status"] == "ready" and len(site["backends"]) == 2
    assert site["uses"] == [] and site["upstream"] == "site-index"
    assert _upstream_file(chain, "site") == {"appliance": "site-index", "endpoint": None}
    events = chain.items("/v1/events?limit=1000")
    lost = [ev for ev in events if ev["kind"] == "appliance.upstream_lost"]
    assert [ev["object"] for ev in lost] == ["site"] and "site-index" in lost[0]["message"]


def test_only_the_owner_may_force(chain: Any) -> None:
    """force and detach change what is refused for being used, never who may delete."""
    for how in ("force", "detach"):
        err(chain.req("DELETE", f"/v1/appliances/site-index?{how}=true", token=chain.searchco),
            403, "only the customer")
    assert _get(chain, "site-index")["status"] == "ready"
    # a cascade reaches no appliance the caller may not delete: webco may not delete acme's
    # site, so nothing changes and it is told how to delete its own appliance alone
    before = [_get(chain, "site"), _get(chain, "site-index")]
    err(chain.req("DELETE", "/v1/appliances/site-index?force=true", token=chain.webco), 403,
        "site (of acme)", "--detach", where="appliance")
    assert [_get(chain, "site"), _get(chain, "site-index")] == before
    err(chain.req("DELETE", "/v1/appliances/site-index?force=true&detach=true"), 400,
        "not both", where="detach")


def test_force_cascades_to_every_user_down_the_chain(chain: Any) -> None:
    """The operator (or a customer that owns the whole chain) deletes an upstream with its
    users, and their users, in one request; appliances off the chain stay."""
    # a chain of three beside site's: top (acme's portal) -> mid (webco's web, in webco's
    # backend subnet) -> site-index
    ok(chain.req("POST", "/v1/services", json={
        "name": "portal", "account": "webco", "workload": "web", "port": 81,
        "backend_subnet": "web-vpc/backend", "management_subnet": "web-vpc/mgmt",
        "upstream": "mid"}), 201)
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "mid", "account": "webco", "service": "web", "subnet": "web-vpc/backend",
        "backends": 1}), 202)
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "top", "account": "acme", "service": "portal", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    ok(chain.req("POST", "/v1/appliances", json={
        "name": "aside", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    settle(chain)
    assert _get(chain, "site-index")["used_by"] == ["site", "mid"]
    assert _get(chain, "mid")["used_by"] == ["top"]
    answer = ok(chain.req("DELETE", "/v1/appliances/site-index?force=true"), 202)
    assert answer["deleted_with"] == ["site", "mid", "top"]
    deadline = time.monotonic() + 5
    while [a["name"] for a in chain.items("/v1/appliances")] != ["aside"]:
        assert time.monotonic() < deadline, chain.items("/v1/appliances")
        time.sleep(0.02)
    events = chain.items("/v1/events?limit=1000")
    cascaded = {ev["object"] for ev in events if ev["kind"] == "appliance.cascade"}
    assert cascaded == {"site", "mid", "top"}
    assert not [ev for ev in events if ev["kind"] == "appliance.upstream_lost"]


def test_destroy_takes_the_whole_chain_or_refuses_outside_users(chain: Any) -> None:
    part = ("# the search part only\nappliances:\n  - {name: site-index, account: webco, "
            "service: search, subnet: web-vpc/backend, backends: 2}\n")
    e = err(chain.req("POST", "/v1/destroy", json={"yaml": part, "filename": "part.yaml"}),
            409, "used by site", code="in_use")
    assert e["where"].startswith("part.yaml:3"), e
    assert _get(chain, "site-index")["status"] == "ready"
    # the whole file: users and upstream go together
    done = ok(chain.req("POST", "/v1/destroy", json={"yaml": EXAMPLE.read_text(),
                                                     "filename": "chain.yaml"}))
    assert {"action": "deleted", "kind": "appliance", "name": "site-index"} in done["changes"]
    assert chain.items("/v1/appliances") == []


# -- the scenario file ------------------------------------------------------------------------




def test_applying_again_compares_the_upstream(chain: Any) -> None:
    text = EXAMPLE.read_text()
    assert all(c["action"] == "unchanged" for c in ok(_apply(chain, text))["changes"])
    changed = text.replace("upstream: site-index", "upstream: other-index")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "name: web," in t)
    err(_apply(chain, changed), 409, "upstream", "other-index", where=f"chain.yaml:{line}")
