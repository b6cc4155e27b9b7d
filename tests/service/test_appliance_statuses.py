"""An appliance's statuses as the API shows them and filters by them (domain/states.py): a
rescale makes it `scaling` until the controller has the new backends in rotation, and then
`ready` again; `?status=scaling` finds it meanwhile. Each status the lifecycle goes through is
one the read model (ApplianceRead.status, an ApplianceStatus) and the client accept."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from facade.client.models import Appliance
from facade.domain.specs import NodeSpec, ProcessSpec
from facade.domain.states import ApplianceStatus
from tests.service.helpers import appliance_body, err, ok, wait_gone, wait_ready


def _named(api: Any, status: str) -> list[str]:
    return [a["name"] for a in api.items(f"/v1/appliances?status={status}")]


def _hold_new_backends(api: Any, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The fake data plane makes no third backend until the returned event is set (as a slow
    kernel would not), so the appliance stays in the middle of its rescale."""
    release = threading.Event()
    make = api.dp.ensure_node

    def held(spec: NodeSpec, start: Sequence[ProcessSpec] = ()) -> frozenset[str]:
        if spec.netns.endswith("-docs-b3"):
            assert release.wait(30), "the test did not release the backend"
        return make(spec, start)

    monkeypatch.setattr(api.dp, "ensure_node", held)
    return release


def test_a_rescaling_appliance_is_found_by_its_status(
        world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    world.changed = True
    ok(world.req("POST", "/v1/appliances", json=appliance_body()), 202)
    wait_ready(world, "docs")
    assert _named(world, "scaling") == []
    release = _hold_new_backends(world, monkeypatch)
    try:
        scaled = ok(world.req("PATCH", "/v1/appliances/docs", json={"backends": 3}), 202)
        assert (scaled["status"], scaled["status_detail"]) == ("scaling", "2 -> 3 backends")
        assert _named(world, "scaling") == ["docs"]
        assert _named(world, "ready") == []
        # the customer's view and the provider's filter alike
        assert [a["name"] for a in world.items("/v1/appliances?status=scaling",
                                               world.acme)] == ["docs"]
        assert Appliance.model_validate(scaled).status is ApplianceStatus.SCALING
    finally:
        release.set()
    app = wait_ready(world, "docs")
    assert len(app["backends"]) == 3
    assert _named(world, "scaling") == [] and _named(world, "ready") == ["docs"]


def test_each_status_of_the_lifecycle_is_a_member_of_the_enum(world: Any) -> None:
    """Create, ready, scale, delete: every status the appliance answers on its way parses as
    the read model, and is a member; an unknown one is still refused by the filter, naming
    the members."""
    world.changed = True
    seen: set[str] = set()

    def saw(answer: dict[str, Any]) -> None:
        seen.add(Appliance.model_validate(answer).status)

    saw(ok(world.req("POST", "/v1/appliances", json=appliance_body()), 202))
    saw(ok(world.req("GET", "/v1/appliances/docs")))
    saw(wait_ready(world, "docs"))
    saw(ok(world.req("PATCH", "/v1/appliances/docs", json={"backends": 1}), 202))
    saw(ok(world.req("GET", "/v1/appliances/docs")))
    saw(wait_ready(world, "docs"))
    saw(ok(world.req("DELETE", "/v1/appliances/docs"), 202))
    wait_gone(world, "/v1/appliances/docs")
    assert {"provisioning", "ready", "scaling", "deleting"} <= seen
    assert seen <= {m.value for m in ApplianceStatus}
    e = err(world.req("GET", "/v1/appliances?status=resizing"), 400, where="status")
    assert "provisioning, ready, scaling, degraded, failed, deleting" in e["message"]


def test_the_read_model_refuses_a_status_outside_the_enum() -> None:
    answer = {"name": "docs", "account": "acme", "service": "search", "provider": "searchco",
              "subnet": "acme-vpc/app", "status": "scaling", "status_detail": "",
              "desired_backends": 1, "backend_count": 1,
              "endpoint": {"ip": None, "port": 80}, "frontend": None, "backends": []}
    assert Appliance.model_validate(answer).status is ApplianceStatus.SCALING
    with pytest.raises(ValueError, match="status"):
        Appliance.model_validate({**answer, "status": "resizing"})
