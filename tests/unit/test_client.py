"""facade.client against a fake API (httpx.MockTransport): retries, errors, paging, settings
and the routes its typed methods send."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from facade.client import (
    AuthFailed,
    Client,
    Conflict,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    Settings,
    SettingsError,
)
from facade.client.http import MOST_WAIT
from facade.client.models import Account
from facade.readmodels.networks import SubnetRead
from facade.readmodels.paging import Page

pytestmark = pytest.mark.no_store  # tests/conftest.py

Handler = Callable[[httpx.Request], httpx.Response]


class Fake:
    """Answers from a list (the last one repeats), recording requests and the pauses asked."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.slept: list[float] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self, **settings: Any) -> Client:
        return Client.from_settings(Settings(token="tok", **settings),
                                    transport=httpx.MockTransport(self.handle),
                                    sleep=self.slept.append)


def error(status: int, code: str, message: str = "", where: str = "",
          headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "where": where or None}}
    return httpx.Response(status, json=body, headers=headers)


ACCOUNT = {"name": "acme", "operator": False}


# ---- retries -----------------------------------------------------------------------------------


def test_a_429_is_retried_after_its_retry_after_then_answers() -> None:
    fake = Fake(error(429, "rate_limited", headers={"Retry-After": "2"}),
                error(429, "rate_limited", headers={"Retry-After": "3600"}),
                httpx.Response(201, json=ACCOUNT))
    assert fake.client().accounts.create({"name": "acme"}) == Account(**ACCOUNT)
    assert fake.slept == [2.0, MOST_WAIT]  # as asked, but never an hour
    assert len(fake.requests) == 3  # a rate-limited POST changed nothing: sent again


def test_a_429_still_refused_after_the_retries_is_raised_exit_1() -> None:
    fake = Fake(error(429, "rate_limited", "slow down", headers={"Retry-After": "1"}))
    with pytest.raises(RateLimited) as caught:
        fake.client(retries=2).networks.list()
    assert len(fake.requests) == 3 and fake.slept == [1.0, 1.0]
    assert caught.value.exit_code == 1 and caught.value.status == 429
    assert str(caught.value) == "rate_limited: slow down"


def test_a_lost_connection_is_retried_for_a_get_with_a_growing_pause() -> None:
    fake = Fake(httpx.ConnectError("refused"), httpx.ReadError("reset"),
                httpx.Response(200, json=ACCOUNT))
    assert fake.client().accounts.get("acme") == Account(**ACCOUNT)
    assert len(fake.requests) == 3 and fake.slept == [0.5, 1.0]


def test_a_post_is_not_sent_twice_unless_it_has_an_idempotency_key() -> None:
    fake = Fake(httpx.ConnectError("refused"))
    with pytest.raises(ConnectionFailed) as caught:
        fake.client().accounts.create({"name": "acme"})
    assert len(fake.requests) == 1 and fake.slept == []
    assert "not running at http://127.0.0.1:8470" in str(caught.value)
    fake = Fake(httpx.ReadError("reset"), httpx.Response(201, json=ACCOUNT))
    assert fake.client().accounts.create({"name": "acme"}, idempotency_key="k-1") == Account(**ACCOUNT)
    assert [r.headers["idempotency-key"] for r in fake.requests] == ["k-1", "k-1"]
    assert fake.requests[0].content == fake.requests[1].content


def test_retries_are_bounded_and_a_read_timeout_is_not_retried() -> None:
    fake = Fake(httpx.ConnectError("refused"))
    with pytest.raises(ConnectionFailed):
        fake.client(retries=3).networks.get("x")
    assert len(fake.requests) == 4
    fake = Fake(httpx.ReadTimeout("slow"))
    with pytest.raises(ConnectionFailed) as caught:
        fake.client().networks.get("x")
    assert len(fake.requests) == 1 and "no answer from" in str(caught.value)


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "kind", "exit_code"), [
    (400, InvalidRequest, 2), (422, InvalidRequest, 2), (413, InvalidRequest, 2),
    (404, NotFound, 3), (409, Conflict, 4), (412, Conflict, 4),
    (401, AuthFailed, 5), (403, AuthFailed, 5), (500, ServerError, 1), (418, ServerError, 1),
])
def test_an_error_status_is_its_exception_with_the_apis_body(
        status: int, kind: type[Exception], exit_code: int) -> None:
    answer = error(status, "some_code", "what went wrong\n twice", "cidr")
    with pytest.raises(kind) as caught:
        Fake(answer).client().networks.get("acme-vpc")
    exc: Any = caught.value
    assert exc.exit_code == exit_code and exc.status == status
    assert exc.code == "some_code" and exc.where == "cidr"
    assert exc.body == json.loads(answer.content)
    assert str(exc) == "some_code: what went wrong twice (at cidr)"


def test_an_error_that_is_not_the_apis_says_the_status() -> None:
    with pytest.raises(ServerError, match=r"^HTTP 502 Bad Gateway: bad gateway$"):
        Fake(httpx.Response(502, text="bad\ngateway")).client().accounts.list()


