"""The `facade` command against a fake API (httpx.MockTransport): requests sent, output, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from facade.cli import client, wait
from facade.cli.main import app
from facade.client.http import PAGE_LIMIT
from tests.clirunner import CliRunner

pytestmark = pytest.mark.no_store  # tests/conftest.py

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeApi:
    """Routes (METHOD, path) to canned answers or callables; records every request."""

    routes: dict[tuple[str, str], Any] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, answer: Any, status: int = 200) -> None:
        if callable(answer):
            self.routes[(method, path)] = answer
        else:
            self.routes[(method, path)] = lambda req: httpx.Response(status, json=answer)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            body = {"error": {"code": "not_found", "message": f"no route {request.url.path}"}}
            return httpx.Response(404, json=body)
        response: httpx.Response = route(request)
        return response

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)

    def sent(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeApi]:
    fake = FakeApi()
    monkeypatch.setattr(client, "transport_factory", lambda: httpx.MockTransport(fake.handle))
    monkeypatch.setattr(wait, "sleep", lambda seconds: None)
    monkeypatch.setenv("FACADE_TOKEN", "tok-operator")
    monkeypatch.setenv("FACADE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FACADE_URL", raising=False)
    monkeypatch.delenv("FACADE_PROFILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no profiles of the host
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # apply's records
    yield fake


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def error(code: str, message: str, status: int, where: str = "") -> Handler:
    body = {"error": {"code": code, "message": message, "where": where}}
    return lambda req: httpx.Response(status, json=body)


def node(name: str, role: str, ip: str, subnet: str = "acme-vpc/app") -> dict[str, Any]:
    return {
        "name": name,
        "account": "acme",
        "role": role,
        "netns": f"fcd-i1-{name}",
        "status": "active",
        "appliance": None if role == "instance" else "docs",
        "interfaces": [{"name": "eth0", "subnet": subnet, "ip": ip}],
        "limits": {"memory_mb": 512, "pids": 512, "cpu_weight": 100},
    }


def appliance(status: str = "ready", backends: int = 2, detail: str = "") -> dict[str, Any]:
    return {
        "name": "docs",
        "account": "acme",
        "service": "search",
        "provider": "searchco",
        "subnet": "acme-vpc/app",
        "status": status,
        "status_detail": detail,
        "desired_backends": backends,
        "backend_count": backends,
        "endpoint": {"ip": "10.0.1.2", "port": 80},
        "frontend": node("docs-fe", "frontend", "10.0.1.2"),
        "backends": [
            node(f"docs-b{i}", "backend", f"192.168.0.{10 + i}", "prov/back")
            for i in range(backends)
        ],
    }


def network(name: str = "acme-vpc") -> dict[str, Any]:
    return {"name": name, "account": "acme", "cidr": "10.0.0.0/16", "router": "fcd-r1",
            "subnets": []}


def subnet(name: str = "acme-vpc/app") -> dict[str, Any]:
    return {"name": name, "network": "acme-vpc", "account": "acme", "cidr": "10.0.1.0/24",
            "gateway": "10.0.1.1", "used": 3, "capacity": 251, "bridge": "fcd-b1"}


def service(name: str = "search", **fields: Any) -> dict[str, Any]:
    return {"name": name, "account": "searchco", "workload": "search", "command": None,
            "port": 80, "health_path": "/health", "backend_subnet": "prov/back",
            "management_subnet": "prov/mgmt", **fields,
            "limits": {"memory_mb": 512, "pids": 512, "cpu_weight": 100},
            "health_check": {"type": "http", "path": "/health", "codes": "200-399",
                             "interval": 2.0, "timeout": 1.0, "rise": 2, "fall": 3},
            "billing_model": "provider-bills",
            "prices": {"currency": "USD", "node_hour": {"frontend": "0", "backend": "0"},
                       "per_gb": "0", "per_connection": "0", "per_1000_requests": "0"}}


def public_ip(address: str = "203.0.113.5") -> dict[str, Any]:
    return {"address": address, "account": "acme", "kind": "customer", "associated": None}


# one item of each list route, the i-th (paging tests)
ITEMS: dict[str, Callable[[int], dict[str, Any]]] = {
    "/v1/accounts": lambda i: {"name": f"x{i}", "operator": False},
    "/v1/networks": lambda i: network(f"x{i}"),
    "/v1/subnets": lambda i: subnet(f"x{i}/app"),
    "/v1/instances": lambda i: node(f"x{i}", "instance", "10.0.1.4"),
    "/v1/services": lambda i: service(f"x{i}"),
    "/v1/load-balancers": lambda i: {"name": f"x{i}", "account": "lbco",
                                     "management_subnet": None, "services": [],
                                     "frontends": []},
    "/v1/appliances": lambda i: {**appliance(), "name": f"x{i}"},
    "/v1/usage": lambda i: {"appliance": f"x{i}", "customer": "acme", "provider": "searchco",
                            "service": "search", "frontend_node_seconds": "1.000",
                            "backend_node_seconds": "2.000", "bytes_in": 1, "bytes_out": 2,
                            "connections": 3, "requests": i},
    "/v1/subnets/acme-vpc/app/grants": lambda i: {"subnet": "acme-vpc/app", "account": f"x{i}",
                                                  "created_at": "t", "used_by": []},
    "/v1/subnets/acme-vpc/app/rules": lambda i: {"direction": "ingress", "action": "allow",
                                                 "protocol": "tcp", "ports": "80",
                                                 "cidr": "0.0.0.0/0", "priority": i},
}


def page(items: list[Any], next_cursor: str | None = None) -> dict[str, Any]:
    """A list route's answer (docs/api.md, "Paging")."""
    return {"items": items, "next_cursor": next_cursor}


def pager(items: list[Any]) -> Handler:
    """A list route over `items` that pages as the API does: `limit`, then an opaque cursor
    (here the index to go on from)."""

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", "100"))
        start = int(request.url.params.get("cursor", "0"))
        end = start + limit
        return httpx.Response(200, json=page(items[start:end],
                                             str(end) if end < len(items) else None))

    return handler


def sequence(*answers: dict[str, Any] | None) -> Handler:
    """Answer each call with the next item (None = 404), repeating the last one."""
    items = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        item = items.pop(0) if len(items) > 1 else items[0]
        if item is None:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "gone"}})
        return httpx.Response(200, json=item)

    return handler


# ---- settings ----------------------------------------------------------------------------------


