"""The provider network's edge on the kernel (docs/edge.md): external hosts on the intermediate
network, public gateways, standard and customer public addresses, a remap, outbound NAT.

Two tenants with the same private ranges (acme and evil, both 10.0.0.0/16 with 10.0.1.0/24);
acme's and evil's networks are public gateways, quiet-vpc (acme's) is not. Every check is a
real TCP connection: test-side servers listen inside the instances' and external hosts'
namespaces and answer with their name and the address they saw the client come from, so both
directions of the NAT are read on the far side. What must not be reachable is tried too: a
private address from the Internet, an instance without a public address, the gateway itself,
an address after it was disassociated.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.mgmt_agent import token

pytestmark = pytest.mark.root

PORT = 8080


def hello(netns: str, ip: str, timeout: float = 1.0) -> tuple[str, str] | None:
    """(server name, the client address it saw) over a new connection, or None."""
    said = nsclient.greeting(netns, ip, PORT, timeout)
    return said if isinstance(said, tuple) else None


NETWORKS = [
    {"name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16", "public_gateway": True,
     "subnets": [{"name": "app", "cidr": "10.0.1.0/24"},
                 {"name": "vault", "cidr": "10.0.9.0/24", "internet": False}]},
    {"name": "evil-vpc", "account": "evil", "cidr": "10.0.0.0/16", "public_gateway": True,
     "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]},
    {"name": "quiet-vpc", "account": "acme", "cidr": "10.9.0.0/16",
     "subnets": [{"name": "app", "cidr": "10.9.1.0/24"}]},
    {"name": "search-vpc", "account": "searchco", "cidr": "10.0.0.0/16", "public_gateway": True,
     "subnets": [{"name": "backend", "cidr": "10.0.1.0/24"},
                 {"name": "mgmt", "cidr": "10.0.200.0/24"}]},
]


@pytest.fixture(scope="module")
def world(cp: ControlPlane) -> Iterator[dict[str, Any]]:
    for account in ("acme", "evil", "searchco"):
        assert cp.api("POST", "/v1/accounts", json={"name": account}).status_code == 201
    for body in NETWORKS:
        r = cp.api("POST", "/v1/networks", json=body)
        assert r.status_code == 201, r.text
    out = cp.cli("instance", "create", "web", "-a", "acme", "-i", "acme-vpc/app",
                 "--public-ip").stdout
    assert "public 203.0.113." in out, out
    for name, account, subnet in (("db", "acme", "acme-vpc/app"), ("spare", "acme", "acme-vpc/app"),
                                  ("hidden", "acme", "quiet-vpc/app"),
                                  ("safe", "acme", "acme-vpc/vault")):
        cp.cli("instance", "create", name, "-a", account, "-i", subnet)
    r = cp.api("POST", "/v1/instances", json={
        "name": "evil-web", "account": "evil", "interfaces": [{"subnet": "evil-vpc/app"}],
        "public_ip": True})
    assert r.status_code == 201, r.text
    r = cp.api("POST", "/v1/services", json={
        "name": "search", "account": "searchco", "workload": "http-echo", "port": 80,
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"})
    assert r.status_code == 201, r.text
    out = cp.cli("appliance", "create", "docs", "-a", "acme", "--service", "search",
                 "--subnet", "acme-vpc/app", "--backends", "1").stdout
    assert "ready" in out, out
    out = cp.cli("external", "create", "laptop", "-a", "acme").stdout
    assert "created external host laptop (198.18.0.2)" in out, out
    tokens = {a: token(cp, a) for a in ("acme", "evil")}
    nodes = {n: cp.get(f"/v1/instances/{n}") for n in ("web", "db", "spare", "hidden",
                                                       "evil-web", "safe")}
    nodes["laptop"] = cp.get("/v1/externals/laptop")
    servers = [nsclient.Greeter(node["netns"], name, PORT) for name, node in nodes.items()]
    try:
        yield {"nodes": nodes, "tokens": tokens,
               "networks": {n["name"]: cp.get(f"/v1/networks/{n['name']}") for n in NETWORKS}}
    finally:
        for server in servers:
            server.close()


def _ns(world: dict[str, Any], name: str) -> str:
    return str(world["nodes"][name]["netns"])


def _private(world: dict[str, Any], name: str) -> str:
    return str(world["nodes"][name]["interfaces"][0]["ip"])


def test_a_standard_public_address_reaches_its_instance_from_the_internet(
        world: dict[str, Any]) -> None:
    laptop = _ns(world, "laptop")
    web_pub = world["nodes"]["web"]["public_ips"][0]
    evil_pub = world["nodes"]["evil-web"]["public_ips"][0]
    assert web_pub != evil_pub
    # the same private address in two tenants, told apart by their public ones
    assert _private(world, "web") == _private(world, "evil-web")
    assert hello(laptop, web_pub) == ("web", "198.18.0.2")  # the client's own address
    assert hello(laptop, evil_pub) == ("evil-web", "198.18.0.2")


def test_the_topology_shows_gateways_public_addresses_and_external_hosts(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    out = cp.cli("topology", token=world["tokens"]["acme"]).stdout
    gateway_ip = world["networks"]["acme-vpc"]["gateway_ip"]
    assert f"public gateway {gateway_ip}" in out, out
    assert f"public {world['nodes']['web']['public_ips'][0]}" in out, out
    assert "laptop  198.18.0.2" in out and "evil-web" not in out, out


def test_an_instance_reaches_out_with_its_public_address(world: dict[str, Any]) -> None:
    web_pub = world["nodes"]["web"]["public_ips"][0]
    assert hello(_ns(world, "web"), "198.18.0.2") == ("laptop", web_pub)


def test_nothing_private_is_reachable_from_the_internet(world: dict[str, Any]) -> None:
    laptop = _ns(world, "laptop")
    for name in ("web", "db", "hidden"):
        assert hello(laptop, _private(world, name), timeout=0.5) is None, name
    gateway_ip = world["networks"]["acme-vpc"]["gateway_ip"]
    assert not nsclient.can_connect(laptop, gateway_ip, PORT)
    assert not nsclient.can_connect(laptop, gateway_ip, 9700)  # the agent's port
    # an instance without a public address cannot reach out: no outbound NAT asked for
    assert hello(_ns(world, "db"), "198.18.0.2", timeout=0.5) is None
    assert hello(_ns(world, "hidden"), "198.18.0.2", timeout=0.5) is None  # no gateway at all


def test_outbound_nat_lets_the_others_out_with_the_gateways_address(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    r = cp.api("PATCH", "/v1/networks/acme-vpc", json={"outbound_nat": True},
               token=world["tokens"]["acme"])
    assert r.status_code == 200 and r.json()["outbound_nat"] is True, r.text
    gateway_ip = r.json()["gateway_ip"]
    try:
        got = cp.wait_for(lambda: hello(_ns(world, "db"), "198.18.0.2", timeout=0.3), 5,
                          "db reaching out")
        assert got == ("laptop", gateway_ip)
        # still nothing in: outbound NAT opens no inbound path
        assert hello(_ns(world, "laptop"), _private(world, "db"), timeout=0.5) is None
        # a private subnet of the same network has no route to the Internet at all
        assert hello(_ns(world, "safe"), "198.18.0.2", timeout=0.5) is None
        # ... but reaches its network's other subnet, through the same router
        assert hello(_ns(world, "safe"), _private(world, "db")) == ("db", _private(world, "safe"))
    finally:
        r = cp.api("PATCH", "/v1/networks/acme-vpc", json={"outbound_nat": False})
        assert r.status_code == 200, r.text
    cp.wait_for(lambda: hello(_ns(world, "db"), "198.18.0.2", timeout=0.3) is None, 5,
                "db cut off again")


def test_a_customer_address_is_allocated_associated_remapped_and_released(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    acme = world["tokens"]["acme"]
    laptop = _ns(world, "laptop")
    address = cp.cli("ip", "allocate", token=acme).stdout.strip()
    assert address.startswith("203.0.113."), address
    assert hello(laptop, address, timeout=0.5) is None  # not associated yet
    cp.cli("ip", "associate", address, "--instance", "spare", token=acme)
    assert hello(laptop, address) == ("spare", "198.18.0.2")
    held = nsclient.ns_socket(laptop)  # a connection open across the remap
    held.settimeout(2)
    held.connect((address, PORT))
    assert held.recv(100).startswith(b"spare ")
    started = time.monotonic()
    cp.cli("ip", "associate", address, "--instance", "db", token=acme)  # the remap
    returned = time.monotonic()
    got = cp.wait_for(lambda: hello(laptop, address, timeout=0.3), 5, "the remap")
    assert got == ("db", "198.18.0.2")
    print(f"remap: call {returned - started:.3f} s, new target answering "
          f"{time.monotonic() - returned:.3f} s after it returned")
    # the old connection ends cleanly: its next packet reaches db, which resets it
    with pytest.raises(ConnectionResetError):
        held.sendall(b"still there?")
        for _ in range(10):
            if not held.recv(100):
                raise ConnectionResetError("closed")
    held.close()
    r = cp.api("DELETE", f"/v1/public-ips/{address}", token=acme)
    assert r.status_code == 409 and "disassociate it first" in r.json()["error"]["message"], r.text
    cp.cli("ip", "disassociate", address, token=acme)
    cp.wait_for(lambda: hello(laptop, address, timeout=0.3) is None, 5, "disassociation")
    cp.cli("ip", "release", address, token=acme)
    assert address not in cp.cli("ip", "list", token=acme).stdout


def test_bad_requests_are_refused_with_nothing_changed(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    acme, evil = world["tokens"]["acme"], world["tokens"]["evil"]
    mine = cp.api("POST", "/v1/public-ips", json={}, token=acme).json()["address"]
    before = cp.items("/v1/public-ips")
    try:
        # another account's address: the same 404 as one that does not exist
        for addr in (mine, "203.0.113.250", "8.8.8.8"):
            r = cp.api("POST", f"/v1/public-ips/{addr}/associate",
                       json={"instance": "evil-web"}, token=evil)
            assert r.status_code == 404 and r.json()["error"]["where"] == "address", r.text
        r = cp.api("POST", f"/v1/public-ips/{mine}/associate", json={"instance": "evil-web"},
                   token=acme)  # an instance of another account
        assert r.status_code == 404 and r.json()["error"]["where"] == "instance", r.text
        r = cp.api("POST", f"/v1/public-ips/{mine}/associate", json={"instance": "hidden"},
                   token=acme)  # in a network without a public gateway
        assert r.status_code == 409 and "quiet-vpc" in r.json()["error"]["message"], r.text
        r = cp.api("POST", f"/v1/public-ips/{mine}/associate", json={"instance": "web"},
                   token=acme)  # web's eth0 has its standard address
        assert r.status_code == 409 and "already has public address" in r.json()["error"]["message"]
        r = cp.api("POST", f"/v1/public-ips/{mine}/associate",
                   json={"instance": "db", "iface": "eth3"}, token=acme)
        assert r.status_code == 400 and r.json()["error"]["where"] == "iface", r.text
        r = cp.api("POST", "/v1/ip-pools", json={"cidr": "198.18.4.0/24"})
        assert r.status_code == 409 and "intermediate network" in r.json()["error"]["message"], r.text
        r = cp.api("POST", "/v1/ip-pools", json={"cidr": "198.51.100.0/24"}, token=acme)
        assert r.status_code == 403, r.text
        r = cp.api("POST", "/v1/instances", json={
            "name": "nope", "account": "acme", "interfaces": [{"subnet": "quiet-vpc/app"}],
            "public_ip": True}, token=acme)
        assert r.status_code == 409 and "quiet-vpc" in r.json()["error"]["message"], r.text
        assert cp.items("/v1/public-ips") == before
        assert cp.api("GET", "/v1/instances/nope").status_code == 404
    finally:
        assert cp.api("DELETE", f"/v1/public-ips/{mine}", token=acme).status_code == 204


def test_an_external_host_runs_commands_and_sees_only_its_own(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    res = cp.cli("exec", "laptop", "--", "ip", "-4", "-o", "addr", "show", "eth0",
                 token=world["tokens"]["acme"])
    assert "198.18.0.2/15" in res.stdout, res.stdout
    r = cp.api("GET", "/v1/externals/laptop", token=world["tokens"]["evil"])
    assert r.status_code == 404, r.text
    assert [x["name"] for x in cp.items("/v1/externals", token=world["tokens"]["evil"])] == []


def test_a_standard_address_goes_with_its_instance(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    laptop = _ns(world, "laptop")
    evil_pub = world["nodes"]["evil-web"]["public_ips"][0]
    assert hello(laptop, evil_pub) is not None
    cp.cli("instance", "delete", "evil-web")
    assert evil_pub not in [p["address"] for p in cp.items("/v1/public-ips")]
    cp.wait_for(lambda: hello(laptop, evil_pub, timeout=0.3) is None, 5, "evil-web's address gone")
    r = cp.api("PATCH", "/v1/networks/acme-vpc", json={"public_gateway": False})
    assert r.status_code == 409 and world["nodes"]["web"]["public_ips"][0] in r.json()["error"]["message"]


def test_an_appliances_endpoint_gets_a_public_face_and_its_backends_stay_private(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    acme = world["tokens"]["acme"]
    laptop = _ns(world, "laptop")
    address = cp.cli("ip", "allocate", token=acme).stdout.strip()
    out = cp.cli("ip", "associate", address, "--appliance", "docs", token=acme).stdout
    app = cp.get("/v1/appliances/docs")
    assert f"appliance docs ({app['endpoint']['ip']})" in out, out
    status, _, body = nsclient.http(laptop, address, 80, "GET", "/")
    assert (status, body) == (200, b"docs-b1\n")  # http-echo answers with its node's name
    backend = app["backends"][0]
    for leg in backend["interfaces"]:  # no path to a backend, not even through the gateway
        assert not nsclient.can_connect(laptop, leg["ip"], 80)
    # searchco's gateway translates nothing of docs: its backends have no public face
    search_gw = world["networks"]["search-vpc"]["gateway_ip"]
    assert not nsclient.can_connect(laptop, search_gw, 80)
    cp.cli("appliance", "delete", "docs", token=acme)
    row = cp.get(f"/v1/public-ips/{address}")
    assert row["associated"] is None and row["account"] == "acme"  # the customer keeps it
    cp.wait_for(lambda: not nsclient.can_connect(laptop, address, 80), 5, "docs gone")
    cp.cli("ip", "release", address, token=acme)


def _sink(netns: str, port: int, answer: int) -> tuple[threading.Thread, dict[str, int]]:
    """A server in `netns` that reads one connection to its end, then sends `answer` bytes;
    what it put on the wire at most (`_most_sent`)."""
    srv = nsclient.ns_socket(netns)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(5)
    got = {"bytes": 0, "most_sent": 0}

    def serve() -> None:
        with srv:
            conn, _ = srv.accept()
            with conn:
                conn.settimeout(5)
                while chunk := conn.recv(1 << 16):
                    got["bytes"] += len(chunk)
                conn.sendall(b"y" * answer)
                conn.shutdown(socket.SHUT_WR)
                got["most_sent"] = _most_sent(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, got


# the kernel's struct tcp_info (since Linux 4.19): tcpi_unacked, tcpi_segs_out,
# tcpi_notsent_bytes (u32) and tcpi_bytes_sent (u64, retransmissions included) at these offsets
UNACKED, SEGS_OUT, NOTSENT, BYTES_SENT = 24, 136, 144, 200
MOST_HEADERS = 20 + 40  # an IPv4 header and a TCP header with the most options (a SYN's)


def _most_sent(sock: socket.socket) -> int:
    """The most IP bytes a socket's packets can have put on the wire, from the kernel's own
    count (TCP_INFO) once everything it sent is acknowledged (waited for, 5 s at most): its
    payload, retransmissions included, and a header of the largest kind per segment, with
    two more segments for what may follow (its last ACK, a FIN). A router counts fewer
    headers when segments travel together (GSO), never more."""
    deadline = time.monotonic() + 5
    while True:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
        (unacked,) = struct.unpack_from("I", info, UNACKED)
        (notsent,) = struct.unpack_from("I", info, NOTSENT)
        if unacked == notsent == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    (segs,) = struct.unpack_from("I", info, SEGS_OUT)
    (sent,) = struct.unpack_from("Q", info, BYTES_SENT)
    return int(sent + MOST_HEADERS * (segs + 2))


def _transfer(client_ns: str, server_ns: str, ip: str, up: int, down: int
              ) -> tuple[int, int]:
    """`up` bytes of payload from client_ns to ip:9090 (served in server_ns), `down` back; the
    most IP bytes each way (`_most_sent` of the client, of the server)."""
    thread, got = _sink(server_ns, 9090, down)
    sock = nsclient.ns_socket(client_ns)
    sock.settimeout(5)
    with sock:
        sock.connect((ip, 9090))
        sock.sendall(b"x" * up)
        sock.shutdown(socket.SHUT_WR)
        back = 0
        while chunk := sock.recv(1 << 16):
            back += len(chunk)
        most_up = _most_sent(sock)
    thread.join(5)
    assert (got["bytes"], back) == (up, down)
    return most_up, got["most_sent"]


def _usage(cp: ControlPlane, address: str, token: str) -> dict[str, Any]:
    """The usage of the address's last allocation (an address released by an earlier test
    may come back)."""
    rows = cp.get(f"/v1/usage/public-ips?address={address}", token=token)["items"]
    assert rows and all(r["held_until"] for r in rows[:-1]), rows
    return dict(rows[-1])


def test_bytes_through_the_gateway_are_metered_per_address_across_a_remap(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    """Real traffic from an external host through a customer address, before and after a
    remap: the gateway's counters (read in the kernel) and the metered usage (the API) both
    count it, in and out: at least the payload, at most what the two ends' kernels say they
    put on the wire (`_most_sent`: payload, retransmissions, a header per segment); the
    address's hours run from allocation to release."""
    acme = world["tokens"]["acme"]
    laptop = _ns(world, "laptop")
    address = cp.cli("ip", "allocate", token=acme).stdout.strip()
    cp.cli("ip", "associate", address, "--instance", "spare", token=acme)
    up, down = 3_000_000, 1_000_000
    most_in, most_out = _transfer(laptop, _ns(world, "spare"), address, up, down)
    router = world['networks']['acme-vpc']['router']
    counters = {c["counter"]["name"]: c["counter"]["bytes"]
                for c in nsclient.nft_ruleset(router)["nftables"] if "counter" in c}
    mine = {name: n for name, n in counters.items() if name.startswith("pip")
            and n >= up // 3}  # this address's pair (the others carried only greetings)
    inbound = [n for name, n in mine.items() if name.endswith("_in")]
    outbound = [n for name, n in mine.items() if name.endswith("_out")]
    assert len(inbound) == 1 and up <= inbound[0] <= most_in, (counters, most_in)
    assert len(outbound) == 1 and down <= outbound[0] <= most_out, (counters, most_out)
    cp.cli("ip", "associate", address, "--instance", "db", token=acme)  # the remap
    again_in, again_out = _transfer(laptop, _ns(world, "db"), address, up, down)
    use = cp.wait_for(lambda: (u := _usage(cp, address, acme))["bytes_in"] >= 2 * up and u,
                      10, "the metered bytes of both targets")
    assert 2 * up <= use["bytes_in"] <= most_in + again_in, (use, most_in + again_in)
    assert 2 * down <= use["bytes_out"] <= most_out + again_out, (use, most_out + again_out)
    assert use["account"] == "acme" and use["kind"] == "customer"
    cp.cli("ip", "disassociate", address, token=acme)
    cp.cli("ip", "release", address, token=acme)
    held = Decimal(_usage(cp, address, "")["ip_hours"])  # the operator sees it after release
    time.sleep(0.05)
    assert held == Decimal(_usage(cp, address, "")["ip_hours"]) > 0  # it stopped at release
    print(f"metered {use['bytes_in']:,} B in / {use['bytes_out']:,} B out for "
          f"{2 * up:,} / {2 * down:,} B of payload; held {held} h")
