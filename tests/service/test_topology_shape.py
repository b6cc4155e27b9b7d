"""The answers' JSON is what it was before they had read models: /v1/topology and /v1/health
(free-form dictionaries before facade.readmodels.topology and .system) and every list route's
page (an untyped {"items", "next_cursor"} before readmodels.paging's XPage). For a seeded world
with every kind of thing the topology shows, each view (operator, customers, providers) is byte
for byte the answer recorded before (data/topology_golden.json, data/lists_golden.json), keys in
the same order.

The world is built without a controller, so nothing changes under the reading (statuses stay
pending and provisioning, names follow the store's ids)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from facade.api.app import create_app
from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts
from tests.service.helpers import ok
from tests.stores import open_context

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "topology_golden.json"
LISTS = DATA / "lists_golden.json"
# every list route, two to a page (so a cursor is answered too), and the health answer
PATHS = ("/v1/accounts", "/v1/networks", "/v1/subnets", "/v1/subnets/search-vpc/backend/grants",
         "/v1/instances", "/v1/externals", "/v1/sites", "/v1/vpns", "/v1/public-ips",
         "/v1/ip-pools", "/v1/services", "/v1/load-balancers", "/v1/appliances",
         "/v1/subnets/acme-vpc/app/rules", "/v1/instances/client/interfaces/eth0/rules",
         "/v1/usage", "/v1/usage/public-ips", "/v1/usage/channels", "/v1/events", "/v1/health")
RULE = {"direction": "ingress", "action": "allow", "protocol": "tcp", "ports": "80",
        "priority": 10}
VIEWS = ("operator", "acme", "searchco", "webco", "lbco")


class Seeded:
    def __init__(self, client: TestClient, op: str) -> None:
        self.client, self.tokens = client, {"operator": op}

    def req(self, method: str, path: str, who: str = "operator", **kw: Any) -> Any:
        return self.client.request(method, path, headers={
            "Authorization": f"Bearer {self.tokens[who]}"}, **kw)


def _seed(home: Path) -> Iterator[Seeded]:
    ctx = open_context(home, FakeDataPlane())
    op = accounts.bootstrap_operator(ctx)
    assert op
    try:
        with TestClient(create_app(ctx)) as client:
            world = Seeded(client, op)
            yaml = (DATA / "topology_world.yaml").read_text()
            ok(world.req("POST", "/v1/apply", json={"yaml": yaml, "filename": "world.yaml"}))
            for who in VIEWS[1:]:
                world.tokens[who] = ok(world.req("POST", f"/v1/accounts/{who}/tokens"),
                                       201)["token"]
            for path in ("/v1/subnets/acme-vpc/app/rules",
                         "/v1/instances/client/interfaces/eth0/rules"):
                ok(world.req("POST", path, "acme", json=RULE), 201)
            yield world
    finally:
        ctx.engine.dispose()


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    yield from _seed(tmp_path / "home")


def _views(world: Seeded) -> dict[str, str]:
    """Each view's answer as it came on the wire."""
    out = {}
    for who in VIEWS:
        resp = world.req("GET", "/v1/topology", who)
        assert resp.status_code == 200, resp.text
        out[who] = resp.text
    return out


def _lists(world: Seeded) -> dict[str, dict[str, Any]]:
    """Each view's first page of each list (the health answer too), as JSON, with what
    depends on the clock made steady (_steady); the events' cursor (their time) as whether
    there is one."""
    out: dict[str, dict[str, Any]] = {}
    for who in VIEWS:
        out[who] = {}
        for path in PATHS:
            resp = world.req("GET", path, who, params={"limit": 2})
            body = resp.json()
            if path == "/v1/events":
                body["next_cursor"] = body["next_cursor"] is not None
            out[who][path] = {"status": resp.status_code, "body": _steady(body),
                              "keys": _key_order(body)}
    return out


def _steady(value: Any, key: str = "") -> Any:
    """`value` with its instants and its hours so far (they follow the clock), a channel's
    keys and a request's id (made afresh each time) as placeholders."""
    if isinstance(value, dict):
        return {k: _steady(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    if isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\dT", value):
        return "<instant>"
    if key.endswith("_hours"):
        return "<hours>"
    if key.endswith("_public_key") or (key == "request_id" and value is not None):
        return f"<{key}>"
    return value


def _key_order(value: Any) -> Any:
    """The keys of every object in `value`, in the order they were sent."""
    if isinstance(value, dict):
        return [[k, _key_order(v)] for k, v in value.items()]
    if isinstance(value, list):
        return [_key_order(v) for v in value]
    return None


def test_each_list_and_health_is_the_json_answered_before_the_models(seeded: Seeded) -> None:
    golden = json.loads(LISTS.read_text())
    now = _lists(seeded)
    for who in VIEWS:
        for path in PATHS:
            assert now[who][path] == golden[who][path], (who, path)


def test_each_view_is_the_json_answered_before_the_models(seeded: Seeded) -> None:
    golden = json.loads(GOLDEN.read_text())
    now = _views(seeded)
    for who in VIEWS:
        # the same values, and the same keys in the same order at every level
        assert json.loads(now[who]) == golden[who], who
        assert now[who] == json.dumps(golden[who], separators=(",", ":")), who


if __name__ == "__main__":  # regenerate the golden answers: python -m tests.service....
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for seeded_world in _seed(Path(tmp) / "home"):
            answers = {who: json.loads(text) for who, text in _views(seeded_world).items()}
            lists = _lists(seeded_world)
    GOLDEN.write_text(json.dumps(answers, indent=1) + "\n")
    LISTS.write_text(json.dumps(lists) + "\n")
    sys.exit(0)
