"""Fuzz the REST API from its own OpenAPI document (schemathesis) on the fake driver.

Every generated request, valid or not, with the operator's token, an account's token or none:
- never a 5xx;
- the answer conforms to the OpenAPI document where it declares one (status, content type,
  body; errors included, see `api/app.py`);
- a request the API rejects (4xx) changes nothing in the desired state.

Each operation runs against a fresh small world (2 accounts, networks with subnets, a service,
an instance, an appliance), so cases can hit real objects. The run is bounded and derandomized
(the same cases on every run); the number of cases is counted and shown by the last test.

The world is seeded through the API once per process (`seeded`: about half the fuzzing's CPU
went to seeding a world per test), left to settle, and saved (tests/worlds.py): its store, the
files of its state folder and the fake driver's state. Each test gets a copy of all three at
the same path (the driver's specs name files in the state folder) and starts its own
controller on it, which finds nothing to do: `test_a_copied_world_is_a_freshly_seeded_one`
holds the copy to a world seeded afresh.
"""

from __future__ import annotations

import collections
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from facade.api.app import create_app
from facade.controller import Controller
from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts
from facade.service.context import Context
from facade.store.models import (
    Account,
    Appliance,
    BillingRun,
    Event,
    Instance,
    Interface,
    LedgerTransaction,
    Network,
    PriceList,
    Service,
    Subnet,
    Token,
)
from tests import worlds
from tests.stores import open_context

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Cases per operation (and per generation mode): ~32 operations, three callers.
OPERATOR_EXAMPLES = 20
NEGATIVE_EXAMPLES = 12
ACCOUNT_EXAMPLES = 6
ANONYMOUS_EXAMPLES = 3
FUZZ_SETTINGS = {"deadline": None, "derandomize": True, "database": None,
                 "suppress_health_check": list(HealthCheck), "print_blob": False}

# slice -> status class -> number of cases
COUNTS: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
STARTED = time.monotonic()

# Events the API's writes record; the worker's own (reconcile.*, appliance.ready...) are not
# caused by a request.
API_EVENT_KINDS = ("account.", "token.", "network.", "subnet.", "instance.", "service.",
                   "appliance.created", "appliance.scaling", "appliance.deleting", "prices.",
                   "billing.")


class World:
    def __init__(self, ctx: Context, client: TestClient, tokens: dict[str, str]) -> None:
        self.ctx, self.client, self.tokens = ctx, client, dict(tokens)

    def req(self, method: str, path: str, token: str = "operator", **kw: Any) -> Any:
        resp = self.client.request(method, path, headers={
            "Authorization": f"Bearer {self.tokens[token]}"}, **kw)
        assert resp.status_code < 300, (method, path, resp.text)
        return resp.json()


def seed(world: World) -> None:
    """Two tenants: acme (a customer: a network, an instance, an appliance) and searchco (a
    provider: backend and management subnets, a service)."""
    for name in ("acme", "searchco"):
        world.req("POST", "/v1/accounts", json={"name": name})
        world.tokens[name] = world.req("POST", f"/v1/accounts/{name}/tokens")["token"]
    world.req("POST", "/v1/networks", json={
        "name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"},
                    {"name": "tiny", "cidr": "10.0.9.0/29"}]})
    world.req("POST", "/v1/networks", json={
        "name": "search-vpc", "account": "searchco", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "backend", "cidr": "10.0.1.0/24"},
                    {"name": "mgmt", "cidr": "10.0.200.0/24"}]})
    world.req("POST", "/v1/services", json={
        "name": "search", "account": "searchco", "workload": "http-echo", "port": 80,
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"})
    world.req("POST", "/v1/instances", json={
        "name": "client", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]})
    world.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 2})
    world.ctx.converge()


