"""Names per account across accounts (docs/api.md, "Names"): a Location the operator is given
says whose object it is; a service's upstream may be ACCOUNT/NAME (a bare one several
accounts' appliances share where the backends reach is a 400); events reach the account they
are about, the provider of an appliance included, and `?account=` filters them for the
operator; one scenario file declares the same names for two accounts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from facade.cli import client
from facade.cli.main import app
from facade.store.models import Appliance
from tests.clirunner import CliRunner
from tests.service.helpers import err, ok, settle
from tests.service.test_names_per_account import TENANTS, twins  # noqa: F401 (a fixture)


def test_following_a_location_finds_that_accounts_object(twins: Any) -> None:  # noqa: F811
    """The operator makes `extra` (a network, a subnet, an instance, an appliance) for both
    accounts: each Location, followed, is that account's object and never the other's; the
    bare path would be ambiguous."""
    made: dict[str, dict[str, str]] = {name: {} for name in TENANTS}
    for name in TENANTS:
        for path, body in (
                ("/v1/networks", {"name": "extra", "account": name, "cidr": "10.6.0.0/16"}),
                ("/v1/networks/extra/subnets?account=" + name,
                 {"name": "lan", "cidr": "10.6.1.0/24"}),
                ("/v1/instances", {"name": "extra", "account": name,
                                   "interfaces": [{"subnet": "extra/lan"}]}),
                ("/v1/appliances", {"name": "extra", "account": name,
                                    "service": f"{name}/search", "subnet": "prod/app"})):
            resp = twins.req("POST", path, json=body)
            assert resp.status_code in (201, 202), resp.text
            made[name][path.partition("?")[0]] = resp.headers["location"]
    for name in TENANTS:
        for where in made[name].values():
            assert where.endswith(f"?account={name}"), where
            assert ok(twins.req("GET", where))["account"] == name, where
    err(twins.req("GET", made["acme"]["/v1/networks"].partition("?")[0]), 400, "ambiguous")
    # the account's own token: its own name, no query needed
    resp = twins.req("POST", "/v1/networks", token=twins.evil, json={
        "name": "own", "cidr": "10.7.0.0/16"})
    assert ok(resp, 201) and resp.headers["location"] == "/v1/networks/own"


def _upstream_endpoint(api: Any, account: str, name: str) -> str | None:
    """The endpoint the worker told the backends of `account`'s appliance `name` to call."""
    with api.ctx.read() as session:
        app = next(a for a in session.scalars(select(Appliance).where(Appliance.name == name))
                   if a.account.name == account)
        path = api.ctx.home / "appliances" / str(app.id) / "upstream.json"
    endpoint: str | None = json.loads(path.read_text())["endpoint"]
    return endpoint


def _endpoint(api: Any, account: str, name: str) -> str:
    app = ok(api.req("GET", f"/v1/appliances/{name}?account={account}"))
    return f"{app['endpoint']['ip']}:{app['endpoint']['port']}"


