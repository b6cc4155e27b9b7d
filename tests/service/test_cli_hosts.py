"""`facade host list|show|add|drain|remove` against the real API on the fake data plane: what it
prints for a person and as json/yaml/name, and its errors (one line, the exit code of their
kind); `instance show` names the node's host, `topology --by-host` groups nodes by host."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select, update

from facade.cli import client
from facade.cli.main import app
from facade.store.models import Host, Instance
from tests.clirunner import CliRunner


@pytest.fixture
def cli(api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CLI's HTTP seam forwarded to the test control plane, as the operator; an
    instance `web` on the local host and a simulated host `h1` in the store."""

    def forward(request: httpx.Request) -> httpx.Response:
        keep = {k: v for k, v in request.headers.items()
                if k.lower() in ("authorization", "content-type")}
        resp = api.client.request(request.method, str(request.url.copy_with(
            scheme="http", netloc=b"testserver")), content=request.content, headers=keep)
        return httpx.Response(resp.status_code, content=resp.content,
                              headers={"content-type": resp.headers.get("content-type", "")})

    monkeypatch.setattr(client, "transport_factory", lambda: httpx.MockTransport(forward))
    monkeypatch.setenv("FACADE_TOKEN", api.token)
    monkeypatch.delenv("FACADE_URL", raising=False)
    assert api.req("POST", "/v1/accounts", json={"name": "acme"}).status_code == 201
    assert api.req("POST", "/v1/networks", json={
        "name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}).status_code == 201
    assert api.req("POST", "/v1/instances", json={
        "name": "web", "account": "acme",
        "interfaces": [{"subnet": "acme-vpc/app"}]}).status_code == 201
    with api.ctx.write() as session:
        session.add(Host(name="h1", address="172.31.0.11", state="ready", capacity=50,
                         simulated=True))
    return api


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def rows(output: str) -> dict[str, list[str]]:
    """The table's rows by host name."""
    return {words[0]: words[1:] for line in output.splitlines()
            if (words := line.split()) and words[0] in ("local", "h1")}


def test_list_and_show_for_a_person_and_as_data(cli: Any) -> None:
    out = run("host", "list")
    assert out.exit_code == 0, out.output
    table = rows(out.output)
    assert table["local"][:4] == ["ready", "local", "1", "1000"]
    assert table["h1"][:4] == ["ready", "172.31.0.11", "0", "50"]
    out = run("host", "list", "-o", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == cli.items("/v1/hosts")
    out = run("host", "list", "-o", "name")
    assert out.exit_code == 0 and out.output.split() == ["local", "h1"]
    out = run("host", "show", "local")
    assert out.exit_code == 0, out.output
    assert "1 of 1000" in out.output and "control plane's own machine" in out.output
    out = run("host", "show", "h1", "-o", "yaml")
    assert out.exit_code == 0, out.output
    assert yaml.safe_load(out.output) == cli.req("GET", "/v1/hosts/h1").json()
    out = run("instance", "show", "web")
    assert out.exit_code == 0, out.output
    assert ["host", "local"] in [line.split() for line in out.output.splitlines()]


def test_drain_and_remove(cli: Any) -> None:
    out = run("host", "drain", "h1")
    assert out.exit_code == 0, out.output
    assert "draining" in out.output
    assert cli.req("GET", "/v1/hosts/h1").json()["state"] == "draining"
    out = run("host", "remove", "h1")
    assert out.exit_code == 0 and "removed host h1" in out.output
    assert rows(run("host", "list").output).keys() == {"local"}
    out = run("host", "list", "--state", "removed", "-o", "name")
    assert out.output.split() == ["h1"]


def test_add_a_simulated_host(cli: Any) -> None:
    out = run("host", "add", "h2", "--simulated", "--capacity", "7")
    assert out.exit_code == 0, out.output
    assert "172.31.0.12" in out.output and "simulated on this machine" in out.output
    assert cli.dp.hosts["h2"] == "172.31.0.12"  # the data plane runs it
    assert run("host", "list", "-o", "name").output.split() == ["local", "h1", "h2"]
    shown = cli.req("GET", "/v1/hosts/h2").json()
    assert (shown["address"], shown["capacity"], shown["simulated"]) == ("172.31.0.12", 7, True)
    out = run("host", "add", "h3", "--simulated", "--address", "172.31.0.30", "-o", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == cli.req("GET", "/v1/hosts/h3").json()
    out = run("host", "add", "h4")
    assert out.exit_code == 2 and "only simulated hosts can be added" in out.output
    out = run("host", "add", "h2", "--simulated")
    assert out.exit_code == 4 and "host h2 exists already" in out.output


def test_errors_are_one_line_and_nothing_changes(cli: Any, monkeypatch: Any) -> None:
    before = cli.items("/v1/hosts")
    out = run("host", "remove", "local")
    assert out.exit_code == 4  # a 409
    assert "conflict: the local host is the control plane's own machine: it cannot be " \
           "removed" in out.output
    out = run("host", "drain", "local")
    assert out.exit_code == 4 and "cannot be drained" in out.output
    out = run("host", "show", "nowhere")
    assert out.exit_code == 3 and "not_found: host 'nowhere' does not exist" in out.output
    out = run("host", "show", "No_Such")
    assert out.exit_code == 2 and "host name 'No_Such'" in out.output
    out = run("host", "list", "--state", "asleep")
    assert out.exit_code == 2 and "asleep" in out.output
    token = cli.req("POST", "/v1/accounts/acme/tokens").json()["token"]
    monkeypatch.setenv("FACADE_TOKEN", token)
    for args in (("host", "list"), ("host", "show", "h1"), ("host", "remove", "h1")):
        out = run(*args)
        assert out.exit_code == 5 and "forbidden: only the operator may" in out.output, args
    monkeypatch.setenv("FACADE_TOKEN", cli.token)
    assert cli.items("/v1/hosts") == before


def test_topology_by_host(cli: Any) -> None:
    """The same nodes as `facade topology`, under the host each is on."""
    assert cli.req("POST", "/v1/instances", json={
        "name": "db", "account": "acme",
        "interfaces": [{"subnet": "acme-vpc/app"}]}).status_code == 201
    with cli.ctx.write() as session:  # nothing places a node on h1 yet: its row says so
        h1 = session.scalar(select(Host.id).where(Host.name == "h1"))
        session.execute(update(Instance).where(Instance.name == "db").values(host_id=h1))
    out = run("topology", "--by-host")
    assert out.exit_code == 0, out.output
    lines = [line.strip(" │├└─") for line in out.output.splitlines()]
    assert lines[0] == "facade hosts"
    local, on_h1 = lines.index("host local  1 node"), lines.index("host h1  1 node")
    assert local < on_h1
    web, db = cli.req("GET", "/v1/instances/web").json(), cli.req("GET", "/v1/instances/db").json()
    assert lines[local + 1].split() == ["web", "instance", "owner", "acme", web["netns"]]
    assert lines[local + 2].split() == ["eth0", "acme-vpc/app", web["interfaces"][0]["ip"]]
    assert lines[on_h1 + 1].split() == ["db", "instance", "owner", "acme", db["netns"]]
    out = run("topology", "--by-host", "-o", "json")
    assert json.loads(out.output) == cli.req("GET", "/v1/topology").json()


def test_host_tokens_made_and_revoked_and_the_agent_command_needs_one(
        cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from facade.store.models import HostToken

    made = run("host", "token", "create", "h4")
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    assert token.startswith("fch_") and "\n" not in token  # the token alone: a script's
    data = json.loads(run("host", "token", "create", "h4", "-o", "json").output)
    assert data["host"] == "h4" and data["token"].startswith("fch_") and data["token"] != token
    ok = cli.req("POST", "/v1/host-agent/register", token=token,
                 json={"agent": "agent-0001", "underlay": "10.9.0.4"})
    assert ok.status_code == 200, ok.text
    revoked = run("host", "token", "revoke", "h4")
    assert revoked.exit_code == 0 and "revoked the tokens of host h4" in revoked.output
    with cli.ctx.read() as session:
        assert all(t.revoked_at is not None for t in session.scalars(select(HostToken)))
    refused = run("host", "token", "create", "local")
    assert refused.exit_code == 4 and "local host" in refused.output
    monkeypatch.delenv("FACADE_HOST_TOKEN", raising=False)
    bare = run("host-agent", "--control-plane", "http://127.0.0.1:1", "--underlay", "10.9.0.4")
    assert bare.exit_code == 2 and "host token is needed" in bare.output


def test_instance_create_on_a_host(cli: Any) -> None:
    ok_ = run("host", "add", "h2", "--simulated")
    assert ok_.exit_code == 0, ok_.output
    out = run("instance", "create", "far", "--account", "acme", "-i", "acme-vpc/app",
              "--host", "h2")
    assert out.exit_code == 0, out.output
    assert cli.req("GET", "/v1/instances/far").json()["host"] == "h2"
    shown = run("instance", "show", "far")
    assert shown.exit_code == 0 and "h2" in shown.output
    out = run("instance", "create", "lost", "--account", "acme", "-i", "acme-vpc/app",
              "--host", "h7")
    assert out.exit_code != 0
    assert "host 'h7' does not exist" in out.output and "Traceback" not in out.output
    assert cli.req("GET", "/v1/instances/lost").status_code == 404


def test_tenancy_through_the_cli(cli: Any) -> None:
    """`--tenancy` on service and appliance create; `service show`, `appliance show` and `host
    show` say it; a bad value is one line naming tenancy, nothing made."""
    assert run("host", "add", "h2", "--simulated").exit_code == 0
    assert cli.req("POST", "/v1/accounts", json={"name": "prov"}).status_code == 201
    assert cli.req("POST", "/v1/networks", json={
        "name": "pv", "account": "prov", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "b", "cidr": "10.0.1.0/24"},
                    {"name": "m", "cidr": "10.0.200.0/24"}]}).status_code == 201
    base = ("service", "create", "vault", "--account", "prov", "--workload", "http-echo",
            "--port", "80", "--backend-subnet", "pv/b", "--management-subnet", "pv/m")
    out = run(*base, "--tenancy", "private")
    assert out.exit_code == 2 and "tenancy" in out.output and "shared or dedicated" in out.output
    assert cli.items("/v1/services") == []
    out = run(*base, "--tenancy", "dedicated")
    assert out.exit_code == 0, out.output
    assert "tenancy" in run("service", "show", "prov/vault").output
    assert "dedicated" in run("service", "show", "prov/vault").output
    app = ("appliance", "create", "va", "--account", "acme", "--service", "prov/vault",
           "--subnet", "acme-vpc/app", "--backends", "1", "--no-wait")
    out = run(*app, "--tenancy", "sole")
    assert out.exit_code == 2 and "tenancy" in out.output, out.output
    out = run(*app, "--tenancy", "shared")  # a dedicated service's: dedicated anyway
    assert out.exit_code == 0, out.output
    shown = run("appliance", "show", "acme/va").output
    assert "tenancy" in shown and "dedicated" in shown and "on h2" in shown
    shown = run("host", "show", "h2").output
    assert "claimed by" in shown and "acme" in shown
    assert json.loads(run("host", "show", "h2", "-o", "json").output)["claimed_by"] == "acme"
    by_host = run("topology", "--by-host").output
    assert by_host.index("host h2") < by_host.index("va-b1")  # its backend under its host
    # its front-end too: a dedicated appliance's nodes are all on the hosts its account holds
    assert by_host.index("host h2") < by_host.index("va-fe")
