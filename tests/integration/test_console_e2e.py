"""The console in a real browser (Debian's headless Chromium, driven by Playwright) against a
real control plane with a real appliance: the customer, the provider and the operator sign in
and each sees the topology the API lets it see (the customer's page and every answer it fetched
hold no backend or management address, nor a backend's name); the customer creates an
appliance from the form and sees it ready, scales it and the provider's picture gains a node;
a backend whose workload hangs (SIGSTOP, as test_healing_e2e.py does) leaves the rotation, in
the page and in the kernel's map; no page logs an error. Screenshots go to
test-artifacts/console/ (docs/console.md shows some)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import available, chromium, sign_in, watched_page
from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.echo_layout import rotation

pytestmark = pytest.mark.root

ARTIFACTS = Path(os.environ.get("FACADE_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "test-artifacts")) / "console"
# the provider's backend and management subnets lie apart from the shop's (10.0.1.0/24), so an
# address of theirs is recognisable wherever it appears
SCENARIO = """
accounts: [{name: shop}, {name: echoco}]
networks:
  - {name: shop-vpc, account: shop, cidr: 10.0.0.0/16, subnets: [{name: web, cidr: 10.0.1.0/24}]}
  - {name: echo-vpc, account: echoco, cidr: 10.9.0.0/16,
     subnets: [{name: backend, cidr: 10.9.1.0/24}, {name: mgmt, cidr: 10.9.200.0/24}]}
services:
  - {name: echo, account: echoco, workload: http-echo, port: 8080,
     backend_subnet: echo-vpc/backend, management_subnet: echo-vpc/mgmt}
instances:
  - {name: shopper, account: shop, interfaces: [shop-vpc/web]}
appliances:
  - {name: web1, account: shop, service: echo, subnet: shop-vpc/web, backends: 2}