def test_token_and_url_come_from_the_environment(api: FakeApi, monkeypatch: Any) -> None:
    monkeypatch.setenv("FACADE_URL", "http://cp.example:9000/")
    api.on("GET", "/v1/accounts", page([]))
    result = run("account", "list")
    assert result.exit_code == 0, result.output
    request = api.requests[0]
    assert str(request.url) == "http://cp.example:9000/v1/accounts?limit=1000"
    assert request.headers["authorization"] == "Bearer tok-operator"


def test_token_falls_back_to_the_operator_token_file(
    api: FakeApi, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.delenv("FACADE_TOKEN")
    home = tmp_path / "state"
    home.mkdir()
    (home / "operator.token").write_text("tok-from-file\n")
    monkeypatch.setenv("FACADE_HOME", str(home))
    api.on("GET", "/v1/accounts", page([]))
    assert run("account", "list").exit_code == 0
    assert api.requests[0].headers["authorization"] == "Bearer tok-from-file"
    assert str(api.requests[0].url).startswith(client.DEFAULT_URL)


def test_global_options_override_the_environment(api: FakeApi) -> None:
    api.on("GET", "/v1/accounts", page([]))
    result = run("--url", "http://other:1", "--token", "tok-cli", "account", "list")
    assert result.exit_code == 0, result.output
    assert str(api.requests[0].url) == "http://other:1/v1/accounts?limit=1000"
    assert api.requests[0].headers["authorization"] == "Bearer tok-cli"


def test_401_without_a_token_says_where_it_looked(api: FakeApi, monkeypatch: Any) -> None:
    monkeypatch.delenv("FACADE_TOKEN")
    api.on("GET", "/v1/networks", error("unauthorized", "missing token", 401))
    result = run("network", "list")
    assert result.exit_code == 5  # auth
    assert "authorization" not in api.requests[0].headers
    assert "FACADE_TOKEN" in result.stderr


# ---- errors ------------------------------------------------------------------------------------


def test_api_error_is_one_clean_line_and_its_exit_code(api: FakeApi) -> None:
    api.on(
        "POST",
        "/v1/networks",
        error("conflict", "network acme-vpc exists\nalready", 409, "networks/acme-vpc"),
    )
    result = run("network", "create", "acme-vpc", "--account", "acme", "--cidr", "10.0.0.0/16")
    assert result.exit_code == 4  # conflict
    assert result.stdout == ""
    assert result.stderr == (
        "error: conflict: network acme-vpc exists already (at networks/acme-vpc)\n"
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("status", "code", "kind"), [
    (400, 2, "invalid"), (422, 2, "invalid"), (404, 3, "not_found"), (409, 4, "conflict"),
    (401, 5, "unauthorized"), (403, 5, "forbidden"), (429, 1, "rate_limited"),
    (500, 1, "internal"), (503, 1, "unavailable")])
def test_the_exit_code_tells_the_kind_of_error(api: FakeApi, status: int, code: int,
                                               kind: str) -> None:
    """invalid 2, not found 3, conflict 4, auth 5, anything else 1 (docs/operations.md)."""
    api.on("GET", "/v1/networks/x", error(kind, "said so", status))
    result = run("network", "show", "x")
    assert result.exit_code == code, result.output
    assert result.stderr == f"error: {kind}: said so\n"


def test_non_json_error_is_still_one_line(api: FakeApi) -> None:
    api.on("GET", "/v1/accounts", lambda req: httpx.Response(502, text="bad\ngateway"))
    result = run("account", "list")
    assert result.exit_code == 1
    assert result.stderr == "error: HTTP 502 Bad Gateway: bad gateway\n"


def test_connection_refused_says_how_to_start_the_control_plane(monkeypatch: Any) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    monkeypatch.setattr(client, "transport_factory", lambda: httpx.MockTransport(refuse))
    monkeypatch.setenv("FACADE_URL", "http://127.0.0.1:8470")
    result = run("network", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the control plane is not running at http://127.0.0.1:8470; "
        "start it with `make up`\n"
    )


def test_malformed_subnet_reference_is_a_usage_error(api: FakeApi) -> None:
    result = run("subnet", "show", "no-slash")
    assert result.exit_code == 2
    assert api.requests == []


# ---- resources ---------------------------------------------------------------------------------


def test_account_commands(api: FakeApi) -> None:
    api.on("POST", "/v1/accounts", {"name": "acme", "operator": False}, 201)
    api.on("POST", "/v1/accounts/acme/tokens", {"account": "acme", "token": "tok-acme"}, 201)
    api.on("DELETE", "/v1/accounts/acme", lambda req: httpx.Response(204))
    api.on("GET", "/v1/accounts/acme", {"name": "acme", "operator": False})

    assert run("account", "create", "acme").stdout == "created account acme\n"
    assert api.body() == {"name": "acme"}
    token = run("account", "token", "acme")
    assert token.stdout == "tok-acme\n"
    assert run("account", "show", "acme").exit_code == 0
    assert run("account", "delete", "acme").stdout == "deleted account acme\n"
    assert api.sent() == [
        ("POST", "/v1/accounts"),
        ("POST", "/v1/accounts/acme/tokens"),
        ("GET", "/v1/accounts/acme"),
        ("DELETE", "/v1/accounts/acme"),
    ]


def test_network_and_subnet_commands(api: FakeApi) -> None:
    api.on("POST", "/v1/networks", network(), 201)
    api.on("POST", "/v1/networks/acme-vpc/subnets", subnet(), 201)
    api.on("GET", "/v1/subnets/acme-vpc/app", subnet())
    api.on("DELETE", "/v1/subnets/acme-vpc/app", lambda req: httpx.Response(204))
    api.on("GET", "/v1/subnets", page([subnet()]))

    run("network", "create", "acme-vpc", "--account", "acme", "--cidr", "10.0.0.0/16")
    assert api.body() == {"name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16"}
    result = run("subnet", "create", "acme-vpc/app", "--cidr", "10.0.1.0/24")
    assert result.stdout == "created subnet acme-vpc/app\n"
    assert api.body() == {"name": "app", "cidr": "10.0.1.0/24"}
    shown = run("subnet", "show", "acme-vpc/app")
    assert "10.0.1.1" in shown.stdout and "3 of 251" in shown.stdout
    listed = run("subnet", "list")
    assert "acme-vpc/app" in listed.stdout and "3/251" in listed.stdout
    run("subnet", "delete", "acme-vpc/app")
    assert api.sent()[-1] == ("DELETE", "/v1/subnets/acme-vpc/app")


def test_instance_create_sends_interfaces(api: FakeApi) -> None:
    answer = node("client", "instance", "10.0.1.50")
    api.on("POST", "/v1/instances", answer, 201)
    result = run(
        "instance",
        "create",
        "client",
        "--account",
        "acme",
        "--iface",
        "acme-vpc/app=10.0.1.50",
        "--iface",
        "other/db",
    )
    assert result.exit_code == 0, result.output
    assert api.body() == {
        "name": "client",
        "account": "acme",
        "interfaces": [{"subnet": "acme-vpc/app", "ip": "10.0.1.50"}, {"subnet": "other/db"}],
    }
    assert result.stdout == "created instance client (10.0.1.50 in acme-vpc/app)\n"


def test_instance_create_needs_an_interface(api: FakeApi) -> None:
    result = run("instance", "create", "client", "--account", "acme")
    assert result.exit_code == 2
    assert api.requests == []


def test_service_create_body(api: FakeApi) -> None:
    api.on("POST", "/v1/services", service(), 201)
    args = ["service", "create", "search", "--account", "prov", "--port", "80"]
    args += ["--backend-subnet", "prov/back", "--management-subnet", "prov/mgmt"]
    result = run(*args, "--workload", "search", "--health-path", "/health")
    assert result.exit_code == 0, result.output
    assert api.body() == {
        "name": "search",
        "account": "prov",
        "port": 80,
        "backend_subnet": "prov/back",
        "management_subnet": "prov/mgmt",
        "workload": "search",
        "health_path": "/health",
    }
    result = run(*args, "--command", "prog {ip} {port}")
    assert api.body()["command"] == "prog {ip} {port}"
    assert "workload" not in api.body()
    # neither, or both, is a usage error
    assert run(*args).exit_code == 2
    assert run(*args, "--workload", "search", "--command", "x").exit_code == 2


# ---- appliances and waiting --------------------------------------------------------------------


def test_appliance_create_waits_for_ready(api: FakeApi) -> None:
    api.on("POST", "/v1/appliances", appliance("provisioning"), 202)
    api.on(
        "GET",
        "/v1/appliances/docs",
        sequence(
            appliance("provisioning", detail="starting backends"),
            appliance("provisioning", detail="checking endpoint"),
            appliance("ready"),
        ),
    )
    args = ["appliance", "create", "docs", "--account", "acme", "--service", "search"]
    result = run(*args, "--subnet", "acme-vpc/app", "--backends", "2")
    assert result.exit_code == 0, result.output
    assert api.body(0) == {
        "name": "docs",
        "account": "acme",
        "service": "search",
        "subnet": "acme-vpc/app",
        "backends": 2,
    }
    assert api.sent().count(("GET", "/v1/appliances/docs")) == 3
    assert result.stdout == "docs ready at 10.0.1.2:80\n"
    assert "starting backends" in result.stderr  # progress, on stderr


def test_appliance_create_fails_with_the_status_detail(api: FakeApi) -> None:
    api.on("POST", "/v1/appliances", appliance("provisioning"), 202)
    api.on(
        "GET",
        "/v1/appliances/docs",
        sequence(appliance("provisioning"), appliance("failed", detail="subnet exhausted")),
    )
    args = ["appliance", "create", "docs", "-a", "acme", "-s", "search", "--subnet", "acme-vpc/app"]
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "error: appliance docs failed: subnet exhausted"


def test_appliance_wait_times_out(api: FakeApi, monkeypatch: Any) -> None:
    ticks = iter(range(1000))
    monkeypatch.setattr(wait, "clock", lambda: float(next(ticks)))
    api.on("POST", "/v1/appliances", appliance("provisioning"), 202)
    api.on("GET", "/v1/appliances/docs", appliance("provisioning", detail="booting"))
    args = ["appliance", "create", "docs", "-a", "acme", "-s", "search", "--subnet", "acme-vpc/app"]
    result = run(*args, "--timeout", "5")
    assert result.exit_code == 1
    assert "timed out after 5s" in result.stderr
    assert "docs is provisioning (booting)" in result.stderr


def test_appliance_scale_waits_for_the_backend_count(api: FakeApi) -> None:
    api.on("PATCH", "/v1/appliances/docs", appliance("provisioning", backends=2), 202)
    api.on(
        "GET",
        "/v1/appliances/docs",
        sequence(appliance("ready", backends=2), appliance("ready", backends=4)),
    )
    result = run("appliance", "scale", "docs", "4")
    assert result.exit_code == 0, result.output
    assert api.body(0) == {"backends": 4}
    assert api.sent().count(("GET", "/v1/appliances/docs")) == 2
    assert result.stdout == "docs ready at 10.0.1.2:80 with 4 backends\n"


def test_appliance_delete_waits_for_404(api: FakeApi) -> None:
    api.on("DELETE", "/v1/appliances/docs", appliance("deleting"), 202)
    api.on("GET", "/v1/appliances/docs", sequence(appliance("deleting"), None))
    result = run("appliance", "delete", "docs")
    assert result.exit_code == 0, result.output
    assert result.stdout == "deleted appliance docs\n"
    assert api.sent().count(("GET", "/v1/appliances/docs")) == 2


def test_appliance_show_for_a_person(api: FakeApi) -> None:
    api.on("GET", "/v1/appliances/docs", appliance("ready", backends=2))
    out = run("appliance", "show", "docs").stdout
    for expected in ("ready", "10.0.1.2:80", "docs-fe", "docs-b0", "docs-b1", "192.168.0.11"):
        assert expected in out
    assert "\x1b[" not in out  # no colour codes when not a terminal


# ---- --json ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "path", "answer"),
    [
        (["account", "list"], "/v1/accounts", [{"name": "acme", "operator": False}]),
        (["network", "show", "acme-vpc"], "/v1/networks/acme-vpc", network()),
        (["instance", "list"], "/v1/instances", [node("client", "instance", "10.0.1.4")]),
        (["service", "show", "search"], "/v1/services/search", service()),
        (["appliance", "list"], "/v1/appliances", [appliance()]),
        (["topology"], "/v1/topology", {"networks": []}),
        (["events"], "/v1/events", [{"time": "t", "kind": "k", "object": "o", "message": "m"}]),
    ],
)
def test_json_prints_the_api_answer(api: FakeApi, args: list[str], path: str, answer: Any) -> None:
    # a list route answers pages; the command prints the list
    api.on("GET", path, page(answer) if isinstance(answer, list) else answer)
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == answer
    assert result.stdout == json.dumps(answer, indent=2) + "\n"


