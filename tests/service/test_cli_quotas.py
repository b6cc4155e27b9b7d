"""`facade quota show|set` against the real API on the fake data plane: the request the command
sends, what it prints for a person and with --json, and its errors (one line, the exit code of
their kind)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from facade.cli import client
from facade.cli.main import app
from tests.clirunner import CliRunner


@pytest.fixture
def cli(api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CLI's HTTP seam forwarded to the test control plane, as the operator."""

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
    return api


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def rows(output: str) -> dict[str, list[str]]:
    """The table's rows by resource name."""
    return {words[0]: words[1:] for line in output.splitlines()
            if (words := line.split()) and words[0] in (
                "networks", "subnets", "instances", "appliances", "backends")}


def test_show_for_a_person_and_as_json(cli: Any) -> None:
    out = run("quota", "show", "acme")
    assert out.exit_code == 0, out.output
    assert "acme" in out.output
    table = rows(out.output)
    assert table["networks"] == ["1", "20", "default"]
    assert table["subnets"] == ["1", "100", "default"]
    assert table["backends"] == ["0", "256", "default"]
    out = run("quota", "show", "acme", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == cli.req("GET", "/v1/accounts/acme/quotas").json()


def test_set_sends_only_what_is_given_and_default_restores(cli: Any) -> None:
    out = run("quota", "set", "acme", "--networks", "0", "--backends", "8")
    assert out.exit_code == 0, out.output
    table = rows(out.output)
    assert table["networks"] == ["1", "0", "set,", "over:", "new", "ones", "refused"]
    assert table["backends"] == ["0", "8", "set"]
    assert table["instances"] == ["0", "200", "default"]
    q = cli.req("GET", "/v1/accounts/acme/quotas").json()["quotas"]
    assert (q["networks"]["limit"], q["backends"]["limit"]) == (0, 8)
    # the limit is enforced: the next network is refused, with the API's message
    out = run("network", "create", "vpc2", "--account", "acme", "--cidr", "172.16.0.0/16")
    assert out.exit_code == 4  # a 409: a conflict with the quota
    assert "quota_exceeded: account acme may have at most 0 networks (quota); it has 1" \
        in out.output
    out = run("quota", "set", "acme", "--default", "networks", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["quotas"]["networks"] == {"limit": 20, "used": 1,
                                                             "default": True}
    assert cli.req("GET", "/v1/accounts/acme/quotas").json()["quotas"]["backends"][
        "limit"] == 8


def test_errors_are_one_line_and_nothing_changes(cli: Any, monkeypatch: Any) -> None:
    before = cli.req("GET", "/v1/accounts/acme/quotas").json()
    out = run("quota", "set", "acme", "--subnets", "100001")
    assert out.exit_code == 2
    assert "invalid: subnets: Input should be less than or equal to 100000 (at subnets)" \
        in out.output
    out = run("quota", "set", "acme")
    assert out.exit_code == 2 and "nothing to set" in out.output
    out = run("quota", "set", "acme", "--default", "disks")
    assert out.exit_code == 2 and "disks" in out.output
    out = run("quota", "set", "acme", "--networks", "3", "--default", "networks")
    assert out.exit_code == 2 and "contradict" in out.output
    out = run("quota", "show", "nobody")
    assert out.exit_code == 3 and "not_found: account 'nobody' does not exist" in out.output
    # an account's own token reads its quotas but may not set them
    token = cli.req("POST", "/v1/accounts/acme/tokens").json()["token"]
    monkeypatch.setenv("FACADE_TOKEN", token)
    assert run("quota", "show", "acme").exit_code == 0
    out = run("quota", "set", "acme", "--networks", "99")
    assert out.exit_code == 5 and "forbidden: only the operator may set quotas" in out.output
    assert cli.req("GET", "/v1/accounts/acme/quotas").json() == before
