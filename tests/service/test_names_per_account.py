"""Names per account (docs/api.md, "Names"): two accounts both call their network `prod`, its
subnet `app`, an instance `web`, a service `search` and an appliance `docs`; each sees and
changes only its own; a 409 is about the caller's own names only; another account's object is
the same 404 as none; a bare name several visible objects have is a 400 naming them; the
operator says whose (`?account=`, `account/name`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.service.helpers import err, ok, settle

TENANTS = ("acme", "evil")


def _build(api: Any, account: str, token: str) -> None:
    """`account`'s own prod network, instance web, service search and appliance docs, all
    created with its own token and bare names only where they are its own."""
    ok(api.req("POST", "/v1/networks", token=token, json={
        "name": "prod", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"},
                    {"name": "backend", "cidr": "10.0.2.0/24"},
                    {"name": "mgmt", "cidr": "10.0.3.0/24"}]}), 201)
    ok(api.req("POST", "/v1/instances", token=token, json={
        "name": "web", "interfaces": [{"subnet": "prod/app"}]}), 201)
    ok(api.req("POST", "/v1/services", token=token, json={
        "name": "search", "workload": "http-echo", "port": 80,
        "backend_subnet": "prod/backend", "management_subnet": "prod/mgmt"}), 201)


@pytest.fixture
def twins(api: Any) -> Any:
    """acme and evil (tokens `api.acme`, `api.evil`), each with the same names: acme's made
    first, evil's second; then each its appliance docs of its own service search."""
    for name in TENANTS:
        ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
        setattr(api, name, ok(api.req("POST", f"/v1/accounts/{name}/tokens"), 201)["token"])
    for name in TENANTS:
        _build(api, name, getattr(api, name))
    for name in TENANTS:
        ok(api.req("POST", "/v1/appliances", token=getattr(api, name), json={
            "name": "docs", "service": f"{name}/search", "subnet": "prod/app",
            "backends": 1}), 202)
    settle(api)
    return api


def test_each_account_has_its_own_objects_of_the_same_names(twins: Any) -> None:
    for name in TENANTS:
        token = getattr(twins, name)
        for path in ("/v1/networks/prod", "/v1/instances/web", "/v1/services/search",
                     "/v1/appliances/docs"):
            assert ok(twins.req("GET", path, token=token))["account"] == name, path
        assert ok(twins.req("GET", "/v1/subnets/prod/app", token=token))["account"] == name
        for path in ("/v1/networks", "/v1/instances", "/v1/appliances", "/v1/subnets"):
            assert {i["account"] for i in twins.items(path, token=token)} == {name}, path
        app = ok(twins.req("GET", "/v1/appliances/docs", token=token))
        assert app["service"] == "search" and app["subnet"] == "prod/app"
    acme = ok(twins.req("GET", "/v1/instances/web", token=twins.acme))
    evil = ok(twins.req("GET", "/v1/instances/web", token=twins.evil))
    assert acme["netns"] != evil["netns"]  # kernel names come from ids, not names
    # each provider's nodes: named among its appliance's customer's names
    node = ok(twins.req("GET", "/v1/instances/docs-fe", token=twins.evil))
    assert node["account"] == "evil" and node["appliance"] == "docs"


def test_a_create_with_anothers_names_leaves_its_objects_untouched(api: Any) -> None:
    for name in TENANTS:
        ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
        setattr(api, name, ok(api.req("POST", f"/v1/accounts/{name}/tokens"), 201)["token"])
    _build(api, "acme", api.acme)
    before = {path: ok(api.req("GET", path, token=api.acme))
              for path in ("/v1/networks/prod", "/v1/instances/web", "/v1/services/search")}
    _build(api, "evil", api.evil)  # no 409: acme's names are not evil's business
    settle(api)
    for path, was in before.items():
        now = ok(api.req("GET", path, token=api.acme))
        assert {k: v for k, v in now.items() if k not in ("status", "management")} == \
            {k: v for k, v in was.items() if k not in ("status", "management")}, path


