"""What the service tests share: a control plane on the fake driver with its controller running
(`running_api`, the `api` fixture's), checking an answer (`ok`, `err`), waiting for the controller
(`eventually`, `settle`, `wait_ready`, `wait_gone`), the worlds they build through the API
(`build_world`, `provider_and_customer`; the fixtures of conftest.py call them) and what a refused
request must leave as it was (`snapshot`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl

from fastapi.testclient import TestClient

from facade.controller import Controller
from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.protocol import DataPlane
from facade.service import accounts, host_work
from facade.service.context import Context
from tests import worlds
from tests.agents import HostAgentRuns, PlaneSide
from tests.apps import app_for
from tests.pages import follow
from tests.stores import open_context

WAIT = 5.0
STEP = 0.02

ERROR_CODES = {400: {"invalid"}, 401: {"unauthorized"}, 403: {"forbidden"},
               404: {"not_found"}, 409: {"conflict", "exhausted", "in_use", "quota_exceeded"},
               413: {"too_large"}, 422: {"invalid"}}

LB_MGMT = "lb-vpc/mgmt"


# -- the control plane -------------------------------------------------------------------------

@dataclass
class Api:
    client: TestClient
    ctx: Context
    dp: FakeDataPlane
    token: str
    # set by a test that changes the `world` on purpose: its guard then compares nothing
    changed: bool = False
    # with `running_api(agents=True)`: each simulated host's agent, a thread (tests/agents.py)
    runs: HostAgentRuns | None = None

    def as_(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def req(self, method: str, path: str, token: str | None = "op", **kw: object):
        tok = self.token if token == "op" else token
        return self.client.request(method, path, headers=self.as_(tok), **kw)

    def items(self, path: str, token: str | None = "op", *,
              params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a list route: each page a 200 envelope, next_cursor followed to the
        end. A query in `path` (`/v1/usage?by=node`) is kept on every page."""
        return follow(lambda query: self.req("GET", path.partition("?")[0], token=token,
                                             params=query),
                      {**dict(parse_qsl(path.partition("?")[2])), **(params or {})})


@dataclass(frozen=True)
class SavedApi:
    """A world built through the API once per process, saved (tests/worlds.py), and the
    tokens of its accounts (`Api`'s attributes: `token`, the operator's, and the others)."""

    world: worlds.Saved
    token: str
    tokens: dict[str, str]


@contextmanager
def running_api(tmp_path: Path, saved: SavedApi | None = None, *,
                routed: bool = False, agents: bool = False) -> Iterator[Api]:
    """A control plane on the fake driver in `tmp_path`, stopped afterwards (for fixtures of
    any scope): on an empty store, or on a copy of a `saved` world. With `routed`, the data
    plane is the routed one over the fake driver (`service/host_work.route`: a host whose
    agent registered gets its work through it), and `Api.dp` still the fake driver. With
    `agents`, routed too, and each simulated host added runs its own host agent in a thread
    (`Api.runs`, tests/agents.py), whose kernel is its host's view of `Api.dp`."""
    if saved is not None:
        ctx = worlds.copied(saved.world, tmp_path / "home")
        dp, token = cast(FakeDataPlane, ctx.dataplane), saved.token
    else:
        dp = FakeDataPlane()
        ctx = open_context(tmp_path / "home", dp)
        made = accounts.bootstrap_operator(ctx)
        assert made
        token = made
    plane = PlaneSide(dp) if agents else None
    if plane is not None:
        ctx.dataplane = cast(DataPlane, plane)
    if routed or agents:
        host_work.route(ctx)
    worker = Controller(ctx)
    worker.start()
    runs = None
    try:
        with app_for(ctx) as app, TestClient(app) as client:
            if plane is not None:
                runs = HostAgentRuns(client, dp, ctx.host_work, plane)
                ctx.agents = runs
            api = Api(client=client, ctx=ctx, dp=dp, token=token, runs=runs)
            for name, value in (saved.tokens if saved else {}).items():
                setattr(api, name, value)
            try:
                yield api
            finally:
                if runs is not None:  # before the client goes: their polls use it
                    runs.close()
    finally:
        worker.stop()
        ctx.engine.dispose()


# -- answers -----------------------------------------------------------------------------------

def ok(resp: Any, status: int = 200) -> Any:
    """The answer has this status; its JSON body (None when it has none)."""
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


