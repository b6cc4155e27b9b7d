"""Regressions for bad input the API fuzzing (test_api_fuzz.py) and its follow-up probes found:
each was a 500, accepted input the worker could not use, or a refused request that changed state.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.service.helpers import err, ok, service_body, snapshot

DOCS_APPLIANCE = {"name": "docs", "account": "acme", "service": "search",
                  "subnet": "acme-vpc/app", "backends": 1}


def raw(api: Any, method: str, path: str, text: str, token: str | None = "op") -> Any:
    """Send JSON text as is (json.dumps escapes a lone surrogate as \\ud800, which is valid JSON)."""
    tok = api.token if token == "op" else token
    return api.client.request(method, path, content=text.encode(), headers={
        "Authorization": f"Bearer {tok}", "Content-Type": "application/json"})


# -- exec: arguments execve(2) cannot take were a 500 ----------------------------------------

@pytest.mark.parametrize("arg", ["\ud800", "a\x00b"])
def test_exec_argument_with_nul_or_lone_surrogate_is_400(world: Any, arg: str) -> None:
    resp = raw(world, "POST", "/v1/instances/client/exec", json.dumps({"argv": ["echo", arg]}))
    err(resp, 400, "NUL", where="argv[1]")


# -- services: commands and health paths the worker would choke on ---------------------------

@pytest.mark.parametrize("command", ["prog {ip}\n{port}", "prog\x00 {ip} {port}",
                                     "prog {port:>999999999}", "prog {ip!r}"])
def test_service_command_the_worker_cannot_run_is_400(world: Any, command: str) -> None:
    err(world.req("POST", "/v1/services", json=service_body(workload=..., command=command)),
        400, where="command")


@pytest.mark.parametrize("path", ["/a b", "/x\nHost: evil", "/\x00", "/\t"])
def test_health_path_with_space_or_control_character_is_400(world: Any, path: str) -> None:
    err(world.req("POST", "/v1/services", json=service_body(health_path=path)), 400,
        "health_path", where="health_path")


def test_good_command_and_health_path_are_still_accepted(world: Any) -> None:
    ok(world.req("POST", "/v1/services", json=service_body(
        workload=..., command="prog --ip {ip} --port={port} {name}", health_path="/health?x=1")),
        201)
    world.changed = True


# -- destroy: a file refused in its second phase had already deleted its appliances ----------

def _destroy(api: Any, token: str, text: str) -> Any:
    return api.req("POST", "/v1/destroy", token=token, json={"yaml": text, "filename": "d.yaml"})


def test_destroy_naming_another_tenants_network_changes_nothing(world: Any) -> None:
    api = world
    ok(api.req("POST", "/v1/appliances", json=DOCS_APPLIANCE), 202)
    before = snapshot(api)
    err(_destroy(api, api.acme, """
appliances: [{name: docs, account: acme, service: search, subnet: acme-vpc/app}]
instances: [{name: client, account: acme, interfaces: [acme-vpc/app]}]
networks: [{name: search-vpc, account: searchco, cidr: 10.0.0.0/16}]
"""), 404, "search-vpc")
    assert snapshot(api) == before
    assert ok(api.req("GET", "/v1/appliances/docs"))["status"] == "ready"
    api.changed = True


def test_destroy_of_a_network_still_used_elsewhere_changes_nothing(world: Any) -> None:
    """The file deletes `client` and network acme-vpc, but appliance docs (not in the file)
    still uses acme-vpc/app: refused up front, and client is kept."""
    api = world
    ok(api.req("POST", "/v1/appliances", json=DOCS_APPLIANCE), 202)
    before = snapshot(api)
    err(_destroy(api, "op", """
instances: [{name: client, account: acme, interfaces: [acme-vpc/app]}]
networks: [{name: acme-vpc, account: acme, cidr: 10.0.0.0/16}]
"""), 409, "docs", code="in_use")
    assert snapshot(api) == before
    assert ok(api.req("GET", "/v1/instances/client"))["status"] == "active"
    api.changed = True


def test_destroy_of_accounts_by_an_account_token_changes_nothing(world: Any) -> None:
    api = world
    before = snapshot(api)
    err(_destroy(api, api.acme, """