def test_a_409_is_about_the_callers_own_names_only(twins: Any) -> None:
    for name in TENANTS:
        token = getattr(twins, name)
        for path, body, what in (
                ("/v1/networks", {"name": "prod", "cidr": "10.9.0.0/16"}, "network 'prod'"),
                ("/v1/instances", {"name": "web", "interfaces": [{"subnet": "prod/app"}]},
                 "instance 'web'"),
                ("/v1/services", {"name": "search", "workload": "http-echo", "port": 81,
                                  "backend_subnet": "prod/backend",
                                  "management_subnet": "prod/mgmt"},
                 "appliance service 'search'"),
                ("/v1/appliances", {"name": "docs", "service": f"{name}/search",
                                    "subnet": "prod/app"}, "appliance 'docs'")):
            body_err = err(twins.req("POST", path, token=token, json=body), 409,
                           what, "already exists")
            other = "evil" if name == "acme" else "acme"
            assert other not in str(body_err), path  # never names the other account


def test_anothers_object_is_the_same_404_as_none(twins: Any) -> None:
    ok(twins.req("POST", "/v1/networks", token=twins.acme, json={
        "name": "secret", "cidr": "10.8.0.0/16"}), 201)
    for theirs, none in (("/v1/networks/secret", "/v1/networks/nothing"),
                         ("/v1/networks/prod?account=acme", "/v1/networks/nothing?account=acme"),
                         ("/v1/networks/prod?account=acme", "/v1/networks/prod?account=nobody"),
                         ("/v1/instances/web?account=acme", "/v1/instances/nothing?account=acme"),
                         ("/v1/appliances/docs?account=acme",
                          "/v1/appliances/nothing?account=acme"),
                         ("/v1/subnets/prod/app?account=acme",
                          "/v1/subnets/prod/nothing?account=acme"),
                         ("/v1/instances/docs-fe?account=acme",
                          "/v1/instances/nothing?account=acme")):
        a = twins.req("GET", theirs, token=twins.evil)
        b = twins.req("GET", none, token=twins.evil)
        assert a.status_code == b.status_code == 404, (theirs, a.text)
        asked_a, asked_b = _asked(theirs), _asked(none)
        assert a.content.replace(asked_a.encode(), b"NAME") == \
            b.content.replace(asked_b.encode(), b"NAME"), (a.text, b.text)
    # and a delete of it changes nothing
    err(twins.req("DELETE", "/v1/networks/prod?account=acme", token=twins.evil), 404)
    assert ok(twins.req("GET", "/v1/networks/prod", token=twins.acme))["account"] == "acme"


def _asked(path: str) -> str:
    """The reference a 404 names for `path`: account/name, or the name alone."""
    route, _, query = path.partition("?")
    parts = route.split("/")[3:]
    name = "/".join(parts)
    return f"{query.split('=')[1]}/{name}" if query else name


def test_a_bare_name_many_visible_objects_have_is_a_400_naming_them(twins: Any) -> None:
    for token in (twins.acme, "op"):
        body = err(twins.req("POST", "/v1/appliances", token=token, json={
            "name": "other", "account": "acme", "service": "search", "subnet": "prod/app"}),
            400, "ambiguous", "acme/search", "evil/search")
        assert body["where"] == "service"
    # a name only one account offers is found bare, by anyone (existing files keep working)
    ok(twins.req("POST", "/v1/services", token=twins.evil, json={
        "name": "only", "workload": "http-echo", "port": 80,
        "backend_subnet": "prod/backend", "management_subnet": "prod/mgmt"}), 201)
    ok(twins.req("POST", "/v1/appliances", token=twins.acme, json={
        "name": "uses-only", "service": "only", "subnet": "prod/app"}), 202)
    app = ok(twins.req("GET", "/v1/appliances/uses-only", token=twins.acme))
    assert app["service"] == "only" and app["account"] == "acme"
    # a caller's own name is its own even where another account has it too
    assert ok(twins.req("GET", "/v1/services/search", token=twins.evil))["account"] == "evil"
    # another provider's service by account/name: public, so visible
    assert ok(twins.req("GET", "/v1/services/search?account=acme",
                        token=twins.evil))["account"] == "acme"