def err(resp: Any, status: int, *words: str, code: str | None = None,
        where: str | None = None) -> dict[str, Any]:
    """Check the error answer: status, shape, code, and a message that says what is wrong."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}, body
    e = body["error"]
    assert set(e) == {"code", "message", "where"}, e
    assert e["code"] in ERROR_CODES[status], e
    if code is not None:
        assert e["code"] == code, e
    assert isinstance(e["message"], str) and e["message"], e
    for w in words:
        assert w in e["message"], (w, e)
    if where is not None:
        assert e["where"] is not None and where in e["where"], e
    return e


# -- waiting for the controller ----------------------------------------------------------------

def eventually(check: Callable[[], Any], timeout: float = WAIT,
               what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy (bounded); its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(STEP)


def settle(api: Any, timeout: float = WAIT) -> None:
    """Wait (bounded) until the worker has nothing left to do: every appliance ready, every
    node active, so statuses do not change under a before/after comparison."""
    deadline = time.monotonic() + timeout
    while True:
        apps = api.items("/v1/appliances")
        insts = api.items("/v1/instances")
        if all(a["status"] == "ready" and all(n["status"] == "active" for n in
                                              [a["frontend"], *a["backends"]]) for a in apps) \
                and all(i["status"] == "active" for i in insts):
            return
        assert time.monotonic() < deadline, "the worker did not settle"
        time.sleep(STEP)


def wait_ready(api: Any, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        app = ok(api.req("GET", f"/v1/appliances/{name}"))
        return app if app["status"] == "ready" else None
    return eventually(ready)


def wait_gone(api: Any, path: str) -> None:
    eventually(lambda: api.req("GET", path).status_code == 404)


def parallel(n: int, call: Callable[[int], Any]) -> list[Any]:
    """Run call(0..n-1) on n threads released together; the answers in index order."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait(timeout=30)
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n), timeout=120))


# -- what a refused request must leave as it was -----------------------------------------------

def offers(api: Any) -> list[dict[str, Any]]:
    """The load-balancer offers as the operator sees them, without the live observations of
    their front-ends' agents (what they last said, and when: not state)."""
    lbs: list[dict[str, Any]] = api.items("/v1/load-balancers")
    for lb in lbs:
        for node in lb.get("frontends") or []:
            node.pop("management", None)
    return lbs


def snapshot(api: Any) -> dict[str, Any]:
    """Everything a rejected request must leave as it was."""
    settle(api)
    state = {path: api.items(path) for path in (
        "/v1/accounts", "/v1/networks", "/v1/subnets", "/v1/instances", "/v1/services",
        "/v1/appliances")}
    # what the agents last said (and when) is live observation, not desired state
    for app in state["/v1/appliances"]:
        for node in [app.get("frontend") or {}, *app.get("backends", [])]:
            node.pop("management", None)
    events = api.items("/v1/events?limit=1000")
    state["created"] = [e for e in events if e["kind"].endswith(
        (".created", ".deleted", ".deleting", ".scaling"))]
    return state


# -- worlds ------------------------------------------------------------------------------------

def provider_and_customer(api: Any, *, backend_cidr: str = "10.0.1.0/24") -> None:
    """acme (a customer: acme-vpc/app) and searchco (a provider: search-vpc/backend and /mgmt,
    its service `search`); nothing else."""
    for name in ("acme", "searchco"):
        ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "search-vpc", "account": "searchco", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "backend", "cidr": backend_cidr},
                    {"name": "mgmt", "cidr": "10.0.200.0/24"}]}), 201)
    ok(api.req("POST", "/v1/services", json={
        "name": "search", "account": "searchco", "workload": "http-echo", "port": 80,
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}), 201)


def saved_world(folder: Path) -> SavedApi:
    """`build_world` in a control plane of its own in `folder`, settled and saved: the
    `world` fixture's tests each get a copy (tests/service/conftest.py)."""
    with running_api(folder) as api:
        build_world(api)
        settle(api)
        tokens = {"acme": api.acme, "searchco": api.searchco}
    return SavedApi(worlds.save(api.ctx, folder), api.token, tokens)


def build_world(api: Any) -> None:
    """Two accounts, their networks, a service, an instance and a token each."""
    for name in ("acme", "searchco"):
        ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"},
                    {"name": "tiny", "cidr": "10.0.9.0/29"}]}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": "search-vpc", "account": "searchco", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "backend", "cidr": "10.0.1.0/24"},
                    {"name": "mgmt", "cidr": "10.0.200.0/24"}]}), 201)
    ok(api.req("POST", "/v1/services", json={
        "name": "search", "account": "searchco", "workload": "http-echo", "port": 80,
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}), 201)
    ok(api.req("POST", "/v1/instances", json={
        "name": "client", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]}), 201)
    api.acme = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"]
    api.searchco = ok(api.req("POST", "/v1/accounts/searchco/tokens"), 201)["token"]


def appliance_body(**over: Any) -> dict[str, Any]:
    body = {"name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
            "backends": 2}
    return {**body, **over}


def service_body(**over: Any) -> dict[str, Any]:
    body = {"name": "svc2", "account": "searchco", "workload": "http-echo", "port": 8080,
            "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}
    return {k: v for k, v in {**body, **over}.items() if v is not ...}
