"""The API's conventions a generic client relies on: `Location` on every 201 and 202 that made
or changed an object with an address of its own, naming where it is read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.service.helpers import build_world, ok, running_api


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_api(tmp_path_factory.mktemp("conventions")) as api:
        build_world(api)
        api.changed = True
        yield api


@pytest.mark.parametrize(("path", "body", "where"), [
    ("/v1/accounts", {"name": "zed"}, "/v1/accounts/zed"),
    ("/v1/networks", {"name": "zed-vpc", "account": "acme", "cidr": "10.9.0.0/16"},
     "/v1/networks/zed-vpc?account=acme"),
    ("/v1/networks/zed-vpc/subnets", {"name": "web", "cidr": "10.9.1.0/24"},
     "/v1/subnets/zed-vpc/web?account=acme"),
    ("/v1/instances", {"name": "box", "account": "acme",
                       "interfaces": [{"subnet": "acme-vpc/app"}]},
     "/v1/instances/box?account=acme"),
    ("/v1/services", {"name": "echo2", "account": "searchco", "workload": "http-echo",
                      "port": 8080, "backend_subnet": "search-vpc/backend",
                      "management_subnet": "search-vpc/mgmt"},
     "/v1/services/echo2?account=searchco"),
    ("/v1/load-balancers", {"name": "lb9", "account": "searchco",
                            "management_subnet": "search-vpc/mgmt"},
     "/v1/load-balancers/lb9?account=searchco"),
    ("/v1/externals", {"name": "laptop", "account": "acme"},
     "/v1/externals/laptop?account=acme"),
    ("/v1/sites", {"name": "hq", "account": "acme", "cidr": "192.168.0.0/16"},
     "/v1/sites/hq?account=acme"),
    ("/v1/vpns", {"name": "link", "network": "acme-vpc", "site": "hq"},
     "/v1/vpns/link?account=acme"),
    ("/v1/hosts", {"name": "h9", "simulated": True}, "/v1/hosts/h9"),  # the operator's
])
def test_a_201_says_where_the_new_object_is(world: Any, path: str, body: dict[str, Any],
                                            where: str) -> None:
    """The operator creates for an account: the Location says whose (`?account=`), so that
    following it finds that object whatever other accounts call theirs."""
    resp = world.req("POST", path, json=body)
    ok(resp, 201)
    assert resp.headers["location"] == where
    assert ok(world.req("GET", where))["name"].endswith(body["name"])  # a subnet: NETWORK/NAME


def test_a_public_address_is_found_where_its_answer_says(world: Any) -> None:
    """The address is the pool's to choose: the Location names the one chosen."""
    resp = world.req("POST", "/v1/public-ips", json={"account": "acme"})
    address = ok(resp, 201)["address"]
    assert resp.headers["location"] == f"/v1/public-ips/{address}"
    assert ok(world.req("GET", resp.headers["location"]))["address"] == address


def test_an_appliance_is_followed_through_its_202s(world: Any) -> None:
    """Made, scaled and deleted: each 202 names the appliance, whose status tells how far the
    change has come; once gone, the same address answers 404."""
    resp = world.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1})
    ok(resp, 202)
    assert resp.headers["location"] == "/v1/appliances/docs?account=acme"  # the operator's
    scaled = world.req("PATCH", "/v1/appliances/docs", token=world.acme, json={"backends": 2})
    ok(scaled, 202)
    assert scaled.headers["location"] == "/v1/appliances/docs"  # the customer's own name
    assert ok(world.req("GET", "/v1/appliances/docs"))["name"] == "docs"
    gone = world.req("DELETE", "/v1/appliances/docs")
    ok(gone, 202)
    assert gone.headers["location"] == "/v1/appliances/docs?account=acme"


