"""Chained appliances end to end, on the kernel: `facade apply -f examples/chain.yaml`, then
requests from the customer's instance that travel customer -> site front-end -> site backend ->
site-index front-end -> site-index backend and back; a chain of three; isolation of every
hidden address; and what deleting a link of a chain does.

All three VPCs of the example use 10.0.0.0/16 (and each backend subnet 10.0.1.0/24), so the
same address exists in several segments: only the front-ends' DNAT makes any of this work.
The path of a request is read from the answers the workloads themselves give (each backend
names itself), the reachability from sockets the test makes inside the namespaces.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root
EXAMPLE = "examples/chain.yaml"
AGENT_PORT = 9700  # the management agent's port on every node's management address

# The third link: portalco's "portal" (a web service) calls "portal-web", an appliance of
# webco's web service that portalco consumes in its own backend subnet, whose backends call
# site-index: client -> portal -> portal-web -> site-index.
PORTAL = """\
accounts: [{name: portalco}]
networks:
  - {name: portal-vpc, account: portalco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - {name: portal, account: portalco, workload: web, port: 80,
     backend_subnet: portal-vpc/backend, management_subnet: portal-vpc/mgmt,
     upstream: portal-web}
appliances:
  - {name: portal, account: acme, service: portal, subnet: acme-vpc/app, backends: 2}
"""
PORTAL_WEB = PORTAL + """\
  - {name: portal-web, account: portalco, service: web, subnet: portal-vpc/backend, backends: 2}
"""


def _show(cp: ControlPlane, name: str, token: str | None = None) -> Any:
    r = cp.api("GET", f"/v1/appliances/{name}", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def _token(cp: ControlPlane, account: str) -> str:
    r = cp.api("POST", f"/v1/accounts/{account}/tokens")
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _exec_curl(cp: ControlPlane, *args: str) -> tuple[int, Any]:
    """curl from the customer's instance through `facade exec`: (HTTP status, JSON body)."""
    res = cp.cli("exec", "client", "--", "curl", "-s", "-m", "10", "-w", "\n%{http_code}",
                 *args, check=False)
    assert res.returncode == 0, res.stderr
    body, _, code = res.stdout.rpartition("\n")
    return int(code), json.loads(body)


def _ep(app: dict[str, Any]) -> str:
    return f"{app['endpoint']['ip']}:{app['endpoint']['port']}"


@pytest.fixture(scope="module")
def chain(cp: ControlPlane) -> dict[str, Any]:
    res = cp.cli("apply", "-f", EXAMPLE, timeout=180)
    assert "created appliance site" in res.stdout and "created appliance site-index" in res.stdout
    assert "site ready" in res.stdout and "site-index ready" in res.stdout, res.stdout
    return {"site": _show(cp, "site"), "index": _show(cp, "site-index"),
            "client": json.loads(cp.cli("instance", "show", "client", "--json").stdout),
            "webco": _token(cp, "webco"), "searchco": _token(cp, "searchco"),
            "acme": _token(cp, "acme")}


def test_the_chain_is_placed_as_the_patent_says(chain: dict[str, Any]) -> None:
    site, index = chain["site"], chain["index"]
    # site-index's front-end faces web-vpc/backend, where site's backends are
    assert index["subnet"] == "web-vpc/backend" == site["backends"][0]["interfaces"][0]["subnet"]
    assert [i["subnet"] for i in index["frontend"]["interfaces"]] == [
        "web-vpc/backend", "search-vpc/backend", "search-vpc/mgmt"]
    for node in [index["frontend"], *site["backends"], *index["backends"]]:
        kernel = nsclient.addresses(node["netns"])  # independent read: ip -j addr
        for iface in node["interfaces"]:
            assert any(a.startswith(iface["ip"] + "/") for a in kernel[iface["name"]])
    assert site["uses"] == ["site-index"] and index["used_by"] == ["site"]


def test_a_request_travels_the_whole_chain(cp: ControlPlane, chain: dict[str, Any]) -> None:
    site, index = chain["site"], chain["index"]
    doc = json.dumps({"id": "patent", "text": "composed appliance services"})
    status, answer = _exec_curl(cp, "-X", "POST", "-H", "Content-Type: application/json",
                                "--data", doc, f"http://{_ep(site)}/documents")
    assert status == 201, answer
    site_b, index_b = answer["path"]
    assert answer["endpoint"] == _ep(index) and answer["upstream"] == "site-index"
    # the search backend replicated it to its peer before answering, over search-vpc/backend
    peers = {f"{b['interfaces'][0]['ip']}:80" for b in index["backends"] if b["name"] != index_b}
    assert set(answer["answer"]["replicated_to"]) == peers, answer
    seen: set[tuple[str, str]] = set()
    for _ in range(40):  # round robin at two levels (shared with the worker's probes)
        status, answer = _exec_curl(cp, f"http://{_ep(site)}/search?q=appliance+services")
        assert status == 200 and answer["answer"]["ids"] == ["patent"], answer
        seen.add(tuple(answer["path"]))
        if {p[0] for p in seen} == {b["name"] for b in site["backends"]} and \
                {p[1] for p in seen} == {b["name"] for b in index["backends"]}:
            break
    assert {p[0] for p in seen} == {b["name"] for b in site["backends"]}, seen
    assert {p[1] for p in seen} == {b["name"] for b in index["backends"]}, seen
    assert site_b.startswith("site-b") and index_b.startswith("site-index-b")


def test_only_the_chain_reaches_the_next_link(cp: ControlPlane, chain: dict[str, Any]) -> None:
    """The customer reaches the site endpoint and nothing behind it: not site's backends, not
    site-index's front-end (its endpoint lives in webco's backend subnet), not site-index's
    backends, no management address. Each listener is shown reachable from where it should be,
    so the refusals are isolation, not a dead target."""
    site, index, client = chain["site"], chain["index"], chain["client"]
    ns = client["netns"]
    site_ip, index_ip = site["endpoint"]["ip"], index["endpoint"]["ip"]
    assert nsclient.can_connect(ns, site_ip, 80)
    # a site backend reaches site-index's endpoint; its siblings and the agents reach the rest
    backend_ns = site["backends"][0]["netns"]
    status, _, body = nsclient.http(backend_ns, index_ip, 80, "GET", "/health")
    assert status == 200 and json.loads(body)["backend"].startswith("site-index-b")
    routers = {n["name"]: n["router"] for n in cp.items("/v1/networks")}
    listening: list[tuple[str, str, int]] = [(backend_ns, index_ip, 80)]
    for app in (site, index):
        first, second = app["backends"]
        listening.append((second["netns"], first["interfaces"][0]["ip"], 80))
        listening.append((first["netns"], second["interfaces"][0]["ip"], 80))
        for node in [app["frontend"], first, second]:
            mgmt = node["interfaces"][-1]
            listening.append((routers[mgmt["subnet"].split("/")[0]], mgmt["ip"], AGENT_PORT))
    for where, ip, port in listening:
        assert nsclient.can_connect(where, ip, port), f"{ip}:{port} not listening ({where})"
    customer_side = {site_ip, "10.0.1.1", *(i["ip"] for i in client["interfaces"])}
    targets = {(ip, port) for _, ip, port in listening}
    for node in [site["frontend"], index["frontend"]]:  # the front-ends' backend legs
        targets.add((node["interfaces"][1]["ip"], 80))
    # the three VPCs overlap, so many of these are one address seen from the client (and some
    # are the client's own or the endpoint): what is left must still be refused
    targets = {t for t in targets if t[0] not in customer_side}
    assert len(targets) >= 5, targets
    for ip, port in sorted(targets):
        assert not nsclient.can_connect(ns, ip, port), f"customer reached {ip}:{port}"


def test_each_party_sees_its_part_of_the_chain(cp: ControlPlane, chain: dict[str, Any]) -> None:
    acme = _show(cp, "site", token=chain["acme"])
    assert acme["uses"] == [] and acme["upstream"] is None and acme["backends"] == []
    assert cp.api("GET", "/v1/appliances/site-index", token=chain["acme"]).status_code == 404
    webco = _show(cp, "site", token=chain["webco"])
    assert webco["uses"] == ["site-index"] and webco["upstream"] == "site-index"
    assert _show(cp, "site-index", token=chain["webco"])["used_by"] == ["site"]
    searchco = _show(cp, "site-index", token=chain["searchco"])
    assert searchco["used_by"] == [] and "site" not in json.dumps(searchco).replace(
        "site-index", "")
    assert cp.api("GET", "/v1/appliances/site", token=chain["searchco"]).status_code == 404
    # the topology: the operator sees the chain drawn, the customer only its appliance
    out = cp.cli("topology").stdout
    chains = out[out.index("\nchains\n"):]
    assert "backends site-b1, site-b2 (web-vpc/backend) call" in chains, out
    assert "site-index  search by searchco" in chains, out
    acme_out = cp.cli("topology", token=chain["acme"]).stdout
    assert "site-index" not in acme_out and "web-vpc" not in acme_out, acme_out
    topo = json.loads(cp.cli("topology", "--json", token=chain["webco"]).stdout)
    apps = {a["name"]: a for a in topo["appliances"]}
    assert apps["site"]["uses"] == ["site-index"] and apps["site-index"]["used_by"] == ["site"]


def test_a_chain_of_three(cp: ControlPlane, chain: dict[str, Any], tmp_path: Path) -> None:
    first = tmp_path / "portal.yaml"
    first.write_text(PORTAL)
    cp.cli("apply", "-f", str(first), timeout=180)
    portal = _show(cp, "portal")
    # its upstream does not exist yet: the appliance works, requests that need it do not
    assert portal["status"] == "ready" and portal["uses"] == [] and portal["upstream"]
    status, answer = _exec_curl(cp, f"http://{_ep(portal)}/search?q=appliance")
    assert status == 503 and "portal-web does not exist" in answer["error"], answer
    status, answer = _exec_curl(cp, f"http://{_ep(portal)}/")
    assert status == 200 and answer["backend"].startswith("portal-b")
    second = tmp_path / "portal-web.yaml"
    second.write_text(PORTAL_WEB)
    res = cp.cli("apply", "-f", str(second), timeout=180)
    assert "created appliance portal-web" in res.stdout and "portal-web ready" in res.stdout
    portal, middle = _show(cp, "portal"), _show(cp, "portal-web")
    assert portal["uses"] == ["portal-web"] and middle["used_by"] == ["portal"]
    assert middle["uses"] == ["site-index"]
    assert _show(cp, "site-index")["used_by"] == ["site", "portal-web"]
    paths = set()
    for _ in range(30):
        status, answer = _exec_curl(cp, f"http://{_ep(portal)}/search?q=composed")
        assert status == 200, answer
        assert answer["answer"]["answer"]["ids"] == ["patent"], answer
        path = tuple(answer["path"])
        assert [p.rsplit("-b", 1)[0] for p in path] == ["portal", "portal-web", "site-index"]
        paths.add(path)
        if len({p[0] for p in paths}) == 2 and len({p[1] for p in paths}) == 2:
            break
    assert len({p[0] for p in paths}) == 2 and len({p[1] for p in paths}) == 2, paths
    out = cp.cli("topology").stdout
    chains = out[out.index("\nchains\n"):]
    assert "portal-web  web by webco" in chains, out
    assert chains.count("site-index  search by searchco") == 2, out  # under site and portal-web


def test_deleting_a_used_appliance_is_refused(cp: ControlPlane, chain: dict[str, Any]) -> None:
    before = nsclient.facade_netns()
    res = cp.cli("appliance", "delete", "site-index", check=False, token=chain["webco"])
    assert res.returncode != 0
    assert "used by site, portal-web" in res.stderr and "--force" in res.stderr, res.stderr
    assert "--detach" in res.stderr
    r = cp.api("DELETE", "/v1/appliances/portal-web")
    assert r.status_code == 409 and r.json()["error"]["code"] == "in_use", r.text
    assert "portal" in r.json()["error"]["message"]
    assert nsclient.facade_netns() == before
    assert _show(cp, "site-index")["status"] == "ready"


def test_detach_deletes_one_link_and_the_rest_keeps_working(
        cp: ControlPlane, chain: dict[str, Any]) -> None:
    middle = _show(cp, "portal-web")
    res = cp.cli("appliance", "delete", "portal-web", "--detach")
    assert "deleted appliance portal-web" in res.stdout
    gone = {middle["frontend"]["netns"], *(b["netns"] for b in middle["backends"])}
    assert not gone & nsclient.facade_netns()  # its namespaces are gone from the kernel
    portal = _show(cp, "portal")
    assert portal["status"] == "ready" and portal["uses"] == [] and \
        portal["upstream"] == "portal-web"
    status, answer = _exec_curl(cp, f"http://{_ep(portal)}/")
    assert status == 200  # the user itself still answers
    status, answer = _exec_curl(cp, f"http://{_ep(portal)}/search?q=composed")
    assert status == 503 and "portal-web does not exist" in answer["error"], answer
    events = json.loads(cp.cli("events", "--json", "--limit", "500").stdout)
    assert any(e["kind"] == "appliance.upstream_lost" and e["object"] == "portal"
               for e in events)
    # the other chain through site-index is untouched
    status, answer = _exec_curl(cp, f"http://{_ep(chain['site'])}/search?q=composed")
    assert status == 200 and answer["path"][1].startswith("site-index-b"), answer
    assert _show(cp, "site-index")["used_by"] == ["site"]
    assert "missing" in cp.cli("appliance", "show", "portal").stdout


def test_destroy_takes_a_chain_down_users_first(cp: ControlPlane, chain: dict[str, Any],
                                               tmp_path: Path) -> None:
    f = tmp_path / "portal.yaml"
    f.write_text(PORTAL)
    cp.cli("destroy", "-f", str(f), timeout=180)
    res = cp.cli("destroy", "-f", EXAMPLE, timeout=180)
    assert "deleted appliance site-index" in res.stdout, res.stdout
    assert cp.items("/v1/appliances") == []
    assert not any(n.startswith("fcd-n") for n in nsclient.facade_netns())


def test_curl_is_there() -> None:
    """`facade exec client -- curl` is how the example is used: the tool must exist."""
    assert subprocess.run(["curl", "--version"], capture_output=True).returncode == 0
