"""End to end, as a user does it: `facade apply -f examples/search.yaml` on a real control
plane, then real TCP from the customer's instance, checked against the kernel's own view.

The scenario is the issue's: acme's subnet and searchco's backend subnet are both
10.0.1.0/24, so backend addresses collide with addresses of the customer's subnet on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root
EXAMPLE = "examples/search.yaml"


@pytest.fixture(scope="module")
def docs(cp: ControlPlane) -> dict[str, Any]:
    res = cp.cli("apply", "-f", EXAMPLE)
    assert "created appliance docs" in res.stdout
    assert "ready" in res.stdout + res.stderr
    return json.loads(cp.cli("appliance", "show", "docs", "--json").stdout)


def _client_netns(cp: ControlPlane) -> str:
    return json.loads(cp.cli("instance", "show", "client", "--json").stdout)["netns"]


def test_apply_is_idempotent(cp: ControlPlane, docs: dict[str, Any]) -> None:
    kernel_before = nsclient.facade_netns()
    res = cp.cli("apply", "-f", EXAMPLE)
    assert "nothing to change" in res.stdout
    assert nsclient.facade_netns() == kernel_before


def test_appliance_shape_matches_kernel(cp: ControlPlane, docs: dict[str, Any]) -> None:
    assert docs["status"] == "ready"
    fe = docs["frontend"]
    assert [i["subnet"] for i in fe["interfaces"]] == [
        "acme-vpc/app", "search-vpc/backend", "search-vpc/mgmt"]
    assert docs["endpoint"]["ip"] == fe["interfaces"][0]["ip"]
    assert docs["endpoint"]["port"] == 80
    assert len(docs["backends"]) == 3
    for node in [fe, *docs["backends"]]:
        kernel = nsclient.addresses(node["netns"])  # independent read: ip -j addr
        for iface in node["interfaces"]:
            assert any(a.startswith(iface["ip"] + "/") for a in kernel[iface["name"]]), (
                node["name"], iface, kernel)
    for b in docs["backends"]:
        assert [i["subnet"] for i in b["interfaces"]] == ["search-vpc/backend", "search-vpc/mgmt"]
    # the front-end balances with nftables inside its own namespace
    rules = json.dumps(nsclient.nft_ruleset(fe["netns"]))
    assert "dnat" in rules and docs["endpoint"]["ip"] in rules


def test_customer_subnet_loses_one_address(cp: ControlPlane, docs: dict[str, Any]) -> None:
    sub = cp.get("/v1/subnets/acme-vpc/app")
    assert sub["used"] == 2  # the client and the endpoint, nothing for 3 backends


def test_search_through_endpoint_and_replication(cp: ControlPlane, docs: dict[str, Any]) -> None:
    ns, ep = _client_netns(cp), docs["endpoint"]["ip"]
    status, headers, body = nsclient.http(ns, ep, 80, "POST", "/documents",
                                          {"id": "patent", "text": "composed appliance services"})
    assert status == 201, body
    posted = time.monotonic()
    answer = json.loads(body)
    # replication is synchronous over the backend subnet: when the 201 comes back, every other
    # backend has acknowledged the document (so "found within one second" holds at t = 0)
    peers = {f"{b['interfaces'][0]['ip']}:80" for b in docs["backends"]
             if b["name"] != answer["backend"]}
    assert set(answer["replicated_to"]) == peers and answer["failed"] == [], answer
    served_by: dict[str, float] = {}
    for _ in range(30):  # the worker's probes share the round-robin counter: ask until all
        if len(served_by) == 3:
            break
        status, headers, body = nsclient.http(ns, ep, 80, "GET", "/search?q=appliance+composed")
        assert status == 200
        assert json.loads(body)["ids"] == ["patent"], (headers.get("x-backend"), body)
        served_by.setdefault(headers["x-backend"], time.monotonic() - posted)
    assert set(served_by) == {b["name"] for b in docs["backends"]}, served_by


def test_customer_reaches_only_the_endpoint(cp: ControlPlane, docs: dict[str, Any]) -> None:
    ns, ep = _client_netns(cp), docs["endpoint"]["ip"]
    assert nsclient.can_connect(ns, ep, 80)
    customer_side = {ep, *(i["ip"] for i in
                           json.loads(cp.cli("instance", "show", "client", "--json").stdout)
                           ["interfaces"])}
    fe = docs["frontend"]
    hidden = [fe["interfaces"][1]["ip"], fe["interfaces"][2]["ip"]]
    for b in docs["backends"]:
        hidden += [i["ip"] for i in b["interfaces"]]
    hidden = [ip for ip in hidden if ip not in customer_side]
    assert hidden
    for ip in hidden:
        assert not nsclient.can_connect(ns, ip, 80), f"customer reached {ip}"
    # no route to the management subnet, and the endpoint does not route there either
    nsclient.run("ip", "-n", ns, "route", "add", "10.0.200.0/24", "via", ep)
    try:
        for ip in hidden:
            if ip.startswith("10.0.200."):
                assert not nsclient.can_connect(ns, ip, 80), f"routed via endpoint to {ip}"
    finally:
        nsclient.run("ip", "-n", ns, "route", "del", "10.0.200.0/24", "via", ep)


def test_other_customer_reaches_nothing(cp: ControlPlane, docs: dict[str, Any]) -> None:
    cp.cli("account", "create", "other")
    cp.cli("network", "create", "other-vpc", "--account", "other", "--cidr", "10.0.0.0/16")
    cp.cli("subnet", "create", "other-vpc/app", "--cidr", "10.0.1.0/24")
    cp.cli("instance", "create", "intruder", "--account", "other", "--iface", "other-vpc/app")
    try:
        ns = json.loads(cp.cli("instance", "show", "intruder", "--json").stdout)["netns"]
        targets = [docs["endpoint"]["ip"]]
        for node in [docs["frontend"], *docs["backends"]]:
            targets += [i["ip"] for i in node["interfaces"]]
        mine = json.loads(cp.cli("instance", "show", "intruder", "--json").stdout)
        own_ip = mine["interfaces"][0]["ip"]
        for ip in set(targets) - {own_ip, "10.0.1.1"}:
            assert not nsclient.can_connect(ns, ip, 80), f"other customer reached {ip}"
    finally:
        cp.cli("instance", "delete", "intruder")
        cp.cli("subnet", "delete", "other-vpc/app")
        cp.cli("network", "delete", "other-vpc")
        cp.cli("account", "delete", "other")


def test_topology_and_events(cp: ControlPlane, docs: dict[str, Any]) -> None:
    out = cp.cli("topology").stdout
    for word in ("acme-vpc", "search-vpc", "docs-fe", "docs-b1", docs["endpoint"]["ip"]):
        assert word in out, out
    events = json.loads(cp.cli("events", "--json", "--limit", "200").stdout)
    assert any(e["kind"] == "appliance.ready" and e["object"] == "docs" for e in events)


def test_fabric_bridges_skip_ip_hooks_and_host_is_untouched(cp: ControlPlane,
                                                            docs: dict[str, Any]) -> None:
    key = "/proc/sys/net/bridge/bridge-nf-call-iptables"
    try:
        with open(key) as fh:
            host_value = fh.read().strip()
    except FileNotFoundError:
        pytest.skip("this kernel has no br_netfilter")
    fabric = nsclient.run("ip", "netns", "exec", "fcd-fabric", "cat", key).strip()
    assert fabric == "0"
    with open(key) as fh:
        assert fh.read().strip() == host_value  # the host's own setting is left alone


def test_operator_token_is_private_and_stored_hashed(cp: ControlPlane) -> None:
    path = cp.home / "operator.token"
    assert path.stat().st_mode & 0o777 == 0o600
    token = path.read_text().strip()
    assert token == cp.token
    stored = cp.stored()
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    assert token.encode() not in stored  # only a digest is kept
    assert cp.api("GET", "/v1/accounts", token="fcd_wrong").status_code == 401


def test_management_agents_answer_only_the_provider(cp: ControlPlane,
                                                    docs: dict[str, Any]) -> None:
    def all_reachable() -> dict[str, Any] | None:
        app = cp.get("/v1/appliances/docs")
        nodes = [app["frontend"], *app["backends"]]
        ok = all((n["management"] or {}).get("reachable") for n in nodes)
        return app if ok else None

    app = cp.wait_for(all_reachable, timeout=10, what="every node's agent to answer")
    for b in app["backends"]:
        assert b["management"]["workload"]["ok"] is True, b
    # the agent listens on the management address, inside the node's namespace
    mgmt_ip = app["backends"][0]["interfaces"][1]["ip"]
    router = cp.get("/v1/networks/search-vpc")["router"]  # the provider's side of the subnet
    assert nsclient.can_connect(router, mgmt_ip, 9700)
    status, _, body = nsclient.http(router, mgmt_ip, 9700, "GET", "/v1/health")
    assert status == 401, body  # unsigned: refused
    # the customer cannot reach any agent
    client = _client_netns(cp)
    for node in [app["frontend"], *app["backends"]]:
        assert not nsclient.can_connect(client, node["interfaces"][-1]["ip"], 9700)


def _bearer(ns: str, ip: str, port: int, path: str, token: str | None) -> tuple[int, Any]:
    conn = nsclient.NsHTTPConnection(ns, ip, port, timeout=5)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _relays() -> list[int]:
    """The pids of the private API's relays, read from /proc (their state folder's path names
    pytest, which nsclient.processes_mentioning leaves out)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if b"facade.workloads.api_relay" in argv and b"ip" not in argv[:1]:
            out.append(int(pid))
    return out