def test_an_upstream_names_another_accounts_appliance_as_account_slash_name(
        twins: Any) -> None:  # noqa: F811
    """acme's service `front` has an extra leg in evil's granted subnet, where evil has an
    appliance `idx`; acme has its own `idx` in the backend subnet. A bare `idx` is acme's
    own; `evil/idx` is evil's; with a third account's `idx` in a second extra subnet and none
    of acme's there, the bare name is a 400 asking for ACCOUNT/NAME."""
    ok(twins.req("POST", "/v1/networks", json={"name": "zprod", "account": "acme",
                                               "cidr": "10.20.0.0/16"}), 201)
    ok(twins.req("POST", "/v1/networks/zprod/subnets?account=acme",
                 json={"name": "fb", "cidr": "10.20.4.0/24"}), 201)
    ok(twins.req("POST", "/v1/subnets/prod/app/grants", token=twins.evil,
                 json={"account": "acme"}), 201)
    ok(twins.req("POST", "/v1/appliances", token=twins.evil, json={
        "name": "idx", "service": "evil/search", "subnet": "prod/app"}), 202)
    ok(twins.req("POST", "/v1/appliances", token=twins.acme, json={
        "name": "idx", "service": "acme/search", "subnet": "zprod/fb"}), 202)
    service = {"workload": "http-echo", "port": 80, "backend_subnet": "zprod/fb",
               "management_subnet": "prod/mgmt", "extra_subnets": ["evil/prod/app"]}
    for svc, upstream in (("own", "idx"), ("theirs", "evil/idx")):
        ok(twins.req("POST", "/v1/services", token=twins.acme, json={
            "name": svc, "upstream": upstream, **service}), 201)
        ok(twins.req("POST", "/v1/appliances", token=twins.acme, json={
            "name": f"{svc}-1", "service": f"acme/{svc}", "subnet": "prod/app"}), 202)
    settle(twins)
    assert _upstream_endpoint(twins, "acme", "own-1") == _endpoint(twins, "acme", "idx")
    assert _upstream_endpoint(twins, "acme", "theirs-1") == _endpoint(twins, "evil", "idx")
    assert ok(twins.req("GET", "/v1/services/theirs", token=twins.acme))["upstream"] == \
        "evil/idx"
    # evil's idx is called by acme's theirs-1: deleting it alone is refused
    err(twins.req("DELETE", "/v1/appliances/idx", token=twins.evil), 409, "theirs-1")
    # bad forms: a 400 at upstream
    for bad in ("a/b/c", "evil/", "Not A Name"):
        err(twins.req("POST", "/v1/services", token=twins.acme, json={
            "name": "bad", "upstream": bad, **service}), 400, where="upstream")
    # a third account's idx in a second extra subnet, none of acme's there: ambiguous
    ok(twins.req("POST", "/v1/accounts", json={"name": "zed"}), 201)
    ok(twins.req("POST", "/v1/networks", json={
        "name": "prod", "account": "zed", "cidr": "10.30.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.30.1.0/24"}]}), 201)
    ok(twins.req("POST", "/v1/subnets/prod/app/grants?account=zed",
                 json={"account": "acme"}), 201)
    ok(twins.req("POST", "/v1/appliances", json={
        "name": "idx", "account": "zed", "service": "evil/search", "subnet": "prod/app"}), 202)
    ok(twins.req("POST", "/v1/networks/zprod/subnets?account=acme",
                 json={"name": "fb2", "cidr": "10.20.5.0/24"}), 201)
    # (asked by the operator, who sees every idx: acme sees neither of its customers')
    body = err(twins.req("POST", "/v1/services", json={
        **service, "account": "acme", "name": "both", "upstream": "idx",
        "backend_subnet": "zprod/fb2",
        "extra_subnets": ["evil/prod/app", "zed/prod/app"]}), 400,
        "ambiguous", "evil/idx", "zed/idx")
    assert body["where"] == "upstream"
    ok(twins.req("POST", "/v1/services", token=twins.acme, json={
        **service, "name": "both", "upstream": "zed/idx", "backend_subnet": "zprod/fb2",
        "extra_subnets": ["evil/prod/app", "zed/prod/app"]}), 201)


def test_events_reach_their_owner_and_an_appliances_provider(twins: Any) -> None:  # noqa: F811
    """evil's appliance `docs` of acme's service: evil (the customer) and acme (the provider)
    both read its events, acme alone those naming its nodes; acme's own `docs` events stay
    acme's. `?account=` is the operator's view of one account; a name no account could have
    is a 400, another account's an empty page."""
    ok(twins.req("POST", "/v1/appliances", token=twins.evil, json={
        "name": "bought", "service": "acme/search", "subnet": "prod/app"}), 202)
    settle(twins)
    with twins.ctx.write() as session:  # a node replaced: provider's detail, not the customer's
        app = next(a for a in session.scalars(select(Appliance).where(
            Appliance.name == "bought")))
        twins.ctx.event(session, "appliance.node_replaced", "bought", "bought-b1 replaced",
                        app.account_id)
    evil = twins.items("/v1/events", token=twins.evil)
    acme = twins.items("/v1/events", token=twins.acme)
    of = [e["kind"] for e in evil if e["object"] == "bought"]
    assert "appliance.created" in of and "appliance.ready" in of
    assert "appliance.node_replaced" not in of
    provided = [e for e in acme if e["object"] == "bought"]
    assert {e["account"] for e in provided} == {"evil"}
    assert "appliance.node_replaced" in [e["kind"] for e in provided]
    # docs: each customer's own, and both are their own providers
    for events, name in ((evil, "evil"), (acme, "acme")):
        assert {e["account"] for e in events if e["object"] == "docs"} == {name}
    def attributed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["account"] is not None]  # not the controller's, async

    assert attributed(twins.items("/v1/events?account=evil")) == attributed(evil)
    assert attributed(twins.items("/v1/events?account=acme", token=twins.acme)) == \
        attributed(acme)
    assert twins.items("/v1/events?account=evil", token=twins.acme) == []
    assert twins.items("/v1/events?account=nobody", token=twins.acme) == []
    err(twins.req("GET", "/v1/events?account=NOT-A-NAME"), 400, where="account")