@pytest.mark.parametrize(
    ("args", "path", "answer", "names"),
    [
        (["account", "list"], "/v1/accounts", [{"name": "acme", "operator": False},
                                               {"name": "zed", "operator": False}],
         ["acme", "zed"]),
        (["network", "show", "acme-vpc"], "/v1/networks/acme-vpc", network(), ["acme-vpc"]),
        (["appliance", "list"], "/v1/appliances", [appliance()], [appliance()["name"]]),
        (["ip", "list"], "/v1/public-ips", [public_ip()], ["203.0.113.5"]),
        (["events"], "/v1/events", [{"time": "t", "kind": "k", "object": "o", "message": "m"}],
         ["o"]),
    ],
)
def test_output_formats(api: FakeApi, args: list[str], path: str, answer: Any,
                        names: list[str]) -> None:
    """-o json is --json; -o yaml the same answer as YAML; -o name one name per line; -o table
    the person's view, as without -o."""
    import yaml

    api.on("GET", path, page(answer) if isinstance(answer, list) else answer)
    as_json = run(*args, "--json")
    assert run(*args, "-o", "json").stdout == as_json.stdout != ""
    assert run(*args, "--output", "JSON").stdout == as_json.stdout  # any case
    out = run(*args, "-o", "yaml")
    assert out.exit_code == 0, out.output
    assert yaml.safe_load(out.stdout) == answer
    out = run(*args, "-o", "name")
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == names
    assert run(*args, "-o", "table").stdout == run(*args).stdout


