"""Paging of the list routes (docs/api.md, "Paging"): every list route answers at most `limit`
items and an opaque `next_cursor`; following the cursors yields every item exactly once, in a
stable order; tenant scoping holds on every page (another account's objects never appear, and
pages are full until the caller's own objects run out); bad limits and cursors are clear 4xx
errors; the paging is done by the database, and the CLI follows the pages (the cursors
themselves: tests/unit/test_paging.py)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from sqlalchemy import event

from facade.cli import client
from facade.cli.main import app as cli_app
from facade.client import http
from facade.domain import paging
from facade.store.models import UsageRecord
from tests.clirunner import CliRunner
from tests.service.helpers import err, ok, settle

# usage seeded by the tests, in an hour far from what the controller meters meanwhile
SEEDED_HOUR = 500_000  # hours since the epoch: 2027-01-15T08:00Z
DAY = dt.datetime.fromtimestamp(SEEDED_HOUR * 3600, dt.UTC).strftime("%Y-%m-%d")
# every list route of the API, and what identifies one of its items
LISTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "/v1/accounts": lambda i: i["name"],
    "/v1/networks": lambda i: i["name"],
    "/v1/subnets": lambda i: i["name"],
    "/v1/instances": lambda i: i["name"],
    "/v1/services": lambda i: i["name"],
    "/v1/load-balancers": lambda i: i["name"],
    "/v1/appliances": lambda i: i["name"],
    "/v1/events": lambda i: json.dumps(i, sort_keys=True),
    f"/v1/usage?period={DAY}": lambda i: (i["appliance"], i["customer"]),
    f"/v1/usage?by=node&period={DAY}": lambda i: (i["appliance"], i["node"]),
    "/v1/subnets/acme-vpc/app/rules": lambda i: (i["direction"], i["priority"]),
    "/v1/instances/client/interfaces/eth0/rules": lambda i: (i["direction"], i["priority"]),
    "/v1/subnets/search-vpc/backend/grants": lambda i: i["account"],
}


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def split(path: str) -> tuple[str, dict[str, str]]:
    """`/v1/usage?by=node` -> ("/v1/usage", {"by": "node"})."""
    base, _, query = path.partition("?")
    return base, dict(parse_qsl(query))


def page(api: Any, path: str, token: str | None = "op", **params: Any) -> dict[str, Any]:
    base, query = split(path)
    body: dict[str, Any] = ok(api.req("GET", base, token=token, params={**query, **params}))
    assert set(body) == {"items", "next_cursor"}, body
    return body


def pages(api: Any, path: str, limit: int, token: str | None = "op") -> list[list[Any]]:
    """Every page of a list route, following next_cursor."""
    found, cursor, seen = [], None, set()
    while True:
        body = page(api, path, token, limit=limit, **({"cursor": cursor} if cursor else {}))
        found.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found
        assert isinstance(cursor, str) and cursor not in seen
        seen.add(cursor)


def add_usage(api: Any, appliance_id: int, appliance: str, customer: str, nodes: int) -> None:
    with api.ctx.write() as s:
        for k in range(nodes):
            for metric, quantity in (("node_ms", 1000 * (k + 1)), ("bytes_in", 7)):
                s.add(UsageRecord(hour=SEEDED_HOUR, customer=customer, provider="searchco",
                                  owner="searchco", service="search", appliance_id=appliance_id,
                                  appliance=appliance, node=f"{appliance}-n{k}", role="backend",
                                  metric=metric, quantity=quantity))


@pytest.fixture
def many(world: Any) -> Any:
    """Several objects of every kind, those of two customers (acme, beta) interleaved."""
    api = world
    api.changed = True
    ok(api.req("POST", "/v1/accounts", json={"name": "beta"}), 201)
    api.beta = ok(api.req("POST", "/v1/accounts/beta/tokens"), 201)["token"]
    ok(api.req("POST", "/v1/networks", json={
        "name": "beta-vpc", "account": "beta", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)
    for i in range(5):
        for who in ("acme", "beta"):
            ok(api.req("POST", "/v1/networks", json={
                "name": f"{who}-n{i}", "account": who, "cidr": f"10.{i}.0.0/16",
                "subnets": [{"name": "s", "cidr": f"10.{i}.1.0/24"}]}), 201)
            ok(api.req("POST", "/v1/instances", json={
                "name": f"{who}-i{i}", "account": who,
                "interfaces": [{"subnet": f"{who}-vpc/app"}]}), 201)
            ok(api.req("POST", "/v1/appliances", json={
                "name": f"{who}-a{i}", "account": who, "service": "search",
                "subnet": f"{who}-vpc/app", "backends": 1}), 202)
        ok(api.req("POST", "/v1/accounts", json={"name": f"x{i}"}), 201)
        ok(api.req("POST", "/v1/services", json={
            "name": f"svc{i}", "account": "searchco", "workload": "http-echo", "port": 80,
            "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}),
            201)
        ok(api.req("POST", "/v1/load-balancers", json={
            "name": f"lb{i}", "account": "searchco", "management_subnet": "search-vpc/mgmt"}),
            201)
        ok(api.req("POST", "/v1/subnets/search-vpc/backend/grants", json={"account": f"x{i}"}),
           201)
        for direction in ("ingress", "egress"):
            rule = {"direction": direction, "action": "allow", "priority": 10 + i}
            ok(api.req("POST", "/v1/subnets/acme-vpc/app/rules", json=rule), 201)
            ok(api.req("POST", "/v1/instances/client/interfaces/eth0/rules", json=rule), 201)
        add_usage(api, 100 + i, f"acme-u{i}", "acme", 3)
        add_usage(api, 200 + i, f"beta-u{i}", "beta", 2)
    settle(api, timeout=30)
    return api


def test_following_the_cursors_gives_every_item_once_in_a_stable_order(many: Any) -> None:
    for path, key in LISTS.items():
        whole = page(many, path, limit=1000)
        assert whole["next_cursor"] is None, path
        expected = [key(i) for i in whole["items"]]
        assert len(expected) >= 4, (path, expected)
        assert len(set(expected)) == len(expected), path
        for limit in (1, 2, 3):
            got = pages(many, path, limit)
            flat = [key(i) for p in got for i in p]
            if path == "/v1/events":  # newer events (the controller's) may come first
                flat = flat[len(flat) - len(expected):]
            else:
                assert len(got) == math.ceil(len(expected) / limit), (path, limit)
            assert flat == expected, (path, limit)
            assert all(len(p) == limit for p in got[:-1]), (path, limit)
            assert 1 <= len(got[-1]) <= limit, (path, limit)


def test_the_default_limit_is_100_and_a_page_holds_at_most_limit(many: Any) -> None:
    with many.ctx.write() as s:
        for i in range(250):
            many.ctx.event(s, "test.filler", f"filler{i}", "to fill pages")
    first = page(many, "/v1/events")
    assert len(first["items"]) == paging.DEFAULT_LIMIT == 100
    assert first["next_cursor"] is not None
    assert len(page(many, "/v1/events", limit=1)["items"]) == 1
    assert len(page(many, "/v1/events", limit=1000)["items"]) > 250


def test_orders(many: Any) -> None:
    """Oldest first by id for objects, newest first for events, rules by direction and
    priority, usage by appliance name."""
    names = [a["name"] for a in page(many, "/v1/appliances", limit=1000)["items"]]
    assert names == [f"{w}-a{i}" for i in range(5) for w in ("acme", "beta")]
    rules = [(r["direction"], r["priority"])
             for r in page(many, "/v1/subnets/acme-vpc/app/rules", limit=1000)["items"]]
    assert rules == sorted(rules) and rules[0] == ("egress", 10)
    times = [e["time"] for e in page(many, "/v1/events", limit=1000)["items"]]
    assert times == sorted(times, reverse=True)
    usage = [u["appliance"]
             for u in page(many, f"/v1/usage?period={DAY}", limit=1000)["items"]]
    assert usage == sorted(usage)


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "100000", "x", "1.5", "", "1e2", "true"])
def test_a_limit_out_of_bounds_or_not_an_integer_is_a_clear_422(world: Any,
                                                                  limit: str) -> None:
    for path in LISTS:
        base, query = split(path)
        resp = world.req("GET", base, params={**query, "limit": limit})
        e = err(resp, 422, "limit", where="limit")
        assert "Traceback" not in e["message"]


GARBAGE = ["garbage", "", "!!!", "%00", "A" * 600, b64("not json"), b64("{}"), b64("[]"),
           b64("[1, 2]"), b64('{"after": 5}'), b64('["appliances"]'),
           b64('["appliances", "5"]'), b64('["appliances", true]'),
           b64('["appliances", 1, 2]'), b64('["appliances", 1.5]'), b64('["appliances", null]'),
           b64('["other-list", 5]'), b64("\u00ff\u00fe"),
           base64.urlsafe_b64encode(b"\xff\xfe\x00").decode()]


def test_a_garbage_cursor_is_a_clear_400(world: Any) -> None:
    for path in LISTS:
        base, query = split(path)
        for cursor in GARBAGE:
            resp = world.req("GET", base, params={**query, "cursor": cursor})
            e = err(resp, 400, "cursor is invalid", where="cursor")
            assert len(e["message"]) < 300


def test_a_cursor_of_another_list_is_refused(world: Any) -> None:
    cursor = page(world, "/v1/accounts", limit=1)["next_cursor"]
    assert cursor is not None
    for path in ("/v1/appliances", "/v1/events", "/v1/usage", "/v1/subnets",
                 "/v1/subnets/acme-vpc/app/rules"):
        err(world.req("GET", path, params={"cursor": cursor}), 400, "another list",
            where="cursor")


def test_tenant_scoping_holds_on_every_page(many: Any) -> None:
    """acme's and beta's objects are interleaved: acme's pages are full until its own objects
    run out, hold none of beta's, and the last one says so (no empty page, no hint of how many
    others there are)."""
    for path, own, other in (("/v1/appliances", "acme-a", "beta-a"),
                             ("/v1/instances", "acme-i", "beta-i"),
                             ("/v1/networks", "acme-", "beta-"),
                             ("/v1/subnets", "acme-", "beta-"),
                             (f"/v1/usage?period={DAY}", "acme-u", "beta-u"),
                             ("/v1/events", "acme", "beta")):
        key = "object" if path == "/v1/events" else \
            "appliance" if path.startswith("/v1/usage") else "name"
        whole = page(many, path, many.acme, limit=1000)["items"]
        mine = [i[key] for i in whole]
        assert any(m.startswith(own) for m in mine), path
        for limit in (1, 2, 3):
            got = pages(many, path, limit, many.acme)
            flat = [i[key] for p in got for i in p]
            assert not [m for m in flat if m.startswith(other)], (path, flat)
            if path == "/v1/events":
                flat = flat[len(flat) - len(mine):]
            else:
                assert len(got) == math.ceil(len(mine) / limit), (path, limit)
            assert flat == mine, (path, limit)
            assert all(len(p) == limit for p in got[:-1]) and got[-1], (path, limit)


def test_a_cursor_from_another_callers_list_shows_only_the_callers_objects(many: Any) -> None:
    # the operator's cursor after beta-a0 (a beta appliance), used by acme
    ops = page(many, "/v1/appliances", limit=2)
    assert [a["name"] for a in ops["items"]] == ["acme-a0", "beta-a0"]
    acme = page(many, "/v1/appliances", many.acme, limit=1000, cursor=ops["next_cursor"])
    assert [a["name"] for a in acme["items"]] == [f"acme-a{i}" for i in range(1, 5)]
    assert acme["next_cursor"] is None
    # a cursor made by hand only moves where the caller's own list starts
    forged = b64('["appliances", 0]')
    assert [a["name"] for a in page(many, "/v1/appliances", many.beta, cursor=forged)[
        "items"]] == [f"beta-a{i}" for i in range(5)]


def test_objects_created_or_deleted_while_paging_do_not_shift_the_pages(many: Any) -> None:
    before = [a["name"] for a in page(many, "/v1/accounts", limit=1000)["items"]]
    first = page(many, "/v1/accounts", limit=3)
    ok(many.req("POST", "/v1/accounts", json={"name": "late"}), 201)
    gone = before[4]
    ok(many.req("DELETE", f"/v1/accounts/{gone}"), 204)
    seen = [a["name"] for a in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        body = page(many, "/v1/accounts", limit=3, cursor=cursor)
        seen += [a["name"] for a in body["items"]]
        cursor = body["next_cursor"]
    assert seen == [n for n in before if n != gone] + ["late"]


def test_a_page_costs_the_same_statements_whatever_it_holds(many: Any) -> None:
    """The database pages (ORDER BY, a key condition, LIMIT), and a page's views are read in a
    fixed number of queries: a page of 2 costs the statements a page of everything does, and a
    page of appliances the same with 10 or 14 appliances (of 2 backends) in the store."""

    def statements(path: str, **params: Any) -> list[str]:
        seen: list[str] = []

        def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            # the request's, not the controller's (its threads are named facade-...)
            if not threading.current_thread().name.startswith("facade-"):
                seen.append(statement)

        event.listen(many.ctx.engine, "before_cursor_execute", record)
        try:
            page(many, path, **{k: v for k, v in params.items() if v is not None})
        finally:
            event.remove(many.ctx.engine, "before_cursor_execute", record)
        return seen

    for path in LISTS:
        assert len(statements(path, limit=2)) == len(statements(path, limit=1000)), path
    cursor = page(many, "/v1/appliances", limit=2)["next_cursor"]
    before = {path: len(statements(path, limit=2, cursor=c)) for path, c in (
        ("/v1/appliances", cursor), ("/v1/appliances", None), ("/v1/instances", None),
        ("/v1/events", None))}
    for i in range(4):
        ok(many.req("POST", "/v1/appliances", json={
            "name": f"more{i}", "account": "acme", "service": "search",
            "subnet": "acme-vpc/app", "backends": 2}), 202)
    settle(many, timeout=30)
    for path, c in (("/v1/appliances", cursor), ("/v1/appliances", None),
                    ("/v1/instances", None), ("/v1/events", None)):
        sql = statements(path, limit=2, cursor=c)
        assert len(sql) == before[path], (path, sql)
    sql = statements("/v1/appliances", limit=2)
    select_apps = [s for s in sql if s.lstrip().upper().startswith("SELECT APPLIANCES.")]
    assert select_apps and all("LIMIT" in s.upper() for s in select_apps[:1]), select_apps


def test_every_list_route_documents_limit_cursor_and_the_envelope(world: Any) -> None:
    doc = ok(world.req("GET", "/openapi.json", token=None))
    listed = []
    for path, methods in doc["paths"].items():
        get = methods.get("get")
        if not get or not get["operationId"].startswith("list_"):
            continue
        listed.append(get["operationId"])
        params = {p["name"]: p for p in get.get("parameters", [])}
        assert params["limit"]["in"] == "query", path
        schema = params["limit"]["schema"]
        assert (schema["minimum"], schema["maximum"], schema["default"]) == (1, 1000, 100)
        assert params["cursor"]["in"] == "query", path
        ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[1]
        body = doc["components"]["schemas"][name]
        # a page's schema is named for its items: AppliancePage, NodePage (readmodels.paging)
        assert name.endswith("Page") and name.isalnum() and body["title"] == name, path
        assert set(body["properties"]) == {"items", "next_cursor"}, path
        assert body["properties"]["items"]["type"] == "array"
        assert "400" in get["responses"] and "422" in get["responses"]
    # 12; the edge's public IPs, pools, externals, sites and channels, and their usage; hosts
    assert len(listed) == 20, listed


# --- the CLI follows the pages of the real API --------------------------------------------------


def test_the_cli_lists_every_object_across_pages(many: Any, monkeypatch: Any) -> None:
    transport = many.client._transport  # the TestClient's ASGI transport: the app in-process
    monkeypatch.setattr(client, "transport_factory", lambda: transport)
    monkeypatch.setattr(http, "PAGE_LIMIT", 3)
    monkeypatch.setenv("FACADE_TOKEN", many.token)
    sent: list[httpx.Request] = []
    real = transport.handle_request

    def spy(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return real(request)

    expected = [a["name"] for a in page(many, "/v1/appliances", limit=1000)["items"]]
    monkeypatch.setattr(transport, "handle_request", spy)
    result = CliRunner().invoke(cli_app, ["appliance", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [a["name"] for a in json.loads(result.stdout)] == expected
    assert len(sent) == math.ceil(len(expected) / 3)
    assert all(r.url.params["limit"] == "3" for r in sent)
    # and the newest events, newest last, across pages
    sent.clear()
    result = CliRunner().invoke(cli_app, ["events", "-n", "7", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert len(shown) == 7 and [e["time"] for e in shown] == sorted(e["time"] for e in shown)
    assert len(sent) == 3