def test_what_has_no_address_of_its_own_gets_no_location(world: Any) -> None:
    """A token (shown once, never read back) and a grant (listed with its subnet's) are not
    objects to be read at an address: no Location, rather than a wrong one."""
    resp = world.req("POST", "/v1/accounts/acme/tokens")
    ok(resp, 201)
    assert "location" not in resp.headers
    resp = world.req("POST", "/v1/subnets/acme-vpc/app/grants", json={"account": "searchco"})
    ok(resp, 201)
    assert "location" not in resp.headers


def test_the_appliance_list_filters_by_account_status_and_service(world: Any) -> None:
    """Each filter narrows the list as the caller sees it; a name nothing matches is an empty
    page (never a hint of another account's), a status that is none is a 400 naming it, and
    the filters hold on every page."""
    for name, backends in (("f1", 1), ("f2", 1), ("f3", 1)):
        ok(world.req("POST", "/v1/appliances", json={
            "name": name, "account": "acme", "service": "search", "subnet": "acme-vpc/app",
            "backends": backends}), 202)

    def names(query: str, token: str | None = "op") -> set[str]:
        return {a["name"] for a in world.items(f"/v1/appliances?{query}", token=token)}

    every = names("")
    assert {"f1", "f2", "f3"} <= every
    assert names("account=acme") == every  # acme is every appliance's customer here
    assert names("account=searchco") == set() and names("account=nobody") == set()
    assert names("service=search") == every and names("service=nothing") == set()
    # (their statuses move while the worker runs: each answer is checked against itself)
    seen = 0
    for status in ("provisioning", "ready", "degraded", "failed", "deleting"):
        items = world.items(f"/v1/appliances?status={status}")
        assert all(a["status"] == status for a in items), (status, items)
        seen += len(items)
    assert seen >= 3
    assert names("status=ready&service=nothing") == set()
    # the customer's and the provider's tokens see their own, filtered the same way
    assert names("account=acme", token=world.acme) == every
    assert names("account=acme", token=world.searchco) == every
    # page by page, the filter holds
    page = ok(world.req("GET", "/v1/appliances?service=search&limit=1"))
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = ok(world.req("GET", "/v1/appliances",
                        params={"service": "search", "limit": 100,
                                "cursor": page["next_cursor"]}))
    assert {a["name"] for a in page["items"] + rest["items"]} == every
    for query, where in (("status=sleeping", "status"), ("account=Not_A_Name", "account"),
                         ("service=-x", "service")):
        err = world.req("GET", f"/v1/appliances?{query}")
        assert err.status_code == 400, err.text
        assert err.json()["error"]["where"] == where, err.text
    too_long = world.req("GET", "/v1/appliances?account=" + "a" * 41)
    assert too_long.status_code in (400, 422), too_long.text


def test_another_accounts_filter_reveals_nothing(world: Any) -> None:
    """A stranger filtering by acme's account or its service gets the same empty page as for
    names that do not exist."""
    eve = ok(world.req("POST", "/v1/accounts", json={"name": "eve"}), 201)
    assert eve["name"] == "eve"
    token = ok(world.req("POST", "/v1/accounts/eve/tokens"), 201)["token"]
    for query in ("account=acme", "service=search", "status=provisioning", ""):
        assert world.items(f"/v1/appliances?{query}", token=token) == []