def test_output_format_errors_are_usage_errors(api: FakeApi) -> None:
    api.on("GET", "/v1/accounts/acme/quotas", {"account": "acme", "operator": False,
                                               "quotas": {}})
    out = run("quota", "show", "acme", "-o", "name")  # quotas have no names
    assert out.exit_code == 2 and "no names" in out.output and "Traceback" not in out.output
    out = run("quota", "show", "acme", "--json", "-o", "yaml")
    assert out.exit_code == 2 and "two formats" in out.output
    out = run("quota", "show", "acme", "-o", "xml")
    assert out.exit_code == 2 and "xml" in out.output


def test_events_sends_the_limit(api: FakeApi) -> None:
    api.on("GET", "/v1/events",
           page([{"time": "12:00", "kind": "created", "object": "x", "message": "m"}]))
    result = run("events", "--limit", "7")
    assert result.exit_code == 0, result.output
    assert api.requests[0].url.params["limit"] == "7"
    assert "created" in result.stdout
    assert "request_id" not in api.requests[0].url.params
    result = run("events", "--request-id", "req-1")
    assert result.exit_code == 0, result.output
    assert api.requests[1].url.params["request_id"] == "req-1"


# ---- paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "path"),
    [(["account", "list"], "/v1/accounts"), (["network", "list"], "/v1/networks"),
     (["subnet", "list"], "/v1/subnets"), (["instance", "list"], "/v1/instances"),
     (["service", "list"], "/v1/services"), (["lb", "list"], "/v1/load-balancers"),
     (["appliance", "list"], "/v1/appliances"), (["usage"], "/v1/usage"),
     (["subnet", "grants", "acme-vpc/app"], "/v1/subnets/acme-vpc/app/grants"),
     (["rule", "list", "--subnet", "acme-vpc/app"], "/v1/subnets/acme-vpc/app/rules")],
)
def test_list_commands_follow_every_page(api: FakeApi, args: list[str], path: str) -> None:
    items = [ITEMS[path](i) for i in range(2345)]
    api.on("GET", path, pager(items))
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == items  # each once, in the API's order
    assert [r.url.params.get("cursor") for r in api.requests] == [None, "1000", "2000"]
    assert {r.url.params["limit"] for r in api.requests} == {str(PAGE_LIMIT)}


def test_events_read_back_from_the_newest_and_print_newest_last(api: FakeApi) -> None:
    newest_first = [{"time": f"t{i}", "kind": "k", "object": "o", "message": f"m{i}"}
                    for i in range(2500, 0, -1)]
    api.on("GET", "/v1/events", pager(newest_first))
    result = run("events", "--limit", "1500", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [e["message"] for e in shown] == [f"m{i}" for i in range(1001, 2501)]
    assert [r.url.params.get("cursor") for r in api.requests] == [None, "1000"]
    assert len(api.requests) == 2  # no page past what was asked for


def test_a_list_answer_that_is_not_a_page_is_one_clean_line(api: FakeApi) -> None:
    api.on("GET", "/v1/appliances", [appliance()])  # an older control plane's bare list
    result = run("appliance", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: GET /v1/appliances: the control plane answered "
                                    "something that is not a page")
    assert "Traceback" not in result.output


def test_an_answer_that_is_not_the_object_is_one_clean_line(api: FakeApi) -> None:
    api.on("GET", "/v1/subnets/acme-vpc/app", {**subnet(), "capacity": "lots"})
    result = run("subnet", "show", "acme-vpc/app")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the control plane's answer does not fit "
                                    "SubnetRead: capacity: ")
    assert "Traceback" not in result.output