def test_private_api_endpoint(cp: ControlPlane, docs: dict[str, Any]) -> None:
    """The control plane's API in acme's subnet (docs/multi-host.md, "The private API
    endpoint"): acme's instance calls it with acme's token and sees acme's objects only;
    without a token 401; another tenant's instance (same addresses) cannot connect; nothing
    but the API is reached through it, and the relay's namespace holds none of the host's."""
    for path, body in [  # the operator's offer and a second tenant, through the API (fast)
            ("/v1/accounts", {"name": "platform"}),
            ("/v1/networks", {"name": "platform-vpc", "account": "platform",
                              "cidr": "10.9.0.0/16",
                              "subnets": [{"name": "backend", "cidr": "10.9.1.0/24"},
                                          {"name": "mgmt", "cidr": "10.9.200.0/24"}]}),
            ("/v1/services", {"name": "control-plane-api", "account": "platform",
                              "workload": "control-plane-api", "port": 8470,
                              "backend_subnet": "platform-vpc/backend",
                              "management_subnet": "platform-vpc/mgmt"}),
            ("/v1/appliances", {"name": "api", "account": "acme", "service": "control-plane-api",
                                "subnet": "acme-vpc/app", "backends": 1}),
            ("/v1/accounts", {"name": "globex"}),
            ("/v1/networks", {"name": "globex-vpc", "account": "globex", "cidr": "10.0.0.0/16",
                              "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}),
            ("/v1/instances", {"name": "outsider", "account": "globex",
                               "interfaces": [{"subnet": "globex-vpc/app"}]})]:
        assert cp.api("POST", path, json=body).status_code in (201, 202), (path, body)
    app = cp.wait_for(lambda: (a := cp.get("/v1/appliances/api"))["status"] == "ready" and a,
                      timeout=20, what="appliance api ready")
    token = cp.api("POST", "/v1/accounts/acme/tokens").json()["token"]
    ep, client = app["endpoint"]["ip"], cp.get("/v1/instances/client")["netns"]
    status, body = _bearer(client, ep, 8470, "/v1/networks", token)
    assert status == 200, body
    assert [n["name"] for n in body["items"]] == ["acme-vpc"]  # not search-vpc, platform-vpc
    assert _bearer(client, ep, 8470, "/v1/appliances", token)[1]["items"][0]["name"] == "docs"
    assert _bearer(client, ep, 8470, "/v1/networks", None)[0] == 401
    assert _bearer(client, ep, 8470, "/v1/networks", "fcd_wrong")[0] == 401
    # the user's way: a program in the instance (its sandbox), acme's token in its header
    out = cp.cli("exec", "client", "--", "curl", "-s", "-H", f"Authorization: Bearer {token}",
                 f"http://{ep}:8470/v1/accounts").stdout
    assert [a["name"] for a in json.loads(out)["items"]] == ["acme"]
    # the endpoint forwards its port to the API and nothing else: not the host's API port,
    # not another port of the endpoint
    api_port = int(cp.url.rsplit(":", 1)[1])
    for port in (api_port, 22, 80, 9700):
        assert not nsclient.can_connect(client, ep, port, timeout=0.3), port
    backend = app["backends"][0]["netns"]
    # the relay lives in its backend's namespace, where the host's loopback is not
    relays = _relays()
    assert len(relays) == 1, relays
    assert os.stat(f"/proc/{relays[0]}/ns/net").st_ino == os.stat(f"/run/netns/{backend}").st_ino
    assert not nsclient.can_connect(backend, "127.0.0.1", api_port, timeout=0.3)
    sock = (cp.home / "api.sock").stat()  # the API's socket: root's only
    assert sock.st_uid == 0 and sock.st_mode & 0o077 == 0
    outsider = cp.get("/v1/instances/outsider")
    assert outsider["interfaces"][0]["ip"] != ep
    assert not nsclient.can_connect(outsider["netns"], ep, 8470, timeout=0.5)