def test_a_401_without_a_token_says_where_it_looked(tmp_path: Path) -> None:
    settings = Settings.resolve(env={"FACADE_HOME": str(tmp_path),
                                     "XDG_CONFIG_HOME": str(tmp_path)})
    assert settings.token is None
    client = Client.from_settings(settings, transport=httpx.MockTransport(
        lambda r: error(401, "unauthorized", "no token")))
    with pytest.raises(AuthFailed, match="no token; no token: set FACADE_TOKEN"):
        client.accounts.list()


def test_an_answer_that_is_not_json_or_not_a_page_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        Fake(httpx.Response(200, text="<html>")).client().accounts.get("acme")
    with pytest.raises(ProtocolError, match="not a page"):
        Fake(httpx.Response(200, json=[ACCOUNT])).client().accounts.list()


# ---- paging ------------------------------------------------------------------------------------


def test_a_list_follows_next_cursor_to_the_end_and_not_in_circles() -> None:
    fake = Fake(httpx.Response(200, json={"items": [ACCOUNT], "next_cursor": "c1"}),
                httpx.Response(200, json={"items": [{**ACCOUNT, "name": "b"}],
                                          "next_cursor": None}))
    assert [a.name for a in fake.client().accounts.list()] == ["acme", "b"]
    assert [r.url.params.get("cursor") for r in fake.requests] == [None, "c1"]
    circle = Fake(httpx.Response(200, json={"items": [ACCOUNT], "next_cursor": "c1"}))
    with pytest.raises(ProtocolError, match="same page twice"):
        circle.client().accounts.list()


def test_each_page_is_parsed_into_a_page_of_the_routes_read_model() -> None:
    fake = Fake(httpx.Response(200, json={"items": [ACCOUNT], "next_cursor": "c1"}),
                httpx.Response(200, json={"items": [], "next_cursor": None}))
    pages = list(fake.client().http.pages("/v1/accounts", Account))
    assert all(isinstance(p, Page) for p in pages)
    assert [p.next_cursor for p in pages] == ["c1", None]
    assert isinstance(pages[0].items[0], Account) and pages[0].items[0].name == "acme"
    bad = Fake(httpx.Response(200, json={"items": [{"name": 3}], "next_cursor": None}))
    with pytest.raises(ProtocolError, match="does not fit AccountRead: name"):
        bad.client().accounts.list()


# ---- typed methods -----------------------------------------------------------------------------


def sent_anyway(*calls: Callable[[], object]) -> None:
    """Make each call; an empty answer is no read model (a ProtocolError), but the request
    went out: what these tests look at."""
    for call in calls:
        with contextlib.suppress(ProtocolError):
            call()


def test_the_typed_methods_send_their_routes() -> None:
    fake = Fake(*[httpx.Response(200, json={})] * 4,
                httpx.Response(200, json={"items": [], "next_cursor": None}),
                httpx.Response(200, json={}))
    api = fake.client()
    sent_anyway(lambda: api.networks.get("a b/c"),
                lambda: api.subnets.update("acme-vpc/app", {"internet": False}),
                lambda: api.subnets.revoke("acme-vpc/app", "searchco"),
                lambda: api.appliances.remove("docs", force=True),
                lambda: api.appliances.list(status="failed", account=None),
                lambda: api.rules.of_interface("web", "eth0").delete(100, "ingress"),
                lambda: api.instances.exec("web", {"argv": ["true"]}, timeout=40.0),
                lambda: api.system.apply("kind: x", "f.yaml", dry_run=True))
    sent = [(r.method, r.url.raw_path.decode()) for r in fake.requests]
    assert sent == [
        ("GET", "/v1/networks/a%20b%2Fc"),
        ("PATCH", "/v1/subnets/acme-vpc/app"),
        ("DELETE", "/v1/subnets/acme-vpc/app/grants/searchco"),
        ("DELETE", "/v1/appliances/docs?force=true"),
        ("GET", "/v1/appliances?status=failed&limit=1000"),
        ("DELETE", "/v1/instances/web/interfaces/eth0/rules/100?direction=ingress"),
        ("POST", "/v1/instances/web/exec"),
        ("POST", "/v1/apply?dry_run=true"),
    ]
    assert fake.requests[-1].headers["authorization"] == "Bearer tok"
    assert json.loads(fake.requests[-1].content) == {"yaml": "kind: x", "filename": "f.yaml"}
    assert fake.requests[-2].extensions["timeout"]["read"] == 40.0


