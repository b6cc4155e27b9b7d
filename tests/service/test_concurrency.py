"""Parallel API requests on the fake driver: allocation stays exact under contention.

Threads share the fixture's TestClient: inside `with TestClient(app)` every request goes through
one anyio blocking portal, whose `call` is thread-safe, and the (sync) routes run on anyio's
worker threads, so requests really overlap in the service layer. Each test also checks the
database directly, not only the answers.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from facade.store.models import Instance, Interface, Network, Subnet
from tests.service.helpers import ok, parallel


def subnet_rows(api: Any, path: str) -> list[tuple[str, str]]:
    """(instance name, ip) of every interface in a subnet, from the database."""
    net, sub = path.split("/")
    with api.ctx.read() as s:
        sid = s.scalar(select(Subnet.id).join(Network).where(Network.name == net,
                                                               Subnet.name == sub))
        return [(name, ip) for name, ip in s.execute(
            select(Instance.name, Interface.ip).join(Instance)
            .where(Interface.subnet_id == sid))]


def no_address_twice(api: Any) -> None:
    with api.ctx.read() as s:
        dup = s.execute(select(Interface.subnet_id, Interface.ip, func.count())
                        .group_by(Interface.subnet_id, Interface.ip)
                        .having(func.count() > 1)).all()
    assert dup == []


def setup(api: Any) -> None:
    for name in ("acme", "searchco"):
        ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "pool", "cidr": "10.0.5.0/27"},   # 29 usable addresses
                    {"name": "app", "cidr": "10.0.1.0/24"}]}), 201)


def create_instance(api: Any, name: str, subnet: str) -> Any:
    return api.req("POST", "/v1/instances", json={
        "name": name, "account": "acme", "interfaces": [{"subnet": subnet}]})


def test_50_parallel_instances_in_a_27_get_distinct_addresses_or_exhausted(api: Any) -> None:
    setup(api)
    answers = parallel(50, lambda i: create_instance(api, f"i{i}", "acme-vpc/pool"))
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 29, 409: 21}, statuses
    for r in answers:
        if r.status_code == 409:
            e = r.json()["error"]
            assert e["code"] == "exhausted" and "acme-vpc/pool" in e["message"], e
    ips = [r.json()["interfaces"][0]["ip"] for r in answers if r.status_code == 201]
    pool = ipaddress.IPv4Network("10.0.5.0/27")
    usable = {str(pool.network_address + k) for k in range(2, 31)}
    assert len(set(ips)) == 29 and set(ips) == usable
    # the database agrees with the answers: the winners hold exactly those addresses
    rows = subnet_rows(api, "acme-vpc/pool")
    winners = {r.json()["name"]: r.json()["interfaces"][0]["ip"]
               for r in answers if r.status_code == 201}
    assert dict(rows) == winners and len(rows) == 29
    no_address_twice(api)
    sub = ok(api.req("GET", "/v1/subnets/acme-vpc/pool"), 200)
    assert (sub["used"], sub["capacity"]) == (29, 29)
    # the losers left nothing behind
    with api.ctx.read() as s:
        assert s.scalar(select(func.count()).select_from(Instance)) == 29


def test_parallel_creates_of_one_name_have_exactly_one_winner(api: Any) -> None:
    setup(api)
    answers = parallel(20, lambda i: create_instance(api, "same", "acme-vpc/app"))
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 1, 409: 19}, statuses
    for r in answers:
        if r.status_code == 409:
            e = r.json()["error"]
            assert e["code"] == "conflict" and "already exists" in e["message"], e
    assert [name for name, _ in subnet_rows(api, "acme-vpc/app")] == ["same"]
    no_address_twice(api)


def test_20_parallel_appliances_take_one_distinct_customer_address_each(api: Any) -> None:
    setup(api)
    ok(api.req("POST", "/v1/networks", json={
        "name": "search-vpc", "account": "searchco", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "backend", "cidr": "10.0.1.0/24"},
                    {"name": "mgmt", "cidr": "10.0.200.0/24"}]}), 201)
    ok(api.req("POST", "/v1/services", json={
        "name": "search", "account": "searchco", "workload": "http-echo", "port": 80,
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}), 201)
    answers = parallel(20, lambda i: api.req("POST", "/v1/appliances", json={
        "name": f"app{i}", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1}))
    apps = [ok(r, 202) for r in answers]
    endpoints = [a["endpoint"]["ip"] for a in apps]
    assert len(set(endpoints)) == 20
    # in the database: each appliance has exactly one address in the customer's subnet (its
    # front-end's), and it is the endpoint the answer gave
    rows = subnet_rows(api, "acme-vpc/app")
    assert sorted(name for name, _ in rows) == sorted(f"app{i}-fe" for i in range(20))
    assert {name.removesuffix("-fe"): ip for name, ip in rows} == {
        a["name"]: a["endpoint"]["ip"] for a in apps}
    # the provider's subnets hold the rest: a front-end leg and a backend per appliance
    assert len(subnet_rows(api, "search-vpc/backend")) == 40
    assert len(subnet_rows(api, "search-vpc/mgmt")) == 40
    no_address_twice(api)