def desired_state(ctx: Context) -> dict[str, Any]:
    """The desired state a request can change, read straight from the database.

    What only the worker changes is left out: statuses other than `deleting`, and rows the
    worker finalises (those already `deleting`), so a pass between two snapshots is no change.
    """
    with ctx.read() as s:
        gone = {i.id for i in s.scalars(select(Instance)) if i.status == "deleting"}
        gone_apps = {a.id for a in s.scalars(select(Appliance)) if a.status == "deleting"}
        return {
            "accounts": sorted((a.id, a.name, a.operator) for a in s.scalars(select(Account))),
            "tokens": sorted((t.id, t.account_id) for t in s.scalars(select(Token))),
            "networks": sorted((n.id, n.name, n.account_id, n.cidr)
                               for n in s.scalars(select(Network))),
            "subnets": sorted((x.id, x.network_id, x.name, x.cidr)
                              for x in s.scalars(select(Subnet))),
            "instances": sorted((i.id, i.name, i.account_id, i.role, i.appliance_id, i.ordinal)
                                for i in s.scalars(select(Instance)) if i.id not in gone),
            "interfaces": sorted((f.id, f.instance_id, f.subnet_id, f.index, f.ip)
                                 for f in s.scalars(select(Interface))
                                 if f.instance_id not in gone),
            "services": sorted((v.id, v.name, v.account_id, v.workload, v.command, v.port,
                                v.health_path, v.backend_subnet_id, v.management_subnet_id)
                               for v in s.scalars(select(Service))),
            "appliances": sorted((a.id, a.name, a.account_id, a.service_id, a.subnet_id,
                                  a.desired_backends) for a in s.scalars(select(Appliance))
                                 if a.id not in gone_apps),
            "events": sorted((e.id, e.kind, e.object) for e in s.scalars(select(Event))
                             if e.kind.startswith(API_EVENT_KINDS)),
            "prices": sorted((p.id, p.kind, p.subject, p.from_hour, p.currency,
                              p.frontend_node_hour, p.backend_node_hour)
                             for p in s.scalars(select(PriceList))),
            "ledger": sorted((t.id, t.run_id) for t in s.scalars(select(LedgerTransaction))),
            "runs": sorted(r.id for r in s.scalars(select(BillingRun))),
        }


def statuses(ctx: Context) -> dict[str, str]:
    """What the worker made of the world: every appliance's and instance's status."""
    with ctx.read() as s:
        return {**{f"appliance {a.name}": a.status for a in s.scalars(select(Appliance))},
                **{f"instance {i.name}": i.status for i in s.scalars(select(Instance))}}


def settle(ctx: Context, worker: Controller, timeout: float = 120.0) -> None:
    """Wait (bounded) until the worker has nothing left to do: nothing queued, held or delayed,
    every appliance ready, every instance active."""
    deadline = time.monotonic() + timeout
    while True:
        if worker.queue.depth() == 0 and all(
                v == ("ready" if k.startswith("appliance") else "active")
                for k, v in statuses(ctx).items()):
            return
        assert time.monotonic() < deadline, f"the world did not settle: {statuses(ctx)}"
        time.sleep(0.02)


@contextmanager
def running(ctx: Context, tokens: dict[str, str]) -> Iterator[tuple[World, Controller]]:
    """`ctx` with its controller running and the API on it; stopped and closed after."""
    worker = Controller(ctx)
    worker.start()
    try:
        APP.state.ctx = ctx
        with TestClient(APP) as client:
            yield World(ctx, client, tokens), worker
    finally:
        worker.stop()
        ctx.engine.dispose()


@contextmanager
def seeded_afresh(home: Path) -> Iterator[tuple[World, Controller]]:
    """A world seeded through the API into `home` (emptied first), settled."""
    shutil.rmtree(home, ignore_errors=True)
    ctx = open_context(home, FakeDataPlane())
    token = accounts.bootstrap_operator(ctx)
    assert token
    with running(ctx, {"operator": token}) as (w, worker):
        seed(w)
        settle(ctx, worker)
        yield w, worker


@dataclass(frozen=True)
class Seeded:
    """The world of this process, seeded once; each test runs on a copy (`worlds.copied`)."""

    world: worlds.Saved
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_once(tmp_path_factory.mktemp("fuzz"))


def seed_once(folder: Path) -> Seeded:
    """The world seeded in `folder`/home, then saved (tests/worlds.py)."""
    with seeded_afresh(folder / "home") as (w, _):
        ctx, tokens = w.ctx, w.tokens
    # the controller stopped: nothing writes any more
    return Seeded(worlds.save(ctx, folder), tokens)


@pytest.fixture
def world(seeded: Seeded) -> Iterator[World]:
    with running(worlds.copied(seeded.world), seeded.tokens) as (w, _):
        yield w


def _without_event_ids(desired: dict[str, Any]) -> dict[str, Any]:
    """The desired state, its events by kind and object: two worlds seeded alike number the
    same events differently (the workers' own events land between the API's as they come)."""
    return {**desired, "events": sorted((kind, obj) for _, kind, obj in desired["events"])}


def _world_as_seen(w: World) -> dict[str, Any]:
    with w.ctx.read() as s:
        # but the controller's own of its timing (a router made before the service that
        # changes it, or after; the agents' polls)
        events = sorted((e.kind, e.object) for e in s.scalars(select(Event))
                        if not e.kind.startswith(("reconcile.", "management.")))
    return {"desired": _without_event_ids(desired_state(w.ctx)), "statuses": statuses(w.ctx),
            "events": events, "kernel": worlds.kernel(cast(FakeDataPlane, w.ctx.dataplane))}


