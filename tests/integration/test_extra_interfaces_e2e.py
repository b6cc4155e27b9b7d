"""Backends with extra interfaces, on the kernel (issue 4, variant 4; docs/composition.md,
"Backends with extra interfaces").

webco's `web` service gives every backend two extra legs: one in web-vpc/uplink, where webco
consumes searchco's appliance `idx` (the upstream its backends call), and one in
web-vpc/storage, next to which webco keeps a `vault` instance in web-vpc/vault (reached through
web-vpc's router). The backend and management subnets are provider internal, so web-vpc's router
forwards nothing into or out of them: a packet that leaves a backend by the wrong interface is
dropped. What is checked, with real connections and the kernel's own view (`ip`):

- a customer request travels client -> site front-end -> site backend -(eth2)-> idx front-end
  -> idx backend, and the kernel routes idx's endpoint out of eth2;
- vault reaches a listener on a backend's storage address (eth3): the reply leaves by eth3
  although the backend's default route is eth0; vault reaches neither the backend's eth0 nor
  its management address;
- a backend reaches vault only from its storage address (routed peers behind an extra leg are
  reached by binding to that leg's address; connected subnets from any address);
- the customer reaches none of a backend's addresses, extra ones included.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root

EXAMPLE = "examples/extra-interfaces.yaml"  # the layout above, shipped as an example
PORT = 7070  # the test's own listeners
AGENT_PORT = 9700


def _get(cp: ControlPlane, path: str) -> Any:
    r = cp.api("GET", path)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def layout(cp: ControlPlane) -> dict[str, Any]:
    res = cp.cli("apply", "-f", EXAMPLE, timeout=180)
    assert "site ready" in res.stdout and "idx ready" in res.stdout, res.stdout
    return {"site": _get(cp, "/v1/appliances/site"), "idx": _get(cp, "/v1/appliances/idx"),
            "client": _get(cp, "/v1/instances/client"), "vault": _get(cp, "/v1/instances/vault"),
            "networks": cp.items("/v1/networks")}


class _Listener:
    """A TCP listener the test makes inside a namespace (bound to one address) that answers
    every connection with its own name and closes; at most `limit` connections."""

    def __init__(self, netns: str, ip: str, name: str, limit: int = 20) -> None:
        self.sock = nsclient.ns_socket(netns)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, PORT))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.name, self.limit, self.stop = name, limit, threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        served = 0
        while not self.stop.is_set() and served < self.limit:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(self.name.encode())
            served += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


def _hello(netns: str, ip: str, *, source: str | None = None, timeout: float = 1.0) -> str | None:
    """What the listener at ip:PORT says to a connection from `netns` (bound to `source`), or
    None if no connection is made."""
    sock = nsclient.ns_socket(netns)
    sock.settimeout(timeout)
    try:
        if source is not None:
            sock.bind((source, 0))
        sock.connect((ip, PORT))
        return sock.recv(64).decode()
    except OSError:
        return None
    finally:
        sock.close()


def _route_dev(netns: str, ip: str, source: str | None = None) -> str:
    argv = ["ip", "-n", netns, "-j", "route", "get", ip] + (["from", source] if source else [])
    return str(json.loads(nsclient.run(*argv))[0]["dev"])


@pytest.fixture
def listeners(layout: dict[str, Any]) -> Iterator[dict[str, _Listener]]:
    b1 = layout["site"]["backends"][0]
    made: dict[str, _Listener] = {}
    try:
        made["storage"] = _Listener(b1["netns"], b1["interfaces"][3]["ip"], b1["name"])
        made["backend"] = _Listener(b1["netns"], b1["interfaces"][0]["ip"], b1["name"])
        vault = layout["vault"]
        made["vault"] = _Listener(vault["netns"], vault["interfaces"][0]["ip"], "vault")
        yield made
    finally:
        for listener in made.values():
            listener.close()


def test_every_backend_has_its_extra_legs_in_the_kernel(layout: dict[str, Any]) -> None:
    for b in layout["site"]["backends"]:
        assert [(i["name"], i["subnet"]) for i in b["interfaces"]] == [
            ("eth0", "web-vpc/backend"), ("eth1", "web-vpc/mgmt"), ("eth2", "web-vpc/uplink"),
            ("eth3", "web-vpc/storage")]
        kernel = nsclient.addresses(b["netns"])  # independent read: ip -j addr
        for iface in b["interfaces"]:
            assert any(a.startswith(iface["ip"] + "/") for a in kernel[iface["name"]])
    assert layout["site"]["uses"] == ["idx"] and layout["idx"]["used_by"] == ["site"]


def test_a_request_leaves_by_the_uplink_leg_to_the_upstream(cp: ControlPlane,
                                                            layout: dict[str, Any]) -> None:
    site, idx = layout["site"], layout["idx"]
    idx_ip = idx["endpoint"]["ip"]
    for b in site["backends"]:
        assert _route_dev(b["netns"], idx_ip) == "eth2"  # the kernel's choice, not ours
    ep = f"http://{site['endpoint']['ip']}:80/anything"
    seen = set()
    for _ in range(12):  # round robin over site's two backends
        res = cp.cli("exec", "client", "--", "curl", "-s", "-m", "10", ep)
        answer = json.loads(res.stdout)
        assert answer["status"] == 200 and answer["upstream"] == "idx", answer
        assert answer["endpoint"] == f"{idx_ip}:80"
        seen.add(answer["path"][0])
        assert answer["path"][1] == idx["backends"][0]["name"]
        if len(seen) == 2:
            break
    assert seen == {b["name"] for b in site["backends"]}


def test_replies_leave_by_the_leg_the_request_came_in_on(layout: dict[str, Any],
                                                         listeners: dict[str, _Listener]) -> None:
    b1 = layout["site"]["backends"][0]
    eth0, eth1, _, eth3 = (i["ip"] for i in b1["interfaces"])
    vault_ns, vault_ip = layout["vault"]["netns"], layout["vault"]["interfaces"][0]["ip"]
    # vault (web-vpc/vault, routed) reaches the storage leg: the reply must leave by eth3,
    # for eth0's segment is provider internal and the router drops what comes from it
    assert _hello(vault_ns, eth3) == b1["name"]
    assert _route_dev(b1["netns"], vault_ip) == "eth0"  # the default route...
    assert _route_dev(b1["netns"], vault_ip, source=eth3) == "eth3"  # ...but not for replies
    # the listener on eth0 is alive (a sibling reaches it on the backend segment)...
    sibling = layout["site"]["backends"][1]["netns"]
    assert _hello(sibling, eth0) == b1["name"]
    # ...and vault reaches neither it nor the management agent
    assert _hello(vault_ns, eth0) is None
    assert not nsclient.can_connect(vault_ns, eth1, AGENT_PORT)
    # outward: a routed peer behind the storage leg is reached from the storage address only
    assert _hello(b1["netns"], vault_ip) is None
    assert _hello(b1["netns"], vault_ip, source=eth3) == "vault"


def test_the_customer_reaches_no_address_of_a_backend(layout: dict[str, Any],
                                                      listeners: dict[str, _Listener]) -> None:
    client = layout["client"]["netns"]
    b1 = layout["site"]["backends"][0]
    assert nsclient.can_connect(client, layout["site"]["endpoint"]["ip"], 80)
    for iface in b1["interfaces"]:
        port = AGENT_PORT if iface["name"] == "eth1" else PORT
        assert not nsclient.can_connect(client, iface["ip"], port), iface
    # each of those listeners answers where it should: the storage leg from vault (above),
    # the agent from the management network's router
    router = next(n["router"] for n in layout["networks"] if n["name"] == "web-vpc")
    assert nsclient.can_connect(router, b1["interfaces"][1]["ip"], AGENT_PORT)


def test_force_deletes_the_upstream_with_its_users(cp: ControlPlane,
                                                   layout: dict[str, Any]) -> None:
    """Last (it deletes both appliances): idx is used by site, so a plain delete is refused;
    the operator's --force takes site along (a cascade), and every namespace of both goes from
    the kernel while the instances stay."""
    site, idx = layout["site"], layout["idx"]
    before = nsclient.facade_netns()
    res = cp.cli("appliance", "delete", "idx", check=False)
    assert res.returncode != 0 and "used by site" in res.stderr, res.stderr
    assert nsclient.facade_netns() == before
    res = cp.cli("appliance", "delete", "idx", "--force")
    assert "deleted appliance idx and its users site" in res.stdout, res.stdout
    nodes = [site["frontend"], *site["backends"], idx["frontend"], *idx["backends"]]
    assert not {n["netns"] for n in nodes} & nsclient.facade_netns()
    assert cp.items("/v1/appliances") == []
    assert {layout["client"]["netns"], layout["vault"]["netns"]} <= nsclient.facade_netns()
