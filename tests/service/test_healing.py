"""Node replacement on the fake data plane: a replacement keeps the appliance's size and customer
address (the decisions: tests/unit/test_healing.py)."""

from __future__ import annotations

from typing import Any

from tests.service.helpers import appliance_body, ok


def test_replace_backend_keeps_size_and_endpoint(world: Any) -> None:
    from facade.service import appliances
    from facade.store.models import Appliance

    api = world
    api.changed = True
    before = ok(api.req("POST", "/v1/appliances", json=appliance_body()), 202)
    with api.ctx.write() as s:
        app = s.query(Appliance).filter_by(name="docs").one()
        old = next(n for n in app.nodes if n.name == "docs-b1")
        new = appliances.replace_backend(api.ctx, s, app, old, "test")
        assert new.name == "docs-b3" and old.status == "deleting"
    api.ctx.converge(10)
    after = ok(api.req("GET", "/v1/appliances/docs"))
    assert after["endpoint"] == before["endpoint"]
    assert sorted(b["name"] for b in after["backends"]) == ["docs-b2", "docs-b3"]
    kinds = [e["kind"] for e in api.items("/v1/events")]
    assert "appliance.node_replaced" in kinds