def _after_a_write(w: World) -> dict[str, Any]:
    """A network made in the world: the ids the store hands out next, and what the worker
    does with it."""
    made = w.req("POST", "/v1/networks", token="acme", json={
        "name": "more", "cidr": "10.9.0.0/16", "subnets": [{"name": "s", "cidr": "10.9.1.0/24"}]})
    assert w.ctx.converge()
    return {"made": made, "desired": _without_event_ids(desired_state(w.ctx)),
            "kernel": worlds.kernel(cast(FakeDataPlane, w.ctx.dataplane))}


def test_a_copied_world_is_a_freshly_seeded_one(seeded: Seeded) -> None:
    """The copy every fuzzing test starts from is what seeding the world through the API gives:
    the same desired state, statuses, events and kernel; its controller, started on it, finds
    nothing to do (no write, no driver call); every token of the seeding works in it; and the
    store hands out the same ids next."""
    assert seeded.world.names_home  # the agent's configuration: copies live where it was
    ctx = worlds.copied(seeded.world)
    dataplane = cast(FakeDataPlane, ctx.dataplane)
    rows = worlds.rows(ctx)
    with running(ctx, seeded.tokens) as (w, worker):
        settle(ctx, worker)  # its first pass, over every key, done
        assert worker.reconciled >= len(worker.all_keys())
        assert worlds.rows(ctx) == rows, "the controller wrote to a copied world"
        assert dataplane.calls == seeded.world.dataplane.calls, \
            "the controller changed the kernel"
        copy_seen = _world_as_seen(w)
        for name in ("operator", "acme", "searchco"):
            assert w.req("GET", "/v1/accounts", token=name)
        copy_next = _after_a_write(w)
    with seeded_afresh(seeded.world.home) as (w, worker):
        assert _world_as_seen(w) == copy_seen
        assert _after_a_write(w) == copy_next


def _drop_auth(case: Any) -> None:
    """Remove a generated Authorization header: the slice decides who is asking."""
    if case.headers:
        for key in [k for k in case.headers if k.lower() == "authorization"]:
            del case.headers[key]


def run_case(world: World, case: Any, slice_: str, token: str | None) -> Any:
    _drop_auth(case)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    before = desired_state(world.ctx)
    checks = [*CHECKS]
    response = case.call(headers=headers, timeout=None)  # no deadline: see `_schema`
    status = response.status_code
    # a negative case must be rejected; 413 (the body cap: an over-long string escaped as JSON
    # can pass 2 MiB) is a rejection too, which schemathesis's check does not list
    if case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE \
            and status != 413:
        checks.append(negative_data_rejection)
    COUNTS[slice_][f"{status // 100}xx"] += 1
    case.validate_response(response, checks=checks, headers=headers)
    if 400 <= status < 500:
        after = desired_state(world.ctx)
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        assert not changed, (f"{case.method} {case.formatted_path} was refused with {status} "
                             f"({response.text}) but changed {changed}")
    return response


# The schema is read once, at import, from an app whose Context each test's world replaces
# (`app.state.ctx` is all a route reads). `schemathesis.pytest.from_fixture` would load it per
# test, but schemathesis 4.32.5's lazy loader breaks on pytest 9 (`Function._nodeid`).
APP = create_app(cast(Context, None))


# Names of the seeded world, so that generated requests also reach real objects (random text
# alone would almost only meet 404s and name rules).
KNOWN_NAMES = {
    "/v1/accounts/": ["acme", "searchco", "operator"],
    "/v1/networks/": ["acme-vpc", "search-vpc"],
    "/v1/instances/": ["client", "docs-fe", "docs-b1"],
    "/v1/services/": ["search"],
    "/v1/appliances/": ["docs"],
}
KNOWN_PARAMS = {"network": ["acme-vpc", "search-vpc"], "subnet": ["app", "tiny", "backend", "mgmt"]}
SUBNETS = ["acme-vpc/app", "acme-vpc/tiny", "search-vpc/backend", "search-vpc/mgmt"]
KNOWN_BODY: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["acme", "client", "docs", "search", "acme-vpc", "app", "fresh",
                             "n2", "x"]),
    "account": st.sampled_from(["acme", "searchco", "operator"]),
    "cidr": st.sampled_from(["10.0.0.0/16", "10.0.1.0/24", "10.0.77.0/24", "172.16.0.0/12",
                             "10.0.9.0/29"]),
    "subnet": st.sampled_from(SUBNETS),
    "backend_subnet": st.sampled_from(SUBNETS),
    "management_subnet": st.sampled_from(SUBNETS),
    "service": st.sampled_from(["search", "nope"]),
    "backends": st.integers(0, 4),
    "interfaces": st.lists(st.fixed_dictionaries({"subnet": st.sampled_from(SUBNETS)}),
                           min_size=1, max_size=3),
    "argv": st.just(["echo", "hi"]),
    "period": st.sampled_from(["2025-06", "2025-06-15", "1970-01", "2025-06-01T00:00Z/"
                               "2025-06-02T00:00Z", "2999-01"]),
}


