"""An appliance's front-end shows its rotation to those who see its management: the backend
addresses its nftables map held when metering last read its agent (service/metering.py keeps
them, service/appliances.observed shows them), following a scale; never to the customer (the
backends' addresses are the provider's). The fake data plane's agents answer from its own map
of each front-end's backends, an independent record of what the reconciler put there."""

from __future__ import annotations

from typing import Any

from tests.service.helpers import eventually, ok, wait_ready


def rotation_of(api: Any, token: str | None = "op") -> list[str] | None:
    fe = ok(api.req("GET", "/v1/appliances/docs?account=acme", token=token))["frontend"]
    return (fe["management"] or {}).get("rotation")


def backend_ips(api: Any) -> list[str]:
    app = ok(api.req("GET", "/v1/appliances/docs?account=acme"))
    return sorted(b["interfaces"][0]["ip"] for b in app["backends"])


def test_the_rotation_follows_a_scale_and_is_hidden_from_the_customer(world: Any) -> None:
    world.changed = True
    ok(world.req("POST", "/v1/appliances", token=world.acme, json={
        "name": "docs", "service": "search", "subnet": "acme-vpc/app", "backends": 2}), 202)
    wait_ready(world, "docs")
    fe = ok(world.req("GET", "/v1/appliances/docs"))["frontend"]["netns"]
    two = backend_ips(world)
    assert sorted(world.dp.backends[fe]) == two  # what the fake's map holds
    eventually(lambda: rotation_of(world) == two)
    assert eventually(lambda: rotation_of(world, world.searchco) == two)
    assert rotation_of(world, world.acme) is None
    listed = ok(world.req("GET", "/v1/appliances", token=world.acme))["items"][0]
    assert listed["frontend"]["management"] is None and listed["backends"] == []

    ok(world.req("PATCH", "/v1/appliances/docs", token=world.acme, json={"backends": 3}), 202)
    wait_ready(world, "docs")
    three = backend_ips(world)
    assert len(three) == 3 and set(two) < set(three)
    eventually(lambda: rotation_of(world) == three)
    listed = ok(world.req("GET", "/v1/appliances"))["items"][0]
    assert listed["frontend"]["management"]["rotation"] == three
