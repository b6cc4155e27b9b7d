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

INSTANCE_QUOTA, NETWORK_QUOTA = 20, 5


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
    ok(client.post("/v1/accounts", json={"name": "acme"}, headers=auth), 201)
    ok(client.put("/v1/accounts/acme/quotas", json={
        "instances": INSTANCE_QUOTA, "networks": NETWORK_QUOTA}, headers=auth), 200)
    ok(client.post("/v1/networks", headers=auth, json={
        "name": "vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "pool", "cidr": "10.0.5.0/27"}]}), 201)  # 29 usable addresses
    # each app's routes are made ready at their first request, which is not safe from many
    # threads at once (their warnings filters race): one invalid request each first
    for _, each in planes:
        for path in ("/v1/instances", "/v1/networks"):
            assert each.post(path, headers=auth, json={}).status_code == 422
    return auth


def _service_refusal(answer: Any) -> str:
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert "database constraint" not in error["message"], error  # the backstop: a race
    return str(error["code"])


def test_two_control_planes_never_allocate_a_name_an_address_or_a_quota_twice(
        planes: list[tuple[Context, TestClient]]) -> None:
    auth = _setup(planes)

    def instance(i: int) -> Any:  # 30 names, each asked for twice, one plane after the other
        client = planes[i % 2][1]
        return client.post("/v1/instances", headers=auth, json={
            "name": f"i{i // 2}", "account": "acme", "interfaces": [{"subnet": "vpc/pool"}]})

    answers = parallel(60, instance)
    codes = Counter("created" if r.status_code == 201 else _service_refusal(r) for r in answers)
    assert codes["created"] == INSTANCE_QUOTA, codes
    assert set(codes) <= {"created", "quota_exceeded", "conflict"}, codes

    def network(i: int) -> Any:  # 4 networks already allowed; 8 names, each asked for twice
        client = planes[i % 2][1]
        return client.post("/v1/networks", headers=auth, json={
            "name": f"n{i // 2}", "account": "acme", "cidr": "10.1.0.0/16"})

    answers = parallel(16, network)
    codes = Counter("created" if r.status_code == 201 else _service_refusal(r) for r in answers)
    assert codes["created"] == NETWORK_QUOTA - 1, codes

    with planes[0][0].engine.connect() as sql:
        def one(query: str) -> Any:
            return sql.execute(text(query)).all()

        acme = "(SELECT id FROM accounts WHERE name = 'acme')"
        assert one(f"SELECT count(*) FROM instances WHERE account_id = {acme}") == \
            [(INSTANCE_QUOTA,)]
        assert one(f"SELECT count(*) FROM networks WHERE account_id = {acme}") == \
            [(NETWORK_QUOTA,)]
        assert one("SELECT name_scope_id, name FROM instances GROUP BY name_scope_id, name "
                   "HAVING count(*) > 1") == []
        assert one("SELECT account_id, name FROM networks GROUP BY account_id, name "
                   "HAVING count(*) > 1") == []
        assert one("SELECT subnet_id, ip FROM interfaces GROUP BY subnet_id, ip "
                   "HAVING count(*) > 1") == []
        assert one("SELECT count(DISTINCT ip) FROM interfaces") == [(INSTANCE_QUOTA,)]