accounts: [{name: acme}]
instances: [{name: client, account: acme, interfaces: [acme-vpc/app]}]
"""), 403, "operator")
    assert snapshot(api) == before


def test_destroy_still_works(world: Any) -> None:
    api = world
    ok(api.req("POST", "/v1/appliances", json=DOCS_APPLIANCE), 202)
    out = ok(_destroy(api, "op", """
appliances: [{name: docs, account: acme, service: search, subnet: acme-vpc/app}]
instances: [{name: client, account: acme, interfaces: [acme-vpc/app]}]
networks: [{name: acme-vpc, account: acme, cidr: 10.0.0.0/16}]
"""))
    assert [(c["action"], c["name"]) for c in out["changes"]] == [
        ("deleted", "docs"), ("deleted", "client"), ("deleted", "acme-vpc")]
    err(api.req("GET", "/v1/networks/acme-vpc"), 404)
    api.changed = True


# -- the OpenAPI document describes the errors the API sends ---------------------------------

def test_openapi_declares_the_error_shape(world: Any) -> None:
    doc = ok(world.client.get("/openapi.json"))
    responses = doc["paths"]["/v1/instances"]["post"]["responses"]
    for status in ("400", "401", "403", "404", "409", "422"):
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorRead"), (status, ref)


def test_openapi_declares_the_bearer_scheme_on_every_authenticated_route(world: Any) -> None:
    """Generated clients learn how to authenticate from the document: one bearer scheme, on
    every operation that needs a token and on none that does not (the health check)."""
    doc = ok(world.client.get("/openapi.json"))
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"][
            "securitySchemes"]["bearer"]["description"]}
    secured = {(path, verb) for path, ops in doc["paths"].items() for verb, op in ops.items()
               if op.get("security") == [{"bearer": []}]}
    assert ("/v1/appliances", "post") in secured and ("/v1/networks", "get") in secured
    assert ("/v1/health", "get") not in secured
    every = {(path, verb) for path, ops in doc["paths"].items() for verb in ops}
    assert every - secured == {("/v1/health", "get")}, every - secured
    # a token sent as the scheme says is accepted, any other way is the API's own 401
    assert world.client.get("/v1/networks", headers={
        "Authorization": f"bearer  {world.token}"}).status_code == 200
    for header in ({}, {"Authorization": f"Basic {world.token}"},
                   {"Authorization": "Bearer nope"}):
        r = world.client.get("/v1/networks", headers=header)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text


# -- the database's unique constraints are a backstop: a clean 409, never a 500 --------------

def test_unique_constraint_backstop_is_409_and_changes_nothing(world: Any,
                                                               monkeypatch: Any) -> None:
    """As if another writer took the name between the check and the insert (a second control
    plane on the same database, where the in-process write lock cannot help)."""
    from facade.service import instances

    api = world
    before = snapshot(api)
    monkeypatch.setattr(instances, "check_free_name", lambda *a, **kw: None)
    client = api.client.__class__(api.client.app, raise_server_exceptions=False)
    resp = client.post("/v1/instances", headers={"Authorization": f"Bearer {api.token}"}, json={
        "name": "client", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]})
    err(resp, 409, "concurrent", code="conflict")
    assert snapshot(api) == before


# -- numbers: no silent coercion of booleans or floats into counts and ports -----------------

@pytest.mark.parametrize("value", ["true", "1e2", "3.0", "\"3\""])
def test_backends_must_be_a_json_integer(world: Any, value: str) -> None:
    before = snapshot(world)
    resp = raw(world, "PATCH", "/v1/appliances/docs", '{"backends": ' + value + "}")
    err(resp, 422, where="backends")
    assert snapshot(world) == before