def test_the_cli_lists_with_the_same_filters(world: Any, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """`facade appliance list --status/--account/--service` sends the API's filters (through
    the CLI's HTTP seam, forwarded to this control plane) and shows what the API answered."""
    import json

    import httpx

    from facade.cli import client
    from facade.cli.main import app
    from tests.clirunner import CliRunner

    sent: list[str] = []

    def forward(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.query.decode())
        keep = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        resp = world.client.request(request.method, str(request.url.copy_with(
            scheme="http", netloc=b"testserver")), headers=keep)
        return httpx.Response(resp.status_code, content=resp.content,
                              headers={"content-type": resp.headers.get("content-type", "")})

    monkeypatch.setattr(client, "transport_factory", lambda: httpx.MockTransport(forward))
    monkeypatch.setenv("FACADE_TOKEN", world.token)
    monkeypatch.delenv("FACADE_URL", raising=False)
    want = {a["name"] for a in world.items("/v1/appliances?account=acme&service=search")}
    out = CliRunner().invoke(app, ["appliance", "list", "--account", "acme",
                                   "--service", "search", "--json"])
    assert out.exit_code == 0, out.output
    assert {a["name"] for a in json.loads(out.output)} == want != set()
    assert any("account=acme" in q and "service=search" in q for q in sent), sent
    out = CliRunner().invoke(app, ["appliance", "list", "--status", "failed", "--json"])
    assert out.exit_code == 0 and json.loads(out.output) == [], out.output  # none failed
    assert any(q.startswith("status=failed") or "&status=failed" in q for q in sent), sent
    bad = CliRunner().invoke(app, ["appliance", "list", "--status", "sleeping"])
    assert bad.exit_code != 0 and "status" in bad.output and "Traceback" not in bad.output


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flooding_token_gets_429_and_nothing_it_asked_for(world: Any) -> None:
    """A token past its burst is refused with 429, `Retry-After` and the API's error shape,
    before the request did anything (a create refused so creates nothing); another account's
    token and the operator's are served meanwhile; once the bucket refilled, the token is
    served again."""
    from facade.service.rate_limits import RateLimits

    clock = _Clock()
    saved = world.ctx.rate_limits
    world.ctx.rate_limits = RateLimits(rate=2.0, burst=3.0, clock=clock)
    try:
        for _ in range(3):
            ok(world.req("GET", "/v1/networks", token=world.acme))
        refused = world.req("POST", "/v1/networks", token=world.acme, json={
            "name": "flood-vpc", "account": "acme", "cidr": "10.77.0.0/16"})
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["retry-after"] == "1"  # 0.5 s, in whole seconds
        assert world.req("GET", "/v1/networks/flood-vpc").status_code == 404  # not made
        ok(world.req("GET", "/v1/networks", token=world.searchco))  # another token: served
        for _ in range(10):
            ok(world.req("GET", "/v1/networks"))  # the operator: not limited
        clock.now += 0.5  # one request's worth
        ok(world.req("GET", "/v1/networks", token=world.acme))
        assert world.req("GET", "/v1/networks", token=world.acme).status_code == 429
        clock.now += 60  # refilled to its burst, no more
        for _ in range(3):
            ok(world.req("GET", "/v1/networks", token=world.acme))
        assert world.req("GET", "/v1/networks", token=world.acme).status_code == 429
    finally:
        world.ctx.rate_limits = saved


def test_the_rate_limit_setting_is_checked() -> None:
    from facade.service.rate_limits import from_env

    limits = from_env("5/20")
    assert (limits.rate, limits.burst) == (5.0, 20.0)
    assert from_env("0/0").rate == 0  # off
    assert (from_env("7").rate, from_env("7").burst) == (7.0, 7.0)  # a burst of one second
    for bad in ("fast", "-1/5", "5/0", "0/5", "a/b", "5/x"):
        with pytest.raises(SystemExit, match="FACADE_RATE_LIMIT"):
            from_env(bad)


def _post(world: Any, path: str, body: dict[str, Any], key: str, token: str | None = "op"
          ) -> Any:
    tok = world.token if token == "op" else token
    return world.client.post(path, json=body, headers={
        "Authorization": f"Bearer {tok}", "Idempotency-Key": key})


def test_a_retried_create_with_its_key_is_done_once(world: Any) -> None:
    """The first answer again, flagged as a replay, the object made once (one creation event);
    the same key for another body is a conflict; another token's same key is its own."""
    body = {"name": "idem-vpc", "account": "acme", "cidr": "10.88.0.0/16"}
    first = _post(world, "/v1/networks", body, "k-1")
    assert first.status_code == 201, first.text
    again = _post(world, "/v1/networks", body, "k-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"] == \
        "/v1/networks/idem-vpc?account=acme"
    assert "idempotent-replayed" not in first.headers
    created = [e for e in world.items("/v1/events?limit=1000")
               if e["kind"] == "network.created" and e["object"] == "idem-vpc"]
    assert len(created) == 1
    other = _post(world, "/v1/networks", {**body, "name": "idem-two"}, "k-1")
    assert other.status_code == 409, other.text
    assert other.json()["error"]["where"] == "Idempotency-Key"
    assert world.req("GET", "/v1/networks/idem-two").status_code == 404
    # the key is the token's: another token may use the same one for its own request
    theirs = _post(world, "/v1/networks", {"name": "idem-search", "account": "searchco",
                                           "cidr": "10.89.0.0/16"}, "k-1", world.searchco)
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers, theirs.text
    # an appliance's 202 is replayed as well
    app_body = {"name": "idem-app", "account": "acme", "service": "search",
                "subnet": "acme-vpc/app", "backends": 1}
    made = _post(world, "/v1/appliances", app_body, "k-app")
    replay = _post(world, "/v1/appliances", app_body, "k-app")
    assert made.status_code == replay.status_code == 202, replay.text
    assert replay.headers["idempotent-replayed"] == "true"


def test_a_failed_request_gives_its_key_back_and_bad_keys_are_refused(world: Any) -> None:
    """Nothing was done, so the same key runs the request again (no replay of the error); a
    key that is not printable ASCII is a 400 naming the header, with nothing done; a retry
    while the first still runs is a conflict."""
    from facade.service import idempotency

    taken = {"name": "acme-vpc", "account": "acme", "cidr": "10.90.0.0/16"}  # exists
    for _ in range(2):
        resp = _post(world, "/v1/networks", taken, "k-fail")
        assert resp.status_code == 409 and "idempotent-replayed" not in resp.headers
        assert resp.json()["error"]["where"] != "Idempotency-Key", resp.text
    for bad in (b"has space", b"", b"x" * 256, "é".encode()):
        resp = world.client.post("/v1/networks", json={
            "name": "idem-bad", "account": "acme", "cidr": "10.91.0.0/16"},
            headers=[(b"authorization", f"Bearer {world.token}".encode()),
                     (b"idempotency-key", bad)])
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["error"]["where"] == "Idempotency-Key"
    assert world.req("GET", "/v1/networks/idem-bad").status_code == 404
    # a first request still running (its key taken a moment ago)
    import hashlib

    body = {"name": "idem-slow", "account": "acme", "cidr": "10.92.0.0/16"}
    scope = hashlib.sha256(len(world.token.encode()).to_bytes(8, "big")
                           + world.token.encode()).hexdigest()
    assert idempotency.begin(world.ctx, scope, "k-slow", "a fingerprint") is None
    resp = _post(world, "/v1/networks", body, "k-slow")
    assert resp.status_code == 409 and resp.json()["error"]["where"] == "Idempotency-Key"
    assert world.req("GET", "/v1/networks/idem-slow").status_code == 404


def test_an_update_with_a_stale_if_match_is_refused_and_changes_nothing(world: Any) -> None:
    """A GET's ETag names the version; an update sent with it goes through (and answers the
    new version), one sent with an older one is a 412 that changed nothing; `*` is any."""
    auth = {"Authorization": f"Bearer {world.token}"}
    got = world.client.get("/v1/accounts/acme/quotas", headers=auth)
    v1 = got.headers["etag"]
    assert v1.startswith('"') and world.client.get(
        "/v1/accounts/acme/quotas", headers=auth).headers["etag"] == v1  # stable
    done = world.client.put("/v1/accounts/acme/quotas", json={"networks": 7},
                            headers={**auth, "If-Match": v1})
    assert done.status_code == 200, done.text
    v2 = done.headers["etag"]
    assert v2 != v1 and world.client.get("/v1/accounts/acme/quotas",
                                         headers=auth).headers["etag"] == v2
    stale = world.client.put("/v1/accounts/acme/quotas", json={"networks": 9},
                             headers={**auth, "If-Match": v1})
    assert stale.status_code == 412, stale.text
    assert stale.json()["error"]["code"] == "precondition_failed"
    assert stale.json()["error"]["where"] == "If-Match"
    assert ok(world.req("GET", "/v1/accounts/acme/quotas"))["quotas"]["networks"]["limit"] == 7
    anyway = world.client.put("/v1/accounts/acme/quotas", json={"networks": None},
                              headers={**auth, "If-Match": "*"})
    assert anyway.status_code == 200, anyway.text
    # a subnet and a network the same way
    sub = world.client.get("/v1/subnets/acme-vpc/tiny", headers=auth)
    tag, internet = sub.headers["etag"], sub.json()["internet"]
    changed = world.client.patch("/v1/subnets/acme-vpc/tiny", json={"internet": not internet},
                                 headers={**auth, "If-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag, changed.text
    again = world.client.patch("/v1/subnets/acme-vpc/tiny", json={"internet": internet},
                               headers={**auth, "If-Match": tag})
    assert again.status_code == 412, again.text
    assert ok(world.req("GET", "/v1/subnets/acme-vpc/tiny"))["internet"] is (not internet)
    net = world.client.get("/v1/networks/acme-vpc", headers=auth)
    wrong = world.client.patch("/v1/networks/acme-vpc", json={"outbound_nat": False},
                               headers={**auth, "If-Match": '"not-a-version"'})
    assert wrong.status_code == 412, wrong.text
    assert world.client.get("/v1/networks/acme-vpc", headers=auth).headers["etag"] == \
        net.headers["etag"]


def test_scaling_against_a_version_of_the_appliance(world: Any) -> None:
    """Two clients read the appliance and both scale it against what they read: the first
    goes through, the second is told the appliance changed. (Its version moves with its status
    too: read once it is ready, the two reads are the same version.)"""
    import time

    ok(world.req("POST", "/v1/appliances", json={
        "name": "etagged", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1}), 202)
    deadline = time.monotonic() + 10
    while ok(world.req("GET", "/v1/appliances/etagged"))["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    auth = {"Authorization": f"Bearer {world.token}"}
    read = world.client.get("/v1/appliances/etagged", headers=auth).headers["etag"]
    first = world.client.patch("/v1/appliances/etagged", json={"backends": 2},
                               headers={**auth, "If-Match": read})
    assert first.status_code == 202, first.text
    second = world.client.patch("/v1/appliances/etagged", json={"backends": 3},
                                headers={**auth, "If-Match": read})
    assert second.status_code == 412, second.text
    assert ok(world.req("GET", "/v1/appliances/etagged"))["desired_backends"] == 2


@pytest.mark.parametrize(("path", "account", "key"), [
    ("/v1/networks", "acme", "account"), ("/v1/networks", "searchco", "account"),
    ("/v1/subnets", "acme", "account"), ("/v1/instances", "acme", "account"),
    ("/v1/services", "searchco", "account"),
])
def test_lists_filter_by_account(world: Any, path: str, account: str, key: str) -> None:
    """`?account=` narrows a list to that account's objects, on every page; a name with none
    is an empty page; a name no account could have is a 400 naming `account`."""
    every = world.items(path)
    want = [o for o in every if o[key] == account]
    assert want, (path, every)
    assert world.items(f"{path}?account={account}") == want
    assert [o["name"] for o in world.items(path, params={"account": account, "limit": 1})] \
        == [o["name"] for o in want]
    assert world.items(f"{path}?account=nobody") == []
    bad = world.req("GET", f"{path}?account=No_Such")
    assert bad.status_code == 400 and bad.json()["error"]["where"] == "account", bad.text


def test_instances_filter_by_status(world: Any) -> None:
    for status in ("pending", "active", "failed", "deleting"):
        assert all(i["status"] == status for i in world.items(f"/v1/instances?status={status}"))
    assert "client" in {i["name"] for i in world.items("/v1/instances?account=acme")}
    bad = world.req("GET", "/v1/instances?status=ready")  # an appliance's, not a node's
    assert bad.status_code == 400 and bad.json()["error"]["where"] == "status", bad.text