def test_the_operator_says_whose(twins: Any) -> None:
    body = err(twins.req("GET", "/v1/networks/prod"), 400, "ambiguous", "acme/prod",
               "evil/prod")
    assert body["where"] == "network"
    err(twins.req("GET", "/v1/subnets/prod/app"), 400, "acme/prod/app", "evil/prod/app")
    for name in TENANTS:
        assert ok(twins.req("GET", f"/v1/networks/prod?account={name}"))["account"] == name
        assert ok(twins.req("GET", f"/v1/subnets/prod/app?account={name}"))["account"] == name
        assert ok(twins.req("GET", f"/v1/appliances/docs?account={name}"))["account"] == name
    err(twins.req("GET", "/v1/networks/prod?account=NOT-A-NAME"), 400, "account")
    # a body reference: account/network/subnet
    made = ok(twins.req("POST", "/v1/instances", json={
        "name": "extra", "account": "evil", "interfaces": [{"subnet": "evil/prod/app"}]}), 201)
    assert made["account"] == "evil"
    assert made["interfaces"][0]["subnet"] == "prod/app"
    ok(twins.req("DELETE", "/v1/instances/extra?account=evil"), 204)
    settle(twins)
    err(twins.req("GET", "/v1/instances/extra?account=evil"), 404)
    assert ok(twins.req("GET", "/v1/instances/web?account=evil"))["account"] == "evil"


def test_a_granted_subnet_of_another_account_by_account_network_subnet(twins: Any) -> None:
    iface = {"name": "probe", "interfaces": [{"subnet": "prod/app"}, {"subnet": "acme/prod/app"}]}
    err(twins.req("POST", "/v1/instances", token=twins.evil, json=iface), 404, "acme/prod/app")
    ok(twins.req("POST", "/v1/subnets/prod/app/grants", token=twins.acme,
                 json={"account": "evil"}), 201)
    made = ok(twins.req("POST", "/v1/instances", token=twins.evil, json=iface), 201)
    assert [i["subnet"] for i in made["interfaces"]] == ["prod/app", "prod/app"]
    # a bare network/subnet is the caller's own first, even with a grant of the same path
    assert made["interfaces"][0]["ip"].startswith("10.0.1.")


def test_events_of_a_shared_name_are_shown_to_their_owner_only(twins: Any) -> None:
    """Each event carries the account it is about: acme reads its own `prod` and `web`
    events, never evil's of the same names; the operator reads both, and each one's alone
    with `?account=`."""
    for name in TENANTS:
        token = getattr(twins, name)
        mine = twins.items("/v1/events", token=token)
        created = [e for e in mine if e["kind"] == "network.created" and e["object"] == "prod"]
        assert len(created) == 1 and created[0]["account"] == name
        assert {e["account"] for e in mine} == {name}  # the controller's kernel events too
        assert [e["kind"] for e in mine if e["object"] == "web"] == ["instance.created"]
        only = twins.items(f"/v1/events?account={name}")
        # the same events (the controller's agents' polls may have added newer ones since)
        assert [e for e in only if e not in mine] == only[:len(only) - len(mine)]
        assert only[len(only) - len(mine):] == mine
    everyone = [e["object"] for e in twins.items("/v1/events")]
    assert everyone.count("prod") == 2