def test_json_is_what_the_api_sent_not_the_models_defaults(api: FakeApi) -> None:
    """An older control plane leaves out fields that came later (a subnet's internet and
    sites): --json prints what it sent, the person's view reads the defaults."""
    older = subnet()
    assert "internet" not in older and "sites" not in older
    api.on("GET", "/v1/subnets/acme-vpc/app", {**older, "later_field": 1})
    result = run("subnet", "show", "acme-vpc/app", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == older  # nothing added; unknown fields left out
    shown = run("subnet", "show", "acme-vpc/app")
    assert "private" not in shown.stdout and "kept off" not in shown.stdout  # the defaults
    api.on("GET", "/v1/subnets/acme-vpc/app", {**older, "internet": False})
    assert "private: no route to the Internet" in run("subnet", "show", "acme-vpc/app").stdout


def test_a_server_paging_in_a_circle_is_stopped(api: FakeApi) -> None:
    api.on("GET", "/v1/instances", page([node("client", "instance", "10.0.1.4")], "again"))
    result = run("instance", "list")
    assert result.exit_code == 1
    assert "the same page twice" in result.stderr
    assert len(api.requests) == 2


# ---- apply / destroy ---------------------------------------------------------------------------


def test_apply_prints_changes_and_waits_for_ready(api: FakeApi, tmp_path: Path) -> None:
    manifest = tmp_path / "acme.yaml"
    manifest.write_text("networks: []\n")
    api.on(
        "POST",
        "/v1/apply",
        {
            "changes": [
                {"action": "created", "kind": "network", "name": "acme-vpc"},
                {"action": "unchanged", "kind": "account", "name": "acme"},
                {"action": "created", "kind": "appliance", "name": "docs"},
            ],
            "appliances": ["docs"],
        },
    )
    api.on("GET", "/v1/appliances/docs", sequence(appliance("provisioning"), appliance("ready")))
    result = run("apply", "-f", str(manifest))
    assert result.exit_code == 0, result.output
    assert api.body(0) == {"yaml": "networks: []\n", "filename": str(manifest)}
    assert result.stdout.splitlines() == [
        "created network acme-vpc",
        "unchanged account acme",
        "created appliance docs",
        "docs ready at 10.0.1.2:80",
    ]
    assert api.sent().count(("GET", "/v1/appliances/docs")) == 2


def test_apply_says_nothing_to_change(api: FakeApi, tmp_path: Path) -> None:
    manifest = tmp_path / "acme.yaml"
    manifest.write_text("x: 1\n")
    api.on(
        "POST",
        "/v1/apply",
        {
            "changes": [{"action": "unchanged", "kind": "network", "name": "acme-vpc"}],
            "appliances": [],
        },
    )
    result = run("apply", "-f", str(manifest))
    assert result.exit_code == 0, result.output
    assert result.stdout == "nothing to change\n"


def test_apply_dry_run_from_stdin_prints_the_plan_and_waits_for_nothing(api: FakeApi) -> None:
    """`apply -f - --dry-run`: the file from standard input, the API asked for a dry run, its
    changes printed as what would happen, no polling (nothing was made)."""
    changes = [{"action": "created", "kind": "network", "name": "acme-vpc"},
               {"action": "unchanged", "kind": "account", "name": "acme"}]
    api.on("POST", "/v1/apply", {"changes": changes, "appliances": ["docs"], "dry_run": True})
    result = CliRunner().invoke(app, ["apply", "-f", "-", "--dry-run"],
                                input="networks: []\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "create network acme-vpc\nunchanged account acme\n"
    assert api.sent() == [("POST", "/v1/apply")]
    assert api.requests[0].url.params["dry_run"] == "true"
    assert api.body() == {"yaml": "networks: []\n", "filename": "<stdin>"}


def test_apply_no_wait_does_not_poll(api: FakeApi, tmp_path: Path) -> None:
    manifest = tmp_path / "acme.yaml"
    manifest.write_text("x: 1\n")
    changes = [{"action": "created", "kind": "appliance", "name": "docs"}]
    api.on("POST", "/v1/apply", {"changes": changes, "appliances": ["docs"]})
    result = run("apply", "-f", str(manifest), "--no-wait")
    assert result.exit_code == 0, result.output
    assert api.sent() == [("POST", "/v1/apply")]


def test_apply_unreadable_file_is_a_clear_error(api: FakeApi, tmp_path: Path) -> None:
    result = run("apply", "-f", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot read ")
    assert "missing.yaml" in result.stderr
    assert api.requests == []


def test_apply_rejected_manifest_is_one_line(api: FakeApi, tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text("nope")
    api.on("POST", "/v1/apply", error("invalid", "line 1: expected a mapping", 422, "bad.yaml"))
    result = run("apply", "-f", str(manifest))
    assert result.exit_code == 2  # invalid
    assert result.stderr == "error: invalid: line 1: expected a mapping (at bad.yaml)\n"


def test_destroy_waits_until_appliances_are_gone(api: FakeApi, tmp_path: Path) -> None:
    manifest = tmp_path / "acme.yaml"
    manifest.write_text("x: 1\n")
    api.on(
        "POST",
        "/v1/destroy",
        {
            "changes": [
                {"action": "deleted", "kind": "appliance", "name": "docs"},
                {"action": "absent", "kind": "network", "name": "old"},
            ],
            "appliances": ["docs"],
        },
    )
    api.on("GET", "/v1/appliances/docs", sequence(appliance("deleting"), None))
    result = run("destroy", "-f", str(manifest))
    assert result.exit_code == 0, result.output
    assert api.sent()[0] == ("POST", "/v1/destroy")
    assert result.stdout.splitlines() == [
        "deleted appliance docs",
        "absent network old",
        "appliance docs gone",
    ]


# ---- exec --------------------------------------------------------------------------------------


def test_exec_passes_argv_as_a_list_and_returns_its_code(api: FakeApi) -> None:
    api.on(
        "POST",
        "/v1/instances/client/exec",
        {"returncode": 3, "stdout": "/root\n", "stderr": "warn\n", "timed_out": False},
    )
    result = run("exec", "client", "--", "sh", "-c", "echo $HOME")
    assert result.exit_code == 3
    assert api.body() == {"argv": ["sh", "-c", "echo $HOME"], "timeout": 30.0, "stdin": None}
    assert result.stdout == "/root\n"
    assert result.stderr == "warn\n"


def test_exec_timeout_option(api: FakeApi) -> None:
    api.on(
        "POST",
        "/v1/instances/client/exec",
        {"returncode": -9, "stdout": "", "stderr": "", "timed_out": True},
    )
    result = run("exec", "--timeout", "2", "client", "--", "sleep", "10")
    assert api.body()["timeout"] == 2.0
    assert api.body()["argv"] == ["sleep", "10"]
    assert result.exit_code == 124
    assert "did not finish in 2s" in result.stderr


def test_exec_host_is_asked_for_only_when_given(api: FakeApi) -> None:
    api.on("POST", "/v1/instances/client/exec",
           {"returncode": 0, "stdout": "", "stderr": "", "timed_out": False})
    assert run("exec", "--host", "client", "--", "id").exit_code == 0
    assert api.body()["host"] is True
    assert run("exec", "client", "--", "id").exit_code == 0
    assert "host" not in api.body()


def test_limits_on_create_and_later(api: FakeApi) -> None:
    client = {**node("client", "instance", "10.0.1.4"),
              "limits": {"memory_mb": 64, "pids": 512, "cpu_weight": 100}}
    api.on("POST", "/v1/instances", client, status=201)
    result = run("instance", "create", "client", "-a", "acme", "-i", "acme-vpc/app",
                 "--memory", "64")
    assert result.exit_code == 0, result.output
    assert api.body()["limits"] == {"memory_mb": 64}
    api.on("PUT", "/v1/instances/client/limits", {"memory_mb": 64, "pids": 32,
                                                  "cpu_weight": 300})
    result = run("instance", "limits", "client", "--pids", "32", "--cpu-weight", "300")
    assert result.exit_code == 0 and api.body() == {"pids": 32, "cpu_weight": 300}
    assert "32" in result.stdout and "300" in result.stdout
    api.on("GET", "/v1/instances/client", client)
    shown = run("instance", "limits", "client", "--json")
    assert json.loads(shown.stdout) == client["limits"]
    api.on("PUT", "/v1/services/search/limits", {"memory_mb": 512, "pids": 512,
                                                 "cpu_weight": 50})
    assert run("service", "limits", "search", "--cpu-weight", "50").exit_code == 0
    assert api.body() == {"cpu_weight": 50}


# ---- topology ----------------------------------------------------------------------------------


def test_topology_renders_names_and_ips(api: FakeApi) -> None:
    def row(name: str, role: str, ip: str, appliance: str | None = None) -> dict[str, Any]:
        return {
            "name": name,
            "account": "acme",
            "role": role,
            "appliance": appliance,
            "netns": f"fcd-i7-{name}",
            "status": "active",
            "interface": "eth0",
            "ip": ip,
        }

    api.on(
        "GET",
        "/v1/topology",
        {
            "networks": [
                {
                    "name": "acme-vpc",
                    "account": "acme",
                    "cidr": "10.0.0.0/16",
                    "router": "fcd-r1",
                    "subnets": [
                        {
                            "name": "app",
                            "cidr": "10.0.1.0/24",
                            "gateway": "10.0.1.1",
                            "bridge": "fcd-b1",
                            "nodes": [
                                row("docs-fe", "frontend", "10.0.1.2", "docs"),
                                row("client", "instance", "10.0.1.4"),
                            ],
                        }
                    ],
                }
            ]
        },
    )
    result = run("topology")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" not in out
    for expected in ("acme-vpc", "10.0.0.0/16", "fcd-r1", "app", "10.0.1.1", "fcd-b1"):
        assert expected in out
    fe_line = next(line for line in out.splitlines() if "docs-fe" in line)
    assert "frontend of docs" in fe_line and "10.0.1.2" in fe_line and "fcd-i7-docs-fe" in fe_line
    assert "10.0.1.4" in next(line for line in out.splitlines() if "client" in line)


def _chain_app(name: str, *, uses: list[str], used_by: list[str], upstream: str | None = None,
               subnet: str = "acme-vpc/app") -> dict[str, Any]:
    return {"name": name, "account": "acme", "service": "web", "provider": "webco",
            "subnet": subnet, "status": "ready", "endpoint": "10.0.1.3:80",
            "backends": [f"{name}-b1"], "backend_subnet": "web-vpc/backend",
            "upstream": upstream, "uses": uses, "used_by": used_by}


def test_topology_draws_chains_from_the_customer_end(api: FakeApi) -> None:
    net = {"name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16", "router": "fcd-r1",
           "subnets": []}
    api.on("GET", "/v1/topology", {"networks": [net], "appliances": [
        _chain_app("idx", uses=[], used_by=["site"], subnet="web-vpc/backend"),
        _chain_app("site", uses=["idx"], used_by=[], upstream="idx"),
        _chain_app("lone", uses=[], used_by=[], upstream="gone"),
        _chain_app("plain", uses=[], used_by=[])]})
    out = run("topology").stdout
    chains = out[out.index("chains"):].splitlines()
    site = next(i for i, line in enumerate(chains) if "site  web by webco" in line)
    assert "backends site-b1 (web-vpc/backend) call" in chains[site + 1]
    assert "idx  web by webco  10.0.1.3:80 in web-vpc/backend" in chains[site + 2]
    assert sum("idx  web by webco" in line for line in chains) == 1  # only under its user
    assert any("call gone (missing)" in line for line in chains)
    assert not any("plain" in line for line in chains)  # in no chain: not drawn there
    # nothing chained: no chains section at all
    api.on("GET", "/v1/topology", {"networks": [net], "appliances": [
        _chain_app("plain", uses=[], used_by=[])]})
    assert "chains" not in run("topology").stdout


def test_appliance_delete_force_and_service_upstream(api: FakeApi) -> None:
    api.on("DELETE", "/v1/appliances/idx", appliance("deleting"), 202)
    api.on("GET", "/v1/appliances/idx", None, 404)
    assert run("appliance", "delete", "idx", "--detach").exit_code == 0
    assert api.requests[0].url.params.get("detach") == "true"
    assert "force" not in api.requests[0].url.params
    api.requests.clear()
    assert run("appliance", "delete", "idx").exit_code == 0
    assert "force" not in api.requests[0].url.params
    assert "detach" not in api.requests[0].url.params
    assert run("appliance", "delete", "idx", "--force", "--detach").exit_code != 0
    # a cascade: the answer names the users it takes along, and the CLI waits for them too
    api.requests.clear()
    api.on("DELETE", "/v1/appliances/idx", {**appliance("deleting"), "deleted_with": ["site"]},
           202)
    api.on("GET", "/v1/appliances/site", None, 404)
    result = run("appliance", "delete", "idx", "--force")
    assert result.exit_code == 0, result.output
    assert api.requests[0].url.params.get("force") == "true"
    assert "deleted appliance idx and its users site" in result.output
    assert any(r.url.path == "/v1/appliances/site" for r in api.requests)
    api.on("DELETE", "/v1/appliances/idx", error(
        "in_use", "appliance idx is used by site (their backends call it)", 409, "appliance"))
    result = run("appliance", "delete", "idx")
    assert result.exit_code == 4 and "used by site" in result.output  # in use: a conflict
    api.on("POST", "/v1/services", service("web"), 201)
    result = run("service", "create", "web", "--account", "webco", "--port", "80",
                 "--backend-subnet", "w/b",
                 "--management-subnet", "w/m", "--workload", "web", "--upstream", "idx")
    assert result.exit_code == 0, result.output
    assert api.body()["upstream"] == "idx" and api.body()["workload"] == "web"


def test_appliance_show_says_what_it_uses(api: FakeApi) -> None:
    api.on("GET", "/v1/appliances/docs", {**appliance(), "upstream": "idx", "uses": ["idx"],
                                          "used_by": ["a", "b"]})
    out = run("appliance", "show", "docs").stdout
    assert "uses       idx" in out and "used by    a, b" in out
    api.on("GET", "/v1/appliances/docs", {**appliance(), "upstream": "idx", "uses": [],
                                          "used_by": []})
    assert "idx (missing" in run("appliance", "show", "docs").stdout


# ---- local commands ----------------------------------------------------------------------------


def test_up_execs_the_server(monkeypatch: Any) -> None:
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr("os.execv", lambda path, argv: calls.append((path, argv)))
    result = run("up", "--port", "9999")
    assert result.exit_code == 0, result.output
    ((path, argv),) = calls
    assert argv[1:] == ["-m", "facade.api.server", "--host", "127.0.0.1", "--port", "9999"]
    assert path == argv[0]
    calls.clear()
    assert run("up", "--simulated-agents").exit_code == 0
    assert calls[0][1][-1] == "--simulated-agents"  # passed on; left out, the server's default


def test_cleanup_warns_when_the_control_plane_runs(api: FakeApi, monkeypatch: Any) -> None:
    api.on("GET", "/v1/health", {"status": "ok"})
    seen: dict[str, Any] = {}

    def call(argv: list[str], env: dict[str, str]) -> int:
        seen.update(argv=argv, env=env)
        return 4

    monkeypatch.setattr("subprocess.call", call)
    result = run("cleanup")
    assert result.exit_code == 4
    assert "warning" in result.stderr and "re-create" in result.stderr
    assert seen["argv"][1:] == ["-m", "facade.dataplane.linux.cleanup"]
    assert seen["env"]["FACADE_HOME"].endswith("home")
    result = run("cleanup", "--this-plane")  # a test run's: this plane's host-wide objects only
    assert seen["argv"][1:] == ["-m", "facade.dataplane.linux.cleanup", "--this-plane"]


def test_cleanup_runs_when_the_control_plane_is_down(monkeypatch: Any) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    monkeypatch.setattr(client, "transport_factory", lambda: httpx.MockTransport(refuse))
    monkeypatch.setattr("subprocess.call", lambda argv, env: 0)
    result = run("cleanup")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_usage_of_public_ips_and_the_edge_prices(api: FakeApi) -> None:
    row = {"address": "203.0.113.9", "account": "acme", "kind": "customer", "period": "2026-12",
           "held_from": "2026-12-06T10:00:00.000+00:00", "held_until": None,
           "ip_hours": "1.500000", "bytes_in": 6_007_972, "bytes_out": 2_006_568}
    api.on("GET", "/v1/usage/public-ips", {"period": "2026-12", "items": [row]})
    out = run("usage", "--public-ips", "--period", "2026-12", "--account", "acme")
    assert out.exit_code == 0, out.stdout
    assert "203.0.113.9" in out.stdout and "6,007,972" in out.stdout
    assert "1.500000" in out.stdout
    assert run("usage", "--public-ips", "--by-node").exit_code == 2  # not for addresses
    price_list = {"currency": "USD", "node_hour": {"frontend": "0", "backend": "0"},
                  "edge": {"public_ip_hour": "0.005", "gateway_per_gb": "0.09",
                           "channel_hour": "0"}}
    api.on("PUT", "/v1/prices/edge", price_list)
    api.on("GET", "/v1/prices", price_list)
    out = run("prices", "edge", "--ip-hour", "0.005", "--gateway-gb", "0.09")
    assert api.body() == {"public_ip_hour": "0.005", "gateway_per_gb": "0.09"}
    assert "per public address-hour: 0.005" in out.stdout
    assert "per GB through a public gateway: 0.09" in run("prices", "show").stdout
    assert api.sent()[0] == ("GET", "/v1/usage/public-ips")


def test_usage_of_channels_and_the_channel_price(api: FakeApi) -> None:
    row = {"channel": "link", "account": "acme", "period": "2026-12",
           "held_from": "2026-12-06T10:00:00.000+00:00", "held_until": None,
           "channel_hours": "2.500000"}
    api.on("GET", "/v1/usage/channels", {"period": "2026-12", "items": [row]})
    out = run("usage", "--channels", "--period", "2026-12", "--account", "acme")
    assert out.exit_code == 0, out.stdout
    assert "link" in out.stdout and "2.500000" in out.stdout
    assert api.sent()[0] == ("GET", "/v1/usage/channels")
    assert run("usage", "--channels", "--by-node").exit_code == 2  # not for channels
    assert run("usage", "--channels", "--public-ips").exit_code == 2
    price_list = {"currency": "USD", "node_hour": {"frontend": "0", "backend": "0"},
                  "edge": {"public_ip_hour": "0", "gateway_per_gb": "0",
                           "channel_hour": "0.05"}}
    api.on("PUT", "/v1/prices/edge", price_list)
    api.on("GET", "/v1/prices", price_list)
    out = run("prices", "edge", "--channel-hour", "0.05")
    assert out.exit_code == 0, out.stdout
    assert api.body() == {"channel_hour": "0.05"}
    assert "per channel-hour (VPN): 0.05" in out.stdout
    assert "per channel-hour (VPN): 0.05" in run("prices", "show").stdout


# ---- profiles ----------------------------------------------------------------------------------


def _profiles(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config" / "facade" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_profile_gives_the_url_and_token_the_environment_did_not(
        api: FakeApi, tmp_path: Path, monkeypatch: Any) -> None:
    """--profile, else FACADE_PROFILE, else `default`; the command line and the environment
    still win over a profile."""
    (tmp_path / "prod.token").write_text("tok-from-file\n")
    _profiles(tmp_path, f"""
[profiles.default]
url = "http://default.example:8470"
token = "tok-default"

[profiles.prod]
url = "http://prod.example:8470"
token_file = "{tmp_path / 'prod.token'}"
""")
    monkeypatch.delenv("FACADE_TOKEN")
    api.on("GET", "/v1/accounts", page([]))

    def sent_with(*args: str) -> tuple[str, str]:
        api.requests.clear()
        result = run(*args, "account", "list")
        assert result.exit_code == 0, result.output
        request = api.requests[0]
        return request.url.host, request.headers["authorization"]

    assert sent_with() == ("default.example", "Bearer tok-default")
    assert sent_with("--profile", "prod") == ("prod.example", "Bearer tok-from-file")
    monkeypatch.setenv("FACADE_PROFILE", "prod")
    assert sent_with() == ("prod.example", "Bearer tok-from-file")
    assert sent_with("--url", "http://cli.example:1", "--token", "tok-cli") == (
        "cli.example", "Bearer tok-cli")
    monkeypatch.setenv("FACADE_TOKEN", "tok-env")
    monkeypatch.setenv("FACADE_URL", "http://env.example:2")
    assert sent_with() == ("env.example", "Bearer tok-env")


@pytest.mark.parametrize(("text", "args", "words"), [
    ("[profiles.prod]\nurl = 'http://p:1'\n", ["--profile", "dev"], ["no profile 'dev'", "prod"]),
    ("[profiles.prod\n", [], ["not TOML"]),
    ("[profiles.prod]\nurl = 'http://p:1'\npassword = 'x'\n", ["--profile", "prod"],
     ["unknown key 'password'"]),
    ("[profiles.prod]\ntoken = 't'\ntoken_file = '/x'\n", ["--profile", "prod"],
     ["contradict"]),
    ("[profiles.prod]\nurl = 5\n", ["--profile", "prod"], ["url must be a non-empty string"]),
])
def test_a_bad_profile_is_a_usage_error_naming_the_file(
        api: FakeApi, tmp_path: Path, text: str, args: list[str], words: list[str]) -> None:
    path = _profiles(tmp_path, text)
    result = run(*args, "account", "list")
    assert result.exit_code == 2, result.output
    assert "config.toml" in result.output and "Traceback" not in result.output
    for word in words:
        assert word in " ".join(result.output.split()), result.output
    assert api.requests == [] and path.exists()


def test_no_file_and_no_profile_asked_is_fine_but_one_asked_for_is_not(api: FakeApi) -> None:
    api.on("GET", "/v1/accounts", page([]))
    assert run("account", "list").exit_code == 0
    result = run("--profile", "prod", "account", "list")
    assert result.exit_code == 2 and "no such file" in " ".join(result.output.split())


def test_a_token_others_may_read_is_warned_of(api: FakeApi, tmp_path: Path,
                                              monkeypatch: Any) -> None:
    _profiles(tmp_path, "[profiles.default]\ntoken = 'tok'\n", mode=0o644)
    monkeypatch.delenv("FACADE_TOKEN")
    api.on("GET", "/v1/accounts", page([]))
    result = run("account", "list")
    assert result.exit_code == 0 and "others may read it" in result.stderr


# ---- completion --------------------------------------------------------------------------------


def test_names_complete_from_the_api(api: FakeApi) -> None:
    """`facade appliance show d<TAB>`: the names the caller's token sees that start so; when
    the control plane cannot be asked, nothing (and no message in the shell)."""
    from facade.cli.commands.options import names_of

    api.on("GET", "/v1/appliances", page([{**appliance(), "name": n}
                                          for n in ("docs", "db", "web")]))
    assert names_of("/v1/appliances")("d") == ["db", "docs"]
    assert names_of("/v1/appliances")("") == ["db", "docs", "web"]
    # through the shell's protocol (click's bash completion), as the shell asks it
    result = CliRunner().invoke(app, [], prog_name="facade", env={
        "_FACADE_COMPLETE": "complete_bash", "COMP_WORDS": "facade appliance show do",
        "COMP_CWORD": "3"})
    assert "docs" in result.output and "web" not in result.output, result.output
    api.on("GET", "/v1/appliances", error("internal", "down", 500))
    assert names_of("/v1/appliances")("d") == []


def test_account_slash_name_is_sent_as_the_account_query(api: FakeApi) -> None:
    """ACCOUNT/NAME (docs/api.md, "Names") names that account's object: `?account=` on the
    item route (a grant's revoke: `?subnet_account=`, its path naming the grantee)."""
    answers: list[tuple[str, str, Any]] = [
        ("GET", "/v1/networks/prod", network("prod")),
        ("PUT", "/v1/services/search/limits", {"memory_mb": 512, "pids": 64, "cpu_weight": 100}),
        ("DELETE", "/v1/subnets/prod/app/grants/evil", {
            "subnet": "prod/app", "account": "evil", "still_used_by": [], "message": "revoked"}),
        ("POST", "/v1/subnets/prod/app/grants", {
            "subnet": "prod/app", "account": "evil", "created_at": "t", "used_by": []}),
        ("DELETE", "/v1/instances/web/interfaces/eth0/rules/100", {}),
        ("POST", "/v1/networks/prod/subnets", subnet("prod/db")),
        ("PATCH", "/v1/appliances/docs", appliance("ready", backends=3))]
    for method, path, answer in answers:
        api.on(method, path, answer)
    api.on("GET", "/v1/appliances/docs", appliance("ready", backends=3))
    commands = [
        ("network", "show", "acme/prod", "--json"),
        ("service", "limits", "searchco/search", "--pids", "64", "--json"),
        ("subnet", "revoke", "acme/prod/app", "evil"),
        ("subnet", "grant", "acme/prod/app", "evil"),
        ("rule", "delete", "--direction", "ingress", "--priority", "100",
         "--interface", "acme/web/eth0"),
        ("subnet", "create", "acme/prod/db", "--cidr", "10.0.2.0/24"),
        ("appliance", "scale", "acme/docs", "3"),  # and its wait polls acme's docs
    ]
    for args in commands:
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
    sent = [(r.method, r.url.path, dict(r.url.params)) for r in api.requests]
    assert sent == [
        ("GET", "/v1/networks/prod", {"account": "acme"}),
        ("PUT", "/v1/services/search/limits", {"account": "searchco"}),
        ("DELETE", "/v1/subnets/prod/app/grants/evil", {"subnet_account": "acme"}),
        ("POST", "/v1/subnets/prod/app/grants", {"account": "acme"}),
        ("DELETE", "/v1/instances/web/interfaces/eth0/rules/100",
         {"direction": "ingress", "account": "acme"}),
        ("POST", "/v1/networks/prod/subnets", {"account": "acme"}),
        ("PATCH", "/v1/appliances/docs", {"account": "acme"}),
        ("GET", "/v1/appliances/docs", {"account": "acme"}),
    ]
    assert api.body(3) == {"account": "evil"}  # the grantee stays in the body
    # a bare name sends no account: the caller's own, else the one it may see
    run("network", "show", "prod", "--json")
    assert api.requests[-1].url.query == b""


@pytest.mark.parametrize("args", [("network", "show", "acme/"), ("network", "show", "/prod"),
                                  ("instance", "delete", "a/b/web"),
                                  ("subnet", "show", "a/b/c/d"),
                                  ("rule", "list", "--interface", "a/b/web/eth0")])
def test_a_malformed_account_reference_is_a_usage_error(api: FakeApi,
                                                        args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "ACCOUNT/" in result.output
    assert api.requests == []