TWO = """
accounts: [{name: acme}, {name: evil}]
networks:
""" + "".join(f"""  - {{name: prod, account: {a}, cidr: 10.0.0.0/16, subnets: [{{name: app, cidr: 10.0.1.0/24}},
      {{name: backend, cidr: 10.0.2.0/24}}, {{name: mgmt, cidr: 10.0.3.0/24}}]}}
""" for a in TENANTS) + "services:\n" + "".join(f"""  - {{name: search, account: {a}, workload: http-echo, port: 80,
     backend_subnet: prod/backend, management_subnet: prod/mgmt}}
""" for a in TENANTS) + "instances:\n" + "".join(f"""  - {{name: web, account: {a}, interfaces: [prod/app=10.0.1.50]}}
""" for a in TENANTS) + "appliances:\n" + "".join(f"""  - {{name: docs, account: {a}, service: {a}/search, subnet: prod/app}}
""" for a in TENANTS)


def test_one_file_declares_the_same_names_for_two_accounts(
        api: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The operator's file gives acme and evil each a network prod, a service search, an
    instance web (the same address, in each one's own subnet) and an appliance docs:
    --dry-run plans each account's, apply makes both and waits for both appliances (each by
    ACCOUNT/NAME), a second apply changes nothing, --prune deletes the one instance that
    left the file (evil's web, not acme's), destroy removes both accounts' objects."""
    monkeypatch.setattr(client, "transport_factory", lambda: api.client._transport)
    monkeypatch.setenv("FACADE_TOKEN", api.token)
    monkeypatch.delenv("FACADE_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    file = tmp_path / "two.yaml"
    file.write_text(TWO)

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, list(args))

    planned = run("apply", "-f", str(file), "--dry-run")
    assert planned.exit_code == 0, planned.output
    for a in TENANTS:
        for line in (f"create network {a}/prod", f"create instance {a}/web",
                     f"create appliance {a}/docs"):
            assert line in planned.stdout.splitlines(), planned.stdout
    assert api.items("/v1/networks") == []
    made = run("apply", "-f", str(file), "--timeout", "30")
    assert made.exit_code == 0, made.output
    assert made.stdout.count("docs ready at 10.0.1.") == 2, made.stdout
    for a in TENANTS:
        assert ok(api.req("GET", f"/v1/appliances/docs?account={a}"))["status"] == "ready"
        web = ok(api.req("GET", f"/v1/instances/web?account={a}"))
        assert web["account"] == a and web["interfaces"][0]["ip"] == "10.0.1.50"
    again = ok(api.req("POST", "/v1/apply", json={"yaml": TWO, "filename": "two.yaml"}))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}
    assert again["appliances"] == ["acme/docs", "evil/docs"]
    # evil's web leaves the file: only it is pruned
    file.write_text(TWO.replace(
        "  - {name: web, account: evil, interfaces: [prod/app=10.0.1.50]}\n", ""))
    pruned = run("apply", "-f", str(file), "--prune", "--yes")
    assert pruned.exit_code == 0, pruned.output
    settle(api)
    err(api.req("GET", "/v1/instances/web?account=evil"), 404)
    assert ok(api.req("GET", "/v1/instances/web?account=acme"))["account"] == "acme"
    shown = run("events", "--account", "evil", "-n", "500", "--json")
    assert shown.exit_code == 0, shown.output
    events = json.loads(shown.stdout)
    assert {e["account"] for e in events} <= {"evil", None} and \
        any(e["object"] == "web" and e["account"] == "evil" for e in events)
    gone = run("destroy", "-f", str(file), "--timeout", "30")
    assert gone.exit_code == 0, gone.output
    assert api.items("/v1/networks") == [] and api.items("/v1/appliances") == []
