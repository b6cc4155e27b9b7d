"""Two control planes on one PostgreSQL database (docs/postgresql.md): each its own Context,
engine and in-process write lock, as two `facade up` processes would have, hammered with
creates in parallel through their own APIs. Nothing may be allocated twice: no name, no address,
no quota overrun; every refusal is the service's own answer (a quota, an exhausted subnet, a
name taken), never the database's unique constraints, the backstop, catching a race.

The database is then checked with SQL of its own, not through the service layer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from facade.api.app import create_app
from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts
from facade.service.context import Context
from tests.service.helpers import ok, parallel

# beta's limits: far fewer than the requests that arrive together, so that without one writer
# at a time several would count the same usage and all go ahead
INSTANCE_QUOTA, NETWORK_QUOTA = 3, 2


@pytest.fixture
def planes(tmp_path: Path, postgresql_url: str) -> Iterator[list[tuple[Context, TestClient]]]:
    made = []
    try:
        for n in (1, 2):
            ctx = Context.open(tmp_path / f"plane{n}", FakeDataPlane(), postgresql_url)
            client = TestClient(create_app(ctx))
            client.__enter__()
            made.append((ctx, client))
        yield made
    finally:
        for ctx, client in made:
            client.__exit__(None, None, None)
            ctx.engine.dispose()


def _setup(planes: list[tuple[Context, TestClient]]) -> dict[str, str]:
    token = accounts.bootstrap_operator(planes[0][0])
    assert token and accounts.bootstrap_operator(planes[1][0]) is None  # one store, one operator
    auth = {"Authorization": f"Bearer {token}"}
    client = planes[1][1]
    for name in ("acme", "beta"):
        ok(client.post("/v1/accounts", json={"name": name}, headers=auth), 201)
    ok(client.put("/v1/accounts/beta/quotas", json={
        "instances": INSTANCE_QUOTA, "networks": NETWORK_QUOTA}, headers=auth), 200)
    ok(client.post("/v1/networks", headers=auth, json={
        "name": "vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "pool", "cidr": "10.0.5.0/27"}]}), 201)  # 29 usable addresses
    ok(client.post("/v1/networks", headers=auth, json={
        "name": "vpc", "account": "beta", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)
    # each app's routes are made ready at their first request, which is not safe from many
    # threads at once (their warnings filters race): one invalid request each first
    for _, each in planes:
        for path in ("/v1/instances", "/v1/networks"):
            assert each.post(path, headers=auth, json={}).status_code == 422
    return auth


def _service_refusal(answer: Any) -> str:
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert "concurrent change" not in error["message"], error  # the backstop caught a race
    return str(error["code"])


def test_two_control_planes_never_allocate_a_name_an_address_or_a_quota_twice(
        planes: list[tuple[Context, TestClient]]) -> None:
    auth = _setup(planes)

    def post(i: int, path: str, body: dict[str, Any]) -> Any:  # one plane, then the other
        return planes[i % 2][1].post(path, headers=auth, json=body)

    def codes(answers: list[Any]) -> Counter[str]:
        return Counter("created" if r.status_code == 201 else _service_refusal(r)
                       for r in answers)

    # names and addresses: 30 names each asked for twice, for the 29 addresses of acme's pool
    made = codes(parallel(60, lambda i: post(i, "/v1/instances", {
        "name": f"i{i // 2}", "account": "acme", "interfaces": [{"subnet": "vpc/pool"}]})))
    assert made["created"] == 29 and made["conflict"] + made["exhausted"] == 31, made
    assert made["conflict"] >= 29, made  # a name's second ask: taken, or no address left
    # quotas: 30 instances and 12 networks asked for at once, by an account that may have 3
    # instances and 2 networks (1 made already)
    made = codes(parallel(30, lambda i: post(i, "/v1/instances", {
        "name": f"b{i}", "account": "beta", "interfaces": [{"subnet": "vpc/app"}]})))
    assert made == {"created": INSTANCE_QUOTA, "quota_exceeded": 30 - INSTANCE_QUOTA}, made
    made = codes(parallel(12, lambda i: post(i, "/v1/networks", {
        "name": f"n{i}", "account": "beta", "cidr": "10.1.0.0/16"})))
    assert made == {"created": NETWORK_QUOTA - 1, "quota_exceeded": 13 - NETWORK_QUOTA}, made

    with planes[0][0].engine.connect() as sql:
        def one(query: str) -> Any:
            return sql.execute(text(query)).all()

        beta = "(SELECT id FROM accounts WHERE name = 'beta')"
        assert one(f"SELECT count(*) FROM instances WHERE account_id = {beta}") == \
            [(INSTANCE_QUOTA,)]
        assert one(f"SELECT count(*) FROM networks WHERE account_id = {beta}") == \
            [(NETWORK_QUOTA,)]
        assert one("SELECT count(*) FROM instances") == [(29 + INSTANCE_QUOTA,)]
        assert one("SELECT name_scope_id, name FROM instances GROUP BY name_scope_id, name "
                   "HAVING count(*) > 1") == []
        assert one("SELECT account_id, name FROM networks GROUP BY account_id, name "
                   "HAVING count(*) > 1") == []
        assert one("SELECT subnet_id, ip FROM interfaces GROUP BY subnet_id, ip "
                   "HAVING count(*) > 1") == []
