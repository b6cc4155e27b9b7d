"""A control plane on the fake data plane (its controller running), served by uvicorn on a
free loopback port, for a real browser to load the console from: what bench/console.py and
the console's browser test on the fake driver use (the kernel test uses the real one)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from facade.api.app import create_app
from facade.controller import Controller
from facade.dataplane.fake import FakeDataPlane
from facade.service import accounts
from tests.stores import open_context


@dataclass
class Served:
    base: str
    token: str  # the operator's
    http: httpx.Client

    def req(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        resp = self.http.request(method, self.base + path, headers={
            "Authorization": f"Bearer {token or self.token}"}, **kw)
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_plane(tmp: Path) -> Iterator[Served]:
    ctx = open_context(tmp / "home", FakeDataPlane())
    token = accounts.bootstrap_operator(ctx)
    assert token
    worker = Controller(ctx)
    worker.start()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.02)
        with httpx.Client(timeout=30) as http:
            yield Served(f"http://127.0.0.1:{port}", token, http)
    finally:
        server.should_exit = True
        thread.join(10)
        worker.stop()
        ctx.engine.dispose()


def wait_ready(plane: Served, names: list[str], timeout: float = 60) -> None:
    """Until every named appliance (the operator's view) is ready."""
    deadline = time.monotonic() + timeout
    while True:
        apps = plane.req("GET", "/v1/appliances?limit=1000")["items"]
        if {a["name"] for a in apps if a["status"] == "ready"} >= set(names):
            return
        assert time.monotonic() < deadline, "appliances not ready in time"
        time.sleep(0.1)


def world(plane: Served, appliances: int, backends: int = 1,
          timeout: float = 60) -> dict[str, str]:
    """acme (a customer, acme-vpc/app) and searchco (a provider of `search`), `appliances`
    appliances of acme, ready within `timeout` seconds; the accounts' tokens."""
    for name in ("acme", "searchco"):
        plane.req("POST", "/v1/accounts", json={"name": name})
    plane.req("PUT", "/v1/accounts/acme/quotas", json={"appliances": 1000, "backends": 2000})
    plane.req("POST", "/v1/networks", json={
        "name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.0.0/20"}]})
    plane.req("POST", "/v1/networks", json={
        "name": "search-vpc", "account": "searchco", "cidr": "10.1.0.0/16",
        "subnets": [{"name": "backend", "cidr": "10.1.0.0/20"},
                    {"name": "mgmt", "cidr": "10.1.16.0/20"}]})
    plane.req("POST", "/v1/services", json={
        "name": "search", "account": "searchco", "workload": "http-echo", "port": 80,
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"})
    plane.req("POST", "/v1/instances", json={
        "name": "client", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}]})
    names = [f"app{i}" for i in range(appliances)]
    for name in names:
        plane.req("POST", "/v1/appliances", json={
            "name": name, "account": "acme", "service": "search", "subnet": "acme-vpc/app",
            "backends": backends})
    wait_ready(plane, names, timeout)
    return {name: plane.req("POST", f"/v1/accounts/{name}/tokens")["token"]
            for name in ("acme", "searchco")}
