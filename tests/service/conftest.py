"""Fixtures of the service tests: a control plane on the fake driver (no root needed), its
controller running, driven through the API; and the worlds the tests start from."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.helpers import (
    LB_MGMT,
    Api,
    SavedApi,
    ok,
    provider_and_customer,
    running_api,
    snapshot,
)
from tests.service.helpers import saved_world as saved_world_of


@pytest.fixture
def quick_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host silent for half a second is lost (hosts.LOST_AFTER: 5 s)."""
    from facade.domain import hosts
    monkeypatch.setattr(hosts, "LOST_AFTER", 0.5)


@pytest.fixture(scope="session")
def saved_world(tmp_path_factory: pytest.TempPathFactory) -> SavedApi:
    """The `world`, built once per test process and saved (helpers.saved_world)."""
    return saved_world_of(tmp_path_factory.mktemp("world"))


AGENTS = "FACADE_TEST_AGENTS"  # `all`: every test of the hosts modules on agents too


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `agents` runs twice, its simulated hosts driven by the control plane
    (`plane`) and by their own host agents (`agents`: tests/agents.py); with
    FACADE_TEST_AGENTS=all, so does every test of the hosts modules (test_hosts_*.py)."""
    if "on_agents" not in metafunc.fixturenames:
        return
    every = os.environ.get(AGENTS) == "all" and \
        metafunc.definition.module.__name__.rpartition(".")[2].startswith("test_hosts_")
    if every or metafunc.definition.get_closest_marker("agents") is not None:
        metafunc.parametrize("on_agents", [False, True], indirect=True,
                             ids=["plane", "agents"])


@pytest.fixture
def on_agents(request: pytest.FixtureRequest) -> bool:
    """Whether this run's simulated hosts are on their own agents (pytest_generate_tests)."""
    return bool(getattr(request, "param", False))


@pytest.fixture
def api(request: pytest.FixtureRequest, tmp_path: Path, on_agents: bool) -> Iterator[Api]:
    """A control plane on the fake driver: an empty one; or, for a test that has this file's
    `world` (itself or through `lb`, a module's `many`...), a copy of the world built once per
    process (`saved_world`): its controller, started on it, finds nothing to do
    (tests/service/test_saved_worlds.py). A module with a `world` of its own is left alone.
    On agents (`on_agents`), each simulated host runs its own agent, and nothing may have gone
    to the wrong side's driver (tests/agents.py, `HostAgentRuns.check`)."""
    wants_world = "world" in request.fixturenames and not hasattr(request.module, "world")
    saved = request.getfixturevalue("saved_world") if wants_world else None
    with running_api(tmp_path, saved, agents=on_agents) as made:
        yield made
        if made.runs is not None:
            made.runs.close()
            made.runs.check()


@pytest.fixture
def world(api: Api) -> Iterator[Api]:
    """Two tenants (helpers.build_world: acme with an instance, searchco with its service
    `search`, a token each as `api.acme` and `api.searchco`), and a guard: a test that does not
    set `api.changed` must leave everything as it found it (helpers.snapshot). `api` made it:
    a copy of the world built once per process."""
    before = snapshot(api)
    yield api
    if not api.changed:
        assert snapshot(api) == before


@pytest.fixture
def bare_world(api: Api) -> Api:
    """Only a customer and a provider (helpers.provider_and_customer): no instance, no tokens
    and no guard, so that a test counts every address it takes from the start."""
    provider_and_customer(api)
    return api


@pytest.fixture
def lb(world: Any) -> Any:
    """The `world` and a third party: lbco, a front-end provider (offer `edge`, token
    `api.lbco`); searchco's service `search-lb` takes its front-ends from `edge`; acme's
    appliance `docs`."""
    ok(world.req("POST", "/v1/accounts", json={"name": "lbco"}), 201)
    ok(world.req("POST", "/v1/networks", json={
        "name": "lb-vpc", "account": "lbco", "cidr": "10.0.0.0/16",  # overlaps on purpose
        "subnets": [{"name": "mgmt", "cidr": "10.0.200.0/24"}]}), 201)
    world.lbco = ok(world.req("POST", "/v1/accounts/lbco/tokens"), 201)["token"]
    offer = ok(world.req("POST", "/v1/load-balancers", token=world.lbco, json={
        "name": "edge", "management_subnet": LB_MGMT}), 201)
    assert offer == {"name": "edge", "account": "lbco", "management_subnet": LB_MGMT,
                     "services": [], "frontends": []}
    svc = ok(world.req("POST", "/v1/services", token=world.searchco, json={
        "name": "search-lb", "workload": "http-echo", "port": 80, "frontend": "edge",
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}), 201)
    assert svc["frontend"] == "edge"
    ok(world.req("POST", "/v1/appliances", token=world.acme, json={
        "name": "docs", "service": "search-lb", "subnet": "acme-vpc/app", "backends": 2}), 202)
    world.changed = True
    return world