def _known_path_parameters(context: Any, params: Any) -> Any:
    if not isinstance(params, dict) or not params:
        return st.just(params)
    known = dict(KNOWN_PARAMS)
    for prefix, names in KNOWN_NAMES.items():
        if context.operation.path.startswith(prefix):
            known["name"] = names
    keys = [k for k in params if k in known]
    if not keys:
        return st.just(params)
    return st.one_of(st.just(params), st.fixed_dictionaries(
        {k: st.sampled_from(known[k]) if k in keys else st.just(v) for k, v in params.items()}))


def _known_body(context: Any, body: Any) -> Any:
    if not isinstance(body, dict):
        return st.just(body)
    keys = [k for k in body if k in KNOWN_BODY]
    if not keys:
        return st.just(body)
    return st.one_of(st.just(body), st.fixed_dictionaries(
        {k: KNOWN_BODY[k] if k in keys else st.just(v) for k, v in body.items()}))


def _schema(max_examples: int, modes: list[GenerationMode], *, known: bool = True) -> Any:
    # no deadline (schemathesis reads with 10 s by default): the fuzzing runs at idle priority
    # beside the kernel tests (tests/suite.sh), where a busy machine may starve it that long
    schema = schemathesis.openapi.from_asgi("/openapi.json", APP, timeout=None)
    # no generated credentials from the declared bearer scheme: each slice sends its own token
    # (a "negative" Authorization header would be replaced by a valid one, then accepted)
    schema.config.generation.update(modes=modes, max_examples=max_examples, deterministic=True,
                                    with_security_parameters=False)
    if known:
        schema.hook("flatmap_path_parameters")(_known_path_parameters)
        schema.hook("flatmap_body")(_known_body)
    return schema


operator = _schema(OPERATOR_EXAMPLES, [GenerationMode.POSITIVE])
# negative cases keep what was generated: a known-name hook could make an invalid body valid
operator_negative = _schema(NEGATIVE_EXAMPLES, [GenerationMode.NEGATIVE], known=False)
account = _schema(ACCOUNT_EXAMPLES, [GenerationMode.POSITIVE])
anonymous = _schema(ANONYMOUS_EXAMPLES, [GenerationMode.POSITIVE], known=False)


@operator.parametrize()
@settings(**FUZZ_SETTINGS)
def test_operator_requests(case: Any, world: World) -> None:
    run_case(world, case, "operator", world.tokens["operator"])


@operator_negative.parametrize()
@settings(**FUZZ_SETTINGS)
def test_operator_invalid_requests(case: Any, world: World) -> None:
    run_case(world, case, "operator-negative", world.tokens["operator"])


@account.parametrize()
@settings(**FUZZ_SETTINGS)
def test_account_requests(case: Any, world: World) -> None:
    run_case(world, case, "account", world.tokens["acme"])


@anonymous.parametrize()
@settings(**FUZZ_SETTINGS)
def test_anonymous_requests(case: Any, world: World) -> None:
    response = run_case(world, case, "anonymous", None)
    if case.path != "/v1/health":
        assert response.status_code in (401, 404, 405, 413, 422), response.text


def test_zz_fuzz_case_count(capsys: pytest.CaptureFixture[str]) -> None:
    """The summary: how many cases ran (shown with -s, or -rP), and that the fuzzing ran at all."""
    total = sum(sum(c.values()) for c in COUNTS.values())
    lines = [f"{name}: {sum(c.values())} cases ({', '.join(f'{k} {v}' for k, v in sorted(c.items()))})"
             for name, c in sorted(COUNTS.items())]
    with capsys.disabled():
        print(f"\nAPI fuzz: {total} cases in {time.monotonic() - STARTED:.1f}s; " + "; ".join(lines))
    if COUNTS:  # the fuzz tests ran in this session (not deselected)
        assert total >= 200