def test_the_controllers_events_about_kernel_objects_carry_their_account(twins: Any) -> None:
    """The controller's events name kernel objects (a node's namespace, a router, a bridge, a
    workload process): each carries the account of the object it was made for, so that
    `?account=` finds each account's, never the other's, and the fabric's carry none."""
    for name in TENANTS:
        token = getattr(twins, name)
        web = ok(twins.req("GET", "/v1/instances/web", token=token))["netns"]
        net = ok(twins.req("GET", "/v1/networks/prod", token=token))["router"]
        bridge = ok(twins.req("GET", "/v1/subnets/prod/app", token=token))["bridge"]
        only = twins.items(f"/v1/events?account={name}")
        kernel = [e for e in only if e["kind"].startswith("reconcile.")]
        assert {e["object"] for e in kernel} >= {web, net, bridge}
        assert {e["account"] for e in kernel} == {name}
        # the store's own rows say whose each object is: the event agrees for every one
        every = [e for e in twins.items("/v1/events") if e["object"] in (web, net, bridge)]
        assert every and {e["account"] for e in every} == {name}
        other = "evil" if name == "acme" else "acme"
        theirs = ok(twins.req("GET", "/v1/instances/web", token=getattr(twins, other)))["netns"]
        assert theirs not in {e["object"] for e in only}
    fabric = [e for e in twins.items("/v1/events") if e["object"] == "fabric"]
    assert all(e["account"] is None for e in fabric)
    assert not [e for e in twins.items("/v1/events", token=twins.acme) if e["object"] == "fabric"]


def test_the_cli_names_another_accounts_object_as_account_slash_name(
        twins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`facade network show acme/prod` asks for acme's prod (`?account=acme`), with the
    operator's token; a bare name two accounts have is the API's 400, one line."""
    import httpx

    from facade.cli import client
    from facade.cli.main import app
    from tests.clirunner import CliRunner

    def forward(request: httpx.Request) -> httpx.Response:
        keep = {k: v for k, v in request.headers.items()
                if k.lower() in ("authorization", "content-type")}
        resp = twins.client.request(request.method, str(request.url.copy_with(
            scheme="http", netloc=b"testserver")), content=request.content, headers=keep)
        return httpx.Response(resp.status_code, content=resp.content,
                              headers={"content-type": resp.headers.get("content-type", "")})

    monkeypatch.setattr(client, "transport_factory", lambda: httpx.MockTransport(forward))
    monkeypatch.setenv("FACADE_TOKEN", twins.token)
    monkeypatch.delenv("FACADE_URL", raising=False)

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, list(args))

    for name in TENANTS:
        shown = run("network", "show", f"{name}/prod", "--json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["account"] == name
        sub = run("subnet", "show", f"{name}/prod/app", "--json")
        assert sub.exit_code == 0 and json.loads(sub.output)["account"] == name, sub.output
    bare = run("network", "show", "prod")
    assert bare.exit_code == 2 and "acme/prod" in bare.output and "evil/prod" in bare.output
    # a grant on acme's subnet (the grantee in the body; revoke's query is ?subnet_account=)
    granted = run("subnet", "grant", "acme/prod/app", "evil")
    assert granted.exit_code == 0, granted.output
    listed = run("subnet", "grants", "acme/prod/app", "--json")
    assert [g["account"] for g in json.loads(listed.output)] == ["evil"], listed.output
    assert [g["account"] for g in twins.items("/v1/subnets/prod/app/grants?account=acme")] \
        == ["evil"]
    assert twins.items("/v1/subnets/prod/app/grants?account=evil") == []
    revoked = run("subnet", "revoke", "acme/prod/app", "evil")
    assert revoked.exit_code == 0, revoked.output
    assert twins.items("/v1/subnets/prod/app/grants?account=acme") == []
    web = run("instance", "show", "evil/web", "--json")
    assert web.exit_code == 0 and json.loads(web.output)["account"] == "evil", web.output
    gone = run("appliance", "delete", "evil/docs", "--no-wait")
    assert gone.exit_code == 0, gone.output
    assert ok(twins.req("GET", "/v1/appliances/docs?account=acme"))["status"] != "deleting"
    left = twins.req("GET", "/v1/appliances/docs?account=evil")
    assert left.status_code == 404 or left.json()["status"] == "deleting"