"""
HIDDEN = re.compile(r"10\.9\.\d+\.\d+|web1-b\d")
REQUESTS = 20
IN_ROTATION = ("() => [...document.querySelectorAll('#app-nodes td')]"
               ".filter(td => td.textContent === 'in').length === %d")
# the rotation by name (the front-end's map shown) without this backend
LEFT = ("() => { const t = document.getElementById('rotation')?.textContent ?? '';"
        " return t.includes(':') && !t.includes('%s'); }")


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    why = available()
    if why:
        pytest.skip(why)
    path = tmp_path_factory.mktemp("console") / "shop.yaml"
    path.write_text(SCENARIO)
    cp.cli("apply", "-f", str(path))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {name: cp.api("POST", f"/v1/accounts/{name}/tokens").json()["token"]
            for name in ("shop", "echoco")}


@pytest.fixture(scope="module")
def browser(world: dict[str, str]) -> Iterator[Any]:
    with chromium() as made:
        yield made


def chips(page: Any) -> set[str]:
    return set(page.eval_on_selector_all("#topo-svg .node", "els => els.map(e => e.dataset.node)"))


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_each_account_sees_its_own_picture_and_the_customer_no_provider_address(
        cp: ControlPlane, world: dict[str, str], browser: Any) -> None:
    shop = watched_page(browser)
    sign_in(shop, cp.url, world["shop"])
    shop.page.wait_for_selector('#topo-svg .node[data-node="web1-fe"]')
    assert chips(shop.page) == {"shopper", "web1-fe"}
    shop.page.wait_for_selector('#topo-svg .node[data-node="web1-fe"][data-health="active"],'
                                '#topo-svg .node[data-node="web1-fe"][data-health="up"]')
    shot(shop.page, "customer-topology")
    # traffic through the endpoint, metered from the front-end's counters, charted per hour
    shopper = next(n for n in nsclient.facade_netns() if n.endswith("-shopper"))
    endpoint = cp.get("/v1/appliances/web1")["endpoint"]
    for _ in range(REQUESTS):
        assert nsclient.http(shopper, endpoint["ip"], endpoint["port"])[0] == 200
    cp.wait_for(lambda: sum(r["requests"] for r in cp.items("/v1/usage?appliance=web1"))
                >= REQUESTS, timeout=10, what="the requests metered")
    shop.page.goto(cp.url + "/#/appliance/web1")
    shop.page.wait_for_selector("#endpoint")
    shop.page.wait_for_selector("text=all 2 backends")
    shop.page.wait_for_selector(f"figcaption:has-text('requests per hour ({REQUESTS} in all)')")
    shot(shop.page, "customer-appliance")
    dom = shop.page.content()
    assert "10.0.1." in dom and "web1-fe" in dom  # the page did show the customer's side
    leaks = HIDDEN.findall(dom) + [f"{url}: {m}" for url, body in shop.answers
                                   for m in HIDDEN.findall(body)]
    assert leaks == []
    assert any("/v1/topology" in url for url, _ in shop.answers)

    provider = watched_page(browser)
    sign_in(provider, cp.url, world["echoco"])
    provider.page.wait_for_selector('#topo-svg .node[data-node="web1-b2"]')
    assert {"web1-fe", "web1-b1", "web1-b2"} <= chips(provider.page)
    subnets = provider.page.eval_on_selector_all("#topo-svg .subnet",
                                                 "els => els.map(e => e.dataset.subnet)")
    assert subnets == ["echo-vpc/backend", "echo-vpc/mgmt"]
    # every backend healthy as its management agent says (the real agent, polled every 2 s)
    provider.page.wait_for_function(
        "() => [...document.querySelectorAll('#topo-svg .node[data-role=backend]')]"
        ".every(e => e.dataset.health === 'up')", timeout=15_000)
    shot(provider.page, "provider-topology")

    operator = watched_page(browser)
    sign_in(operator, cp.url, cp.token)
    operator.page.wait_for_selector('#topo-svg .network[data-network="echoco/echo-vpc"]')
    nets = operator.page.eval_on_selector_all("#topo-svg .network",
                                              "els => els.map(e => e.dataset.network)")
    assert {"shop/shop-vpc", "echoco/echo-vpc"} <= set(nets)
    operator.page.goto(cp.url + "/#/billing")
    operator.page.wait_for_selector("#trial-balance")
    assert operator.page.inner_text("#trial-balance").startswith("0.00")
    shot(operator.page, "operator-billing")
    for seen in (shop, provider, operator):
        assert seen.errors == []
        seen.page.context.close()


def test_create_scale_and_a_hung_backend_leaving_the_rotation(
        cp: ControlPlane, world: dict[str, str], browser: Any) -> None:
    shop = watched_page(browser)
    sign_in(shop, cp.url, world["shop"])
    shop.page.goto(cp.url + "/#/create")
    shop.page.wait_for_selector('#c-service option[value="echoco/echo"]', state="attached")
    shop.page.fill("#c-name", "web2")
    shop.page.select_option("#c-service", "echoco/echo")
    shop.page.select_option("#c-subnet", "shop|shop-vpc/web")
    shop.page.fill("#c-backends", "2")
    shop.page.click("#create button[type=submit]")
    shop.page.wait_for_selector("#app-facts .s-ready", timeout=30_000)
    assert cp.get("/v1/appliances/web2?account=shop")["status"] == "ready"
    shot(shop.page, "customer-appliance-ready")

    provider = watched_page(browser)
    sign_in(provider, cp.url, world["echoco"])
    provider.page.wait_for_selector('#topo-svg .node[data-node="web2-b2"]')
    before = {n for n in chips(provider.page) if n.startswith("web2-b")}
    assert before == {"web2-b1", "web2-b2"}
    shop.page.fill("#scale-count", "3")
    shop.page.click("#scale button[type=submit]")
    shop.page.wait_for_selector("text=3 of 3 wanted")
    provider.page.wait_for_selector('#topo-svg .node[data-node="web2-b3"]', timeout=20_000)
    shot(provider.page, "provider-topology-scaled")
    shop.page.wait_for_selector("#app-facts .s-ready", timeout=30_000)

    # hang the youngest backend: out of the rotation within about 2 s; past its start-up
    # grace (10 s) it is also replaced within 3 s, on a busy machine before the page shows it
    # out, so the page is asked only that its name left the rotation, which it has either way
    app = cp.get("/v1/appliances/web2?account=shop")
    victim = app["backends"][-1]
    ip = victim["interfaces"][0]["ip"]
    fe = app["frontend"]["netns"]
    provider.page.goto(cp.url + "/#/appliance/web2?account=shop")
    # the provider sees the front-end's map (as its agent read it): each backend in or out
    provider.page.wait_for_function(IN_ROTATION % 3, timeout=10_000)
    assert victim["name"] in provider.page.inner_text("#rotation")
    (pid,) = nsclient.processes_mentioning(f"--name {victim['name']} ")
    os.kill(pid, signal.SIGSTOP)
    try:
        provider.page.wait_for_function(LEFT % victim["name"], timeout=15_000)
        assert ip not in rotation(fe)  # the kernel's map agrees
        shot(provider.page, "provider-appliance-out-of-rotation")
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone if it was replaced
            os.kill(pid, signal.SIGCONT)
    time.sleep(0.2)
    for seen in (shop, provider):
        assert seen.errors == []
        seen.page.context.close()


def test_a_revoked_token_signs_the_page_out(cp: ControlPlane, world: dict[str, str],
                                           browser: Any) -> None:
    """The account's tokens revoked under an open page (last here: the others use them): its
    next poll is a 401, and the page signs out saying so in the API's words; a wrong token is
    refused the same way. The only errors logged are those 401 answers."""
    shop = watched_page(browser)
    sign_in(shop, cp.url, world["shop"])
    shop.page.wait_for_selector("#topo-svg")
    assert shop.page.evaluate("sessionStorage.getItem('facade.token')") == world["shop"]
    assert world["shop"] not in shop.page.url
    cp.api("POST", "/v1/accounts/shop/tokens/rotate").raise_for_status()
    shop.page.wait_for_selector("#signin-msg.error", timeout=10_000)
    assert shop.page.inner_text("#signin-msg").startswith("signed out: ")
    assert shop.page.evaluate("sessionStorage.getItem('facade.token')") is None
    bad = watched_page(browser)
    bad.page.goto(cp.url + "/")
    bad.page.fill("#token", "not-a-token")
    bad.page.click("#signin button[type=submit]")
    bad.page.wait_for_selector("#signin-msg.error")
    assert bad.page.inner_text("#signin-msg").startswith("401 unauthorized")
    shot(bad.page, "signin-refused")
    for seen in (shop, bad):
        assert seen.errors and all("status of 401" in e for e in seen.errors), seen.errors
        seen.page.context.close()
