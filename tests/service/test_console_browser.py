"""The console's topology and appliance pages in a real browser (Debian's headless Chromium,
tests/browser.py) against a control plane on the fake data plane (tests/console_plane.py),
as the operator: chains drawn as arrows, a third-party front-end and an interface in a
granted subnet marked, a granted subnet labelled; the edge (a public address, a customer
site, a channel); search, collapse and zoom; every appliance
node reachable with the keyboard; a refusal shown in the API's words; delete; the appliances
list and the events page. No error is logged but the refusal's own answer. The kernel test
(tests/integration/test_console_e2e.py) covers what each account sees on a real plane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import Watched, available, chromium, sign_in, watched_page
from tests.console_plane import Served, served_plane, wait_ready

ROOT = Path(__file__).resolve().parents[2]
THIRD_PARTY = """
accounts: [{name: lbco}]
networks:
  - {name: lb-vpc, account: lbco, cidr: 10.0.0.0/16, subnets: [{name: mgmt, cidr: 10.0.200.0/24}]}
load_balancers:
  - {name: edge, account: lbco, management_subnet: lb-vpc/mgmt}
services:
  - {name: search-lb, account: searchco, workload: search, port: 80, frontend: edge,
     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}
appliances:
  - {name: docs, account: acme, service: search-lb, subnet: acme-vpc/app, backends: 1}
