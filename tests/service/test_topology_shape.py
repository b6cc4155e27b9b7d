"""/v1/topology and /v1/health answer their read models (facade.readmodels.topology, .system)
with the very JSON they answered as free-form dictionaries: for a seeded world with every kind
of thing the topology shows, each view (operator, customer, provider) is byte for byte the
answer recorded before the models existed (data/topology_golden.json), keys in the same order.

The world is built without a controller, so nothing changes under the reading (statuses stay
pending and provisioning, names follow the store's ids)."""

from __future__ import annotations

import json
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
    GOLDEN.write_text(json.dumps(answers, indent=1) + "\n")
    sys.exit(0)