def test_an_item_methods_account_is_sent_as_its_query() -> None:
    """Names are unique per account (docs/api.md, "Names"): `account` says whose object."""
    fake = Fake(httpx.Response(200, json={}),
                httpx.Response(200, json={"items": [], "next_cursor": None}))
    api = fake.client()
    sent_anyway(lambda: api.networks.get("prod", account="acme"),
                lambda: api.networks.get("prod"),
                lambda: api.subnets.delete("prod/app", account="acme"),
                lambda: api.subnets.grant("prod/app", "evil", subnet_account="acme"),
                lambda: api.subnets.revoke("prod/app", "evil", subnet_account="acme"),
                lambda: api.appliances.remove("docs", detach=True, account="evil"),
                lambda: api.services.set_autoscale("search", {"min": 1}, account="searchco"),
                lambda: api.rules.of_subnet("prod", "app", account="acme").list(),
                lambda: api.instances.exec("web", {"argv": ["true"]}, account="evil"),
                lambda: api.sites.remove_host("hq", "db", account="acme"))
    sent = [(r.method, r.url.raw_path.decode()) for r in fake.requests]
    assert sent == [
        ("GET", "/v1/networks/prod?account=acme"),
        ("GET", "/v1/networks/prod"),
        ("DELETE", "/v1/subnets/prod/app?account=acme"),
        ("POST", "/v1/subnets/prod/app/grants?account=acme"),
        ("DELETE", "/v1/subnets/prod/app/grants/evil?subnet_account=acme"),
        ("DELETE", "/v1/appliances/docs?detach=true&account=evil"),
        ("PUT", "/v1/services/search/autoscale?account=searchco"),
        ("GET", "/v1/subnets/prod/app/rules?account=acme&limit=1000"),
        ("POST", "/v1/instances/web/exec?account=evil"),
        ("DELETE", "/v1/sites/hq/hosts/db?account=acme"),
    ]
    assert json.loads(fake.requests[3].content) == {"account": "evil"}  # the grantee


def test_an_answer_is_parsed_into_its_read_model() -> None:
    """The client answers the read model the control plane built (facade.readmodels): its
    attributes, the defaults of fields an older control plane leaves out, and a
    ProtocolError naming the field when the answer is not that object."""
    subnet = {"name": "acme-vpc/app", "network": "acme-vpc", "account": "acme",
              "cidr": "10.0.1.0/24", "gateway": "10.0.1.1", "used": 2, "capacity": 253,
              "bridge": "fcd-b1"}
    got = Fake(httpx.Response(200, json={**subnet, "added_later": 1})).client().subnets.get(
        "acme-vpc/app")
    assert isinstance(got, SubnetRead)
    assert (got.gateway, got.used, got.internet, got.sites) == ("10.0.1.1", 2, True, True)
    assert got.model_fields_set == set(subnet)  # what it sent; the rest are defaults
    with pytest.raises(ProtocolError, match=r"does not fit SubnetRead: capacity: .*integer"):
        Fake(httpx.Response(200, json={**subnet, "capacity": "many"})).client().subnets.get(
            "acme-vpc/app")
    with pytest.raises(ProtocolError, match="does not fit AccountRead: operator"):
        Fake(httpx.Response(200, json={"name": "acme"})).client().accounts.get("acme")


def test_find_answers_none_for_a_404_only() -> None:
    assert Fake(error(404, "not_found")).client().appliances.find("docs") is None
    with pytest.raises(AuthFailed):
        Fake(error(403, "forbidden")).client().appliances.find("docs")


# ---- settings ----------------------------------------------------------------------------------


def test_settings_arguments_over_environment_over_profile_over_defaults(tmp_path: Path) -> None:
    config = tmp_path / "facade" / "config.toml"
    config.parent.mkdir()
    config.write_text("[profiles.default]\nurl = 'http://p:1/'\ntoken = 'tok-p'\n"
                      "ca_file = '/nowhere/ca.pem'\n")
    config.chmod(0o600)
    env = {"XDG_CONFIG_HOME": str(tmp_path), "FACADE_HOME": str(tmp_path / "home")}
    assert Settings.resolve(env=env) == Settings("http://p:1", "tok-p", "", "/nowhere/ca.pem")
    env |= {"FACADE_URL": "http://e:2", "FACADE_TOKEN": " tok-e \n"}
    from_env = Settings.resolve(env=env)
    assert (from_env.url, from_env.token) == ("http://e:2", "tok-e")
    given = Settings.resolve("http://a:3", "tok-a", env=env)
    assert (given.url, given.token) == ("http://a:3", "tok-a")
    with pytest.raises(SettingsError, match="no profile 'prod'") as caught:
        Settings.resolve(profile="prod", env=env)
    assert caught.value.exit_code == 2
    with pytest.raises(SettingsError, match=r"ca_file /nowhere/ca.pem: No such file"):
        Settings.resolve(env=env).verify()


def test_the_operator_token_file_is_the_last_resort(tmp_path: Path) -> None:
    (tmp_path / "operator.token").write_text("tok-file\n")
    env = {"FACADE_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "none")}
    assert Settings.resolve(env=env).token == "tok-file"
    (tmp_path / "operator.token").write_text("")
    empty = Settings.resolve(env=env)
    assert empty.token is None and "is empty" in empty.token_hint