"""

EDGE: dict[str, str] = {}  # what the fixture made that the tests look for

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_plane(tmp_path_factory.mktemp("console")) as made:
        for text in ((ROOT / "examples" / "chain.yaml").read_text(),
                     (ROOT / "examples" / "grants.yaml").read_text(), THIRD_PARTY):
            made.req("POST", "/v1/apply", json={"yaml": text, "filename": "x.yaml"})
        # the edge (docs/edge.md): a public gateway and address, a customer site and a channel
        made.req("POST", "/v1/networks", json={
            "name": "edge-vpc", "account": "acme", "cidr": "10.5.0.0/16", "public_gateway": True,
            "subnets": [{"name": "web", "cidr": "10.5.1.0/24"}]})
        made.req("POST", "/v1/instances", json={
            "name": "www", "account": "acme", "interfaces": [{"subnet": "edge-vpc/web"}]})
        address = made.req("POST", "/v1/public-ips", json={"account": "acme"})["address"]
        made.req("POST", f"/v1/public-ips/{address}/associate", json={"instance": "www"})
        EDGE["address"] = address
        made.req("POST", "/v1/sites", json={"name": "office", "account": "acme",
                                            "cidr": "192.168.50.0/24"})
        made.req("POST", "/v1/vpns", json={"name": "tunnel", "network": "acme/edge-vpc",
                                           "site": "acme/office"})
        made.req("POST", "/v1/externals", json={"name": "laptop", "account": "acme"})
        wait_ready(made, ["site", "site-index", "docs"])
        yield made


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as made:
        yield made


@pytest.fixture(scope="module")
def operator(plane: Served, browser: Any) -> Iterator[Watched]:
    seen = watched_page(browser)
    sign_in(seen, plane.base, plane.token)
    seen.page.wait_for_selector('#topo-svg .node[data-node="docs-fe"]')
    yield seen


def attr(page: Any, selector: str, name: str) -> list[str]:
    return list(page.eval_on_selector_all(selector, f"els => els.map(e => e.getAttribute('{name}'))"))


def test_chains_third_party_front_ends_and_grants_are_marked(operator: Watched) -> None:
    page = operator.page
    assert attr(page, "#topo-svg path.chain", "data-chain") == ["site->site-index"]
    # docs' front-end is lbco's node in acme's subnet: marked; site's (webco's own) is not
    marked = attr(page, '#topo-svg .subnet[data-subnet="acme-vpc/app"] .node:has(rect.marked)',
                  "data-node")
    assert marked == ["docs-fe"]
    title = page.text_content('#topo-svg .subnet[data-subnet="acme-vpc/app"] '
                            '.node[data-node="docs-fe"] title')
    assert title and "third-party front-end" in title and "lbco" in title
    shared = '#topo-svg .subnet[data-subnet="y-vpc/shared"]'
    assert "granted to xco" in (page.text_content(f"{shared} .mark") or "")
    assert attr(page, f"{shared} .node:has(rect.marked)", "data-node") == ["xleg"]
    internal = page.text_content('#topo-svg .subnet[data-subnet="web-vpc/backend"] .mark title')
    assert internal == "internal: backend of service web"
    assert operator.errors == []


def test_the_edge_public_addresses_sites_and_channels(operator: Watched) -> None:
    page = operator.page
    page.wait_for_selector('#topo-svg .node[data-node="www"]')
    address = EDGE["address"]
    assert attr(page, '#topo-svg .node[data-node="www"]', "data-public-ip") == [address]
    assert f"⇄ {address}" in (page.text_content('#topo-svg .node[data-node="www"]') or "")
    edge = page.text_content('#topo-svg .network[data-network="acme/edge-vpc"] .net-title') or ""
    assert "public gateway 198.19." in edge and "channel tunnel ⇄ office" in edge
    office = page.text_content('#topo-svg .network[data-network="acme/office"] .net-title') or ""
    assert "customer site" in office and "channel tunnel ⇄ edge-vpc" in office
    assert attr(page, "#topo-svg path.channel", "data-channel") == ["tunnel"]
    assert operator.errors == []


def test_search_collapse_and_zoom(operator: Watched) -> None:
    page = operator.page
    every = len(attr(page, "#topo-svg .node", "data-node"))
    page.fill("#topo-search", "xleg")
    assert attr(page, "#topo-svg .node", "data-node") == ["xleg", "xleg"]
    assert attr(page, "#topo-svg .network", "data-network") == ["xco/x-vpc", "yco/y-vpc"]
    page.fill("#topo-search", "no-such-thing")
    assert page.inner_text("#topo-canvas") == "Nothing matches the search."
    page.fill("#topo-search", "")
    assert len(attr(page, "#topo-svg .node", "data-node")) == every
    toggle = '#topo-nets button[data-toggle="acme/acme-vpc"]'
    page.click(toggle)
    assert page.get_attribute(toggle, "aria-expanded") == "false"
    assert attr(page, '#topo-svg .network[data-network="acme/acme-vpc"] .node', "data-node") == []
    assert "nodes" in (page.text_content('#topo-svg .network[data-network="acme/acme-vpc"]')
                       or "")
    page.click(toggle)
    assert "client" in attr(page, '#topo-svg .network[data-network="acme/acme-vpc"] .node',
                            "data-node")
    width = float(page.get_attribute("#topo-svg", "width") or 0)
    page.click("#topo-in")
    assert float(page.get_attribute("#topo-svg", "width") or 0) > width
    page.click("#topo-out")
    assert float(page.get_attribute("#topo-svg", "width") or 0) == width
    assert operator.errors == []


def test_a_customer_sees_its_external_hosts_in_a_card_of_their_own(plane: Served,
                                                                  browser: Any) -> None:
    """An account cannot see the Internet (the operator's intermediate network): its own
    external hosts are drawn in a card of their own, with their addresses; the operator sees
    them in the Internet's network instead."""
    token = plane.req("POST", "/v1/accounts/acme/tokens")["token"]
    seen = watched_page(browser)
    sign_in(seen, plane.base, token)
    page = seen.page
    try:
        card = '#topo-svg .network[data-network="acme/external hosts"]'
        page.wait_for_selector(f'{card} .node[data-node="laptop"]')
        assert "on the Internet" in (page.text_content(f"{card} .net-title") or "")
        assert "198.18." in (page.text_content(f'{card} .node[data-node="laptop"]') or "")
        assert "operator/internet" not in attr(page, "#topo-svg .network", "data-network")
        page.fill("#topo-search", "laptop")
        assert attr(page, "#topo-svg .node", "data-node") == ["laptop"]
        assert seen.errors == []
    finally:
        page.context.close()


def test_the_nodes_grouped_by_the_host_they_run_on(operator: Watched) -> None:
    """The same nodes by host: a card per host, in it a band per NETWORK/SUBNET holding that
    host's nodes, each node read as it is by network (marks, links). A plane of the fake
    driver runs every node on its own machine, the local host."""
    page = operator.page
    by_network = sorted(attr(page, "#topo-svg .node", "data-node"))
    page.select_option("#topo-group", "host")
    try:
        assert attr(page, "#topo-svg .network", "data-network") == ["host/local"]
        assert sorted(attr(page, "#topo-svg .node", "data-node")) == by_network
        bands = attr(page, '#topo-svg .network[data-network="host/local"] .subnet',
                     "data-subnet")
        assert {"acme-vpc/app", "y-vpc/shared", "web-vpc/backend"} <= set(bands)
        marked = attr(page, '#topo-svg .subnet[data-subnet="acme-vpc/app"] '
                            '.node:has(rect.marked)', "data-node")
        assert marked == ["docs-fe"]  # lbco's front-end in acme's subnet, as by network
        title = page.text_content('#topo-svg .network[data-network="host/local"] .net-title')
        assert title is not None and "local" in title and " nodes" in title
        page.fill("#topo-search", "xleg")  # search, then group: the host keeps what matched
        assert attr(page, "#topo-svg .node", "data-node") == ["xleg", "xleg"]
        page.fill("#topo-search", "")
    finally:
        page.select_option("#topo-group", "network")
    assert attr(page, "#topo-svg .network", "data-network")[0] != "host/local"
    assert sorted(attr(page, "#topo-svg .node", "data-node")) == by_network
    assert operator.errors == []


def test_an_appliance_node_is_reached_and_opened_with_the_keyboard(operator: Watched) -> None:
    page = operator.page
    page.focus("#topo-search")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset?.node") == "site-fe":
            break
    else:
        raise AssertionError("Tab never reached site-fe")
    page.keyboard.press("Enter")
    page.wait_for_selector("#endpoint")
    assert "#/appliance/site?account=acme" in page.url
    page.goto(page.url.split("#")[0] + "#/topology")
    page.wait_for_selector("#topo-svg")
    assert operator.errors == []


def test_a_refusal_in_the_api_words_then_delete_and_the_events(plane: Served,
                                                               operator: Watched) -> None:
    page = operator.page
    page.goto(plane.base + "/#/create")
    page.wait_for_selector('#c-subnet option[value="acme|acme-vpc/app"]', state="attached")
    page.fill("#c-name", "site")  # acme has a `site`
    page.select_option("#c-service", "webco/web")
    page.select_option("#c-subnet", "acme|acme-vpc/app")
    page.click("#create button[type=submit]")
    page.wait_for_selector("#create-msg.error")
    said = page.inner_text("#create-msg")
    api = plane.http.post(plane.base + "/v1/appliances", headers={
        "Authorization": f"Bearer {plane.token}"}, json={
        "name": "site", "service": "webco/web", "subnet": "acme-vpc/app", "backends": 2,
        "account": "acme"}).json()["error"]
    assert said == f"409 {api['code']}: {api['message']} (at {api['where']})"
    assert len(operator.errors) == 1 and "status of 409" in operator.errors[0]
    operator.errors.clear()

    page.goto(plane.base + "/#/appliance/docs?account=acme")
    page.wait_for_selector("#endpoint")
    page.click("#delete")
    page.click("#delete-yes")
    page.wait_for_selector("text=docs is deleted: its nodes are gone.", timeout=20_000)
    assert "docs" not in {a["name"] for a in plane.req("GET", "/v1/appliances")["items"]}

    page.goto(plane.base + "/#/appliances")
    page.wait_for_selector("#apps table")
    listed = page.eval_on_selector_all("#apps tbody tr td:first-child",
                                       "els => els.map(e => e.innerText)")
    assert sorted(listed) == sorted(a["name"] for a in
                                    plane.req("GET", "/v1/appliances")["items"])
    assert "site-index" in listed

    page.goto(plane.base + "/#/events")
    page.wait_for_selector("#events table")
    page.fill("#ev-filter", "appliance.deleted")
    rows = page.eval_on_selector_all("#events tbody tr", "els => els.map(e => e.innerText)")
    assert rows and all("appliance.deleted" in r for r in rows)
    assert any("docs" in r for r in rows)
    assert operator.errors == []
