"""The linux DataPlane driver against the real kernel, checked through an independent path
(`ip -j`, `nft -j`, real TCP connections), not through the driver's own observe()."""

from __future__ import annotations

import os
import socket
import time

import pytest

from facade.dataplane.linux import DataPlaneError, LinuxDataPlane, linkcount
from facade.dataplane.linux import netns as driver_netns
from facade.domain.specs import FrontendSpec, NodeSpec, PortSpec, Probe, ProcessSpec, SubnetSpec
from tests.integration import driver_fixtures
from tests.integration.driver_fixtures import (
    driver_facade_netns,
    driver_json,
    driver_netns_list,
    driver_run,
    driver_server_argv,
    driver_wait,
    needs_root,
)

pytestmark = [pytest.mark.root, needs_root]
driver_dp = driver_fixtures.driver_dp
driver_host_guard = driver_fixtures.driver_host_guard

FABRIC = "fcd-fabric"
PORT = 8080


def _addrs(ns: str) -> set[tuple[str, str]]:
    data = driver_json("ip", "-n", ns, "-j", "addr")
    assert isinstance(data, list)
    return {(lk["ifname"], f"{a['local']}/{a['prefixlen']}")
            for lk in data for a in lk.get("addr_info", []) if a["family"] == "inet"
            and lk["ifname"] != "lo"}


def _fabric_links() -> dict[str, dict]:
    data = driver_json("ip", "-n", FABRIC, "-j", "-d", "link")
    assert isinstance(data, list)
    return {lk["ifname"]: lk for lk in data}


def _kernel_dump(ns: str) -> dict[str, object]:
    return {
        "addr": driver_json("ip", "-n", ns, "-j", "addr"),
        "route": driver_json("ip", "-n", ns, "-j", "route", "show", "table", "all"),
        "rule": driver_json("ip", "-n", ns, "-j", "rule"),
        "nft": driver_json("ip", "netns", "exec", ns, "nft", "-j", "list", "ruleset"),
        "link": [{k: v for k, v in lk.items() if k != "stats64"}
                 for lk in driver_json("ip", "-n", ns, "-j", "-d", "link")],  # type: ignore
    }


def _map_backends(ns: str) -> set[str]:
    data = driver_json("ip", "netns", "exec", ns, "nft", "-j", "list", "map", "ip", "fcd_fe",
                       "backends")
    assert isinstance(data, dict)
    for obj in data["nftables"]:
        if "map" in obj:
            return {e[1] for e in obj["map"].get("elem", [])}
    raise AssertionError("no map")


# --------------------------------------------------------------------------- 1
def test_two_instances_on_one_subnet(driver_dp: LinuxDataPlane) -> None:
    dp = driver_dp
    dp.ensure_subnet(SubnetSpec("fcdb9001", "10.9.1.0/24"))
    a = NodeSpec("fcd-i9001-a", "instance",
                 (PortSpec("fcdv90011", "fcdb9001", "eth0", "10.9.1.11/24", "10.9.1.1"),))
    b = NodeSpec("fcd-i9002-b", "instance",
                 (PortSpec("fcdv90021", "fcdb9001", "eth0", "10.9.1.12/24", "10.9.1.1"),))
    dp.ensure_node(a)
    dp.ensure_node(b)

    assert {"fcd-fabric", "fcd-i9001-a", "fcd-i9002-b"} <= driver_netns_list()
    links = _fabric_links()
    # the segment's ports, counted without parsing (linkcount), as iproute2 lists them
    assert dp.observe_subnet("fcdb9001") == 2 == sum(
        1 for lk in links.values() if lk.get("master") == "fcdb9001")
    assert linkcount.count("fcd-fabric") == len(links)
    assert links["fcdb9001"]["linkinfo"]["info_kind"] == "bridge"
    assert "UP" in links["fcdb9001"]["flags"]
    for host in ("fcdv90011", "fcdv90021"):
        assert links[host]["linkinfo"]["info_kind"] == "veth"
        assert links[host]["master"] == "fcdb9001"
        assert "UP" in links[host]["flags"]
    assert _addrs("fcd-i9001-a") == {("eth0", "10.9.1.11/24")}
    assert _addrs("fcd-i9002-b") == {("eth0", "10.9.1.12/24")}
    routes = driver_json("ip", "-n", "fcd-i9001-a", "-j", "route")
    assert {"dst": "default", "gateway": "10.9.1.1"}.items() <= routes[0].items() \
        or any(r.get("dst") == "default" and r.get("gateway") == "10.9.1.1" for r in routes)

    # (not `python3 -m http.server`: it calls getfqdn() before listening, which waits for a
    # DNS timeout in a namespace without a resolver)
    pid = dp.start_process(ProcessSpec("web-b", "fcd-i9002-b",
                                       driver_server_argv("b", "10.9.1.12", PORT)))
    assert pid > 0
    result = driver_wait(lambda: (r := dp.http_request("fcd-i9001-a", "10.9.1.12", PORT,
                                                       timeout=1.0)).ok and r)
    assert result, "the server in b never answered a"
    assert result.status == 200 and result.body == "b 10.9.1.11"
    assert result.headers.get("content-type") == "text/plain"
    # an independent client: curl inside a
    # (these nodes have no sandbox: the host's root runs it, in the node's network only)
    out = dp.exec("fcd-i9001-a", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  f"http://10.9.1.12:{PORT}/"], timeout=10, host=True)
    assert out.returncode == 0 and out.stdout == "200"
    # batched HTTP checks keep their connection: three checks, one connection (ss in a)
    check = Probe("fcd-i9001-a", "10.9.1.12", PORT, 1.0, path="/")
    for _ in range(3):
        assert dp.probe_many([check])[0].detail == "HTTP 200"
    assert _established("fcd-i9001-a", PORT) == 1
    # the server restarted: the kept connection is dead, the check makes a new one and passes
    dp.stop_process("web-b")
    dp.start_process(ProcessSpec("web-b", "fcd-i9002-b", driver_server_argv("b", "10.9.1.12",
                                                                             PORT)))
    assert driver_wait(lambda: dp.tcp_probe("fcd-i9001-a", "10.9.1.12", PORT, timeout=1).ok)
    assert dp.probe_many([check])[0].detail == "HTTP 200"
    assert _established("fcd-i9001-a", PORT) == 1
    # an answer that arrived while the checking thread was held up (a busy control plane)
    # counts, though the check's deadline passed meanwhile: only what has not come times out
    from facade.dataplane.linux import prober

    send = prober.Prober._send

    def held_up(self: prober.Prober, c: object, sel: object) -> None:
        send(self, c, sel)  # type: ignore[arg-type]
        time.sleep(0.3)  # the answer comes meanwhile; the deadline (0.1 s) passes

    prober.Prober._send = held_up  # type: ignore[method-assign]
    try:
        late = dp.probe_many([Probe("fcd-i9001-a", "10.9.1.12", PORT, 0.1, path="/")])[0]
    finally:
        prober.Prober._send = send  # type: ignore[method-assign]
    assert late.detail == "HTTP 200", late
    pid = dp.observe().processes["web-b"].pid
    # processes are observed, then stopped
    assert dp.observe().processes["web-b"].pid == pid
    dp.stop_process("web-b")
    assert "web-b" not in dp.observe().processes
    assert dp.tcp_probe("fcd-i9001-a", "10.9.1.12", PORT, timeout=1).detail == \
        "connection refused"
    # exec in a missing namespace
    missing = dp.exec("fcd-i9999-none", ["true"])
    assert missing.returncode == 255 and "fcd-i9999-none" in missing.stderr
    assert not dp.tcp_probe("fcd-i9999-none", "10.9.1.12", PORT).ok


def _established(netns: str, port: int) -> int:
    """Established TCP connections to `port` seen from inside `netns` (`ss`)."""
    out = driver_run("ip", "netns", "exec", netns, "ss", "-Htn", "state", "established",
                     "dst", f":{port}")
    return len([line for line in out.splitlines() if line.strip()])


# --------------------------------------------------------------------------- 2
CUST, BACK, MGMT = "fcdb9101", "fcdb9102", "fcdb9103"
FE_NS, CLIENT_NS = "fcd-i9101-fe", "fcd-i9105-cl"
ENDPOINT, FE_BACK, FE_MGMT = "10.0.1.5", "10.0.1.200", "10.0.200.5"
BACKENDS = {f"fcd-i910{i + 2}-be{i}": (f"10.0.1.{11 + i}", f"10.0.200.{11 + i}")
            for i in range(3)}


def _frontend_spec() -> NodeSpec:
    return NodeSpec(FE_NS, "frontend", (
        PortSpec("fcdv91011", CUST, "eth0", f"{ENDPOINT}/24", "10.0.1.1"),
        PortSpec("fcdv91012", BACK, "eth1", f"{FE_BACK}/24"),
        PortSpec("fcdv91013", MGMT, "eth2", f"{FE_MGMT}/24", "10.0.200.1"),
    ), FrontendSpec(customer_if="eth0", backend_if="eth1", endpoint=ENDPOINT, port=PORT))


def _appliance(dp: LinuxDataPlane) -> None:
    for bridge, cidr in ((CUST, "10.0.1.0/24"), (BACK, "10.0.1.0/24"), (MGMT, "10.0.200.0/24")):
        dp.ensure_subnet(SubnetSpec(bridge, cidr))
    dp.ensure_node(_frontend_spec())
    for k, (ns, (ip, mip)) in enumerate(BACKENDS.items()):
        dp.ensure_node(NodeSpec(ns, "backend", (
            PortSpec(f"fcdv9110{k}", BACK, "eth0", f"{ip}/24"),
            PortSpec(f"fcdv9120{k}", MGMT, "eth1", f"{mip}/24", "10.0.200.1"))))
    dp.ensure_node(NodeSpec(CLIENT_NS, "instance", (
        PortSpec("fcdv91051", CUST, "eth0", "10.0.1.50/24", "10.0.1.1"),)))


def _who(dp: LinuxDataPlane) -> tuple[str, str] | None:
    r = dp.http_request(CLIENT_NS, ENDPOINT, PORT, timeout=1.0)
    if not r.ok:
        return None
    name, client = r.body.split()
    return name, client


def _line_conn() -> socket.socket:
    sock = driver_netns.socket_in(CLIENT_NS, socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(2.0)
    sock.connect((ENDPOINT, PORT))
    return sock


def _ping(sock: socket.socket) -> str:
    sock.sendall(b"PING\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1024)
        assert chunk, "connection closed"
        data += chunk
    return data.decode().strip()


def test_frontend_load_balances_over_overlapping_subnets(driver_dp: LinuxDataPlane) -> None:
    dp = driver_dp
    _appliance(dp)  # how fast: bench/driver_timing.py, not a timed test (docs/benchmarks.md)

    # kernel state, independently
    rules = driver_run("ip", "-n", FE_NS, "rule")
    assert "fwmark 0x1 lookup 101" in rules and f"from {FE_BACK} lookup 101" in rules
    table101 = driver_json("ip", "-n", FE_NS, "-j", "route", "show", "table", "101")
    assert any(r["dst"] == "10.0.1.0/24" and r["dev"] == "eth1" and r.get("prefsrc") == FE_BACK
               for r in table101)
    main = driver_json("ip", "-n", FE_NS, "-j", "route")
    assert not any(r.get("dev") == "eth1" for r in main), "backend leg leaked into main table"
    assert driver_run("ip", "netns", "exec", FE_NS, "sysctl", "-n",
                      "net.ipv4.ip_forward").strip() == "1"
    assert _map_backends(FE_NS) == set()

    for ns in BACKENDS:
        dp.start_process(ProcessSpec(f"srv-{ns}", ns, driver_server_argv(ns, "0.0.0.0", PORT)))
    for ns in BACKENDS:
        assert driver_wait(lambda ns=ns: dp.tcp_probe(ns, "127.0.0.1", PORT, timeout=0.5).ok)

    # empty rotation: fast refusal, not a timeout
    t = time.perf_counter()
    r = dp.http_request(CLIENT_NS, ENDPOINT, PORT, timeout=2.0)
    assert not r.ok and r.detail == "connection refused"
    assert time.perf_counter() - t < 0.5

    dp.set_backends(FE_NS, tuple(ip for ip, _ in BACKENDS.values()))
    assert _map_backends(FE_NS) == {ip for ip, _ in BACKENDS.values()}
    seen = [_who(dp) for _ in range(12)]
    assert all(seen), seen
    assert {s[0] for s in seen if s} == set(BACKENDS)
    assert {s[1] for s in seen if s} == {FE_BACK}, "backends must see the front-end's address"

    # the customer reaches nothing but the endpoint's port
    forbidden = [ip for ip, _ in BACKENDS.values()] + [mip for _, mip in BACKENDS.values()] \
        + [FE_BACK, FE_MGMT]
    for ip in forbidden:
        assert not dp.tcp_probe(CLIENT_NS, ip, PORT, timeout=0.3).ok, ip
    assert not dp.tcp_probe(CLIENT_NS, ENDPOINT, 22, timeout=0.3).ok
    added = dp.exec(CLIENT_NS, ["ip", "route", "add", "10.0.200.0/24", "via", ENDPOINT],
                    host=True)
    assert added.returncode == 0, added.stderr
    for ip in [mip for _, mip in BACKENDS.values()] + [FE_MGMT]:
        r = dp.tcp_probe(CLIENT_NS, ip, PORT, timeout=0.3)
        assert not r.ok and r.detail == "timed out", (ip, r)

    # a change of rotation keeps an established connection to a remaining backend
    conn = _line_conn()
    try:
        first = _ping(conn).split()
        assert first[0] == "PONG" and first[2] == FE_BACK
        kept = first[1]
        other = next(ns for ns in BACKENDS if ns != kept)
        subset = {kept, other}
        dp.set_backends(FE_NS, tuple(BACKENDS[ns][0] for ns in subset))
        assert _map_backends(FE_NS) == {BACKENDS[ns][0] for ns in subset}
        names = {w[0] for w in (_who(dp) for _ in range(8)) if w}
        assert names == subset
        assert _ping(conn).split()[1] == kept
    finally:
        conn.close()

    # the rotation survives a re-ensure of the front-end
    dp.ensure_node(_frontend_spec())
    assert _map_backends(FE_NS) == {BACKENDS[ns][0] for ns in subset}
    assert dp.observe().nodes[FE_NS].backends == tuple(sorted(BACKENDS[ns][0] for ns in subset))

    dp.set_backends(FE_NS, ())
    assert _map_backends(FE_NS) == set()
    r = dp.http_request(CLIENT_NS, ENDPOINT, PORT, timeout=2.0)
    assert not r.ok and r.detail == "connection refused"


# --------------------------------------------------------------------------- 3
def test_ensure_node_is_idempotent_and_observed(driver_dp: LinuxDataPlane) -> None:
    dp = driver_dp
    dp.ensure_subnet(SubnetSpec("fcdb9201", "10.9.2.0/24"))
    dp.ensure_subnet(SubnetSpec("fcdb9202", "10.9.2.0/24"))
    dp.ensure_subnet(SubnetSpec("fcdb9203", "10.9.3.0/24"))
    fe = NodeSpec("fcd-i9201-fe", "frontend", (
        PortSpec("fcdv92011", "fcdb9201", "eth0", "10.9.2.5/24", "10.9.2.1"),
        PortSpec("fcdv92012", "fcdb9202", "eth1", "10.9.2.200/24"),
        PortSpec("fcdv92013", "fcdb9203", "eth2", "10.9.3.5/24", "10.9.3.1"),
    ), FrontendSpec("eth0", "eth1", "10.9.2.5", 80))
    dp.ensure_node(fe)
    dp.set_backends("fcd-i9201-fe", ("10.9.2.11", "10.9.2.12"))
    before = _kernel_dump("fcd-i9201-fe")
    fabric_before = _fabric_links()
    dp.ensure_node(fe)
    dp.ensure_subnet(SubnetSpec("fcdb9201", "10.9.2.0/24"))
    assert _kernel_dump("fcd-i9201-fe") == before
    assert _fabric_links().keys() == fabric_before.keys()
    assert {k: v["ifindex"] for k, v in _fabric_links().items()} == \
        {k: v["ifindex"] for k, v in fabric_before.items()}

    rules = driver_run("ip", "-n", "fcd-i9201-fe", "rule")
    assert "from 10.9.3.5 lookup 102" in rules
    table102 = driver_json("ip", "-n", "fcd-i9201-fe", "-j", "route", "show", "table", "102")
    assert any(r["dst"] == "default" and r["gateway"] == "10.9.3.1" for r in table102)

    obs = dp.observe()
    assert {"fcdb9201", "fcdb9202", "fcdb9203"} <= obs.subnets
    node = obs.nodes["fcd-i9201-fe"]
    assert node.fingerprint == fe.fingerprint()
    assert node.addresses == {("eth0", "10.9.2.5/24"), ("eth1", "10.9.2.200/24"),
                              ("eth2", "10.9.3.5/24")}
    assert node.backends == ("10.9.2.11", "10.9.2.12")

    # drift is repaired: an address removed behind the driver's back comes back
    driver_run("ip", "-n", "fcd-i9201-fe", "addr", "del", "10.9.3.5/24", "dev", "eth2")
    dp.ensure_node(fe)
    assert ("eth2", "10.9.3.5/24") in _addrs("fcd-i9201-fe")

    # a port dropped from the spec is removed, in the node and in the fabric
    smaller = NodeSpec("fcd-i9201-fe", "frontend", fe.ports[:2], fe.frontend)
    dp.ensure_node(smaller)
    assert _addrs("fcd-i9201-fe") == {("eth0", "10.9.2.5/24"), ("eth1", "10.9.2.200/24")}
    assert "fcdv92013" not in _fabric_links()
    assert "lookup 102" not in driver_run("ip", "-n", "fcd-i9201-fe", "rule")
    assert dp.observe().nodes["fcd-i9201-fe"].fingerprint == smaller.fingerprint()
    assert _map_backends("fcd-i9201-fe") == {"10.9.2.11", "10.9.2.12"}

    # a port on a bridge that does not exist is refused clearly
    bad = NodeSpec("fcd-i9202-x", "instance",
                   (PortSpec("fcdv92021", "fcdb9299", "eth0", "10.9.9.5/24"),))
    with pytest.raises(DataPlaneError, match="fcdb9299"):
        dp.ensure_node(bad)


# --------------------------------------------------------------------------- 4
def test_delete_node_subnet_and_cleanup(driver_dp: LinuxDataPlane,
                                        driver_host_guard: set[str]) -> None:
    dp = driver_dp
    dp.ensure_subnet(SubnetSpec("fcdb9301", "10.9.30.0/24"))
    dp.ensure_subnet(SubnetSpec("fcdb9302", "10.9.31.0/24"))
    n1 = NodeSpec("fcd-i9301-a", "instance", (
        PortSpec("fcdv93011", "fcdb9301", "eth0", "10.9.30.11/24"),
        PortSpec("fcdv93012", "fcdb9302", "eth1", "10.9.31.11/24")))
    n2 = NodeSpec("fcd-i9302-b", "instance", (
        PortSpec("fcdv93021", "fcdb9301", "eth0", "10.9.30.12/24"),))
    dp.ensure_node(n1)
    dp.ensure_node(n2)
    pid = dp.start_process(ProcessSpec("sleeper", "fcd-i9301-a", ("sleep", "60")))
    assert driver_wait(lambda: "sleeper" in dp.observe().processes)

    with pytest.raises(DataPlaneError, match="still has ports"):
        dp.delete_subnet("fcdb9302")

    driver_fixtures.driver_delete_node(dp, "fcd-i9301-a")
    dp.delete_node("fcd-i9301-a")  # gone already: success
    assert "fcd-i9301-a" not in driver_netns_list()
    links = _fabric_links()
    assert "fcdv93011" not in links and "fcdv93012" not in links and "fcdv93021" in links
    assert driver_wait(lambda: not _alive(pid), timeout=3)
    assert "sleeper" not in dp.observe().processes

    dp.delete_subnet("fcdb9302")
    dp.delete_subnet("fcdb9302")
    assert "fcdb9302" not in _fabric_links()

    if driver_host_guard:
        pytest.skip("other Facade namespaces exist on this host: cleanup() not exercised")
    dp.start_process(ProcessSpec("sleeper2", "fcd-i9302-b", ("sleep", "60")))
    removed = dp.cleanup()
    assert "netns fcd-i9302-b" in removed and "netns fcd-fabric" in removed
    assert driver_facade_netns() == set()
    assert dp.observe().processes == {}
    assert dp.cleanup() == []  # safe when nothing exists


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --------------------------------------------------------------------------- 5
def test_a_node_made_before_sandboxes_is_made_again_in_one(driver_dp: LinuxDataPlane) -> None:
    """An upgrade: a node whose network namespace Facade made for itself (no sandbox) is asked
    for with a sandbox. Its network then belongs to the sandbox's user namespace (the tenant
    is root there), its address is back, its port is guarded, and a process runs as the
    node's uid in the node's cgroups."""
    from facade.domain.specs import SandboxSpec

    dp = driver_dp
    dp.ensure_subnet(SubnetSpec("fcdb9401", "10.9.40.0/24"))
    port = PortSpec("fcdv94011", "fcdb9401", "eth0", "10.9.40.11/24", "10.9.40.1",
                    mac="02:94:0a:09:28:0b")
    old = NodeSpec("fcd-i9401-up", "instance", (port,))
    dp.ensure_node(old)
    assert not dp.observe().nodes["fcd-i9401-up"].own_network
    uid = 0x10000000 + 7 * 65536
    box = SandboxSpec(uid=uid, hostname="up", memory=64 << 20, pids=32, cpu_weight=100)
    new = NodeSpec("fcd-i9401-up", "instance", (port,), sandbox=box)
    dp.ensure_node(new)
    seen = dp.observe().nodes["fcd-i9401-up"]
    assert seen.own_network and seen.guarded and ("eth0", "10.9.40.11/24") in seen.addresses
    out = dp.exec("fcd-i9401-up", ["sh", "-c", "id -u; ip route add 192.0.2.0/24 dev eth0 "
                                               "&& echo routed"])
    assert out.stdout.split() == ["0", "routed"], out
    pid = dp.start_process(ProcessSpec("up-sleeper", "fcd-i9401-up", ("sleep", "30"),
                                       sandboxed=True))
    with open(f"/proc/{pid}/status") as fh:
        assert f"Uid:\t{uid}\t" in fh.read()
    with open(f"/proc/{pid}/cgroup") as fh:
        assert "/fcd-i9401-up" in fh.read()
    assert ("fcdv94011", "02:94:0a:09:28:0b", "10.9.40.11") in {
        tuple(e.split(" . ")) for e in _guard_elements()}
    dp.delete_node("fcd-i9401-up")
    assert driver_wait(lambda: not _alive(pid), timeout=3)
    assert not _guard_elements()


def test_a_deleted_nodes_ports_go_with_its_namespace_or_after_a_while(
        driver_dp: LinuxDataPlane, monkeypatch: pytest.MonkeyPatch) -> None:
    """delete_node leaves the ports to the kernel's teardown of the namespace and node_gone
    says when they have gone; a namespace something still holds (here an open descriptor)
    keeps its ports, which node_gone deletes itself once TEARDOWN_S has passed."""
    from facade.dataplane.linux import nodes

    dp = driver_dp
    dp.ensure_subnet(SubnetSpec("fcdb9601", "10.9.60.0/24"))
    for n in (1, 2):
        dp.ensure_node(NodeSpec(f"fcd-i960{n}-t", "instance",
                                (PortSpec(f"fcdv960{n}1", "fcdb9601", "eth0", f"10.9.60.1{n}/24"),)))
    # nothing holds the first: its port goes with it, without anyone deleting the port
    dp.delete_node("fcd-i9601-t")
    assert driver_wait(lambda: dp.node_gone("fcd-i9601-t"), timeout=5)
    assert "fcdv96011" not in _fabric_links()
    # the second is held open: its port outlives the deletion until TEARDOWN_S has passed
    monkeypatch.setattr(nodes, "TEARDOWN_S", 0.5)
    held = os.open("/run/netns/fcd-i9602-t", os.O_RDONLY)
    try:
        dp.delete_node("fcd-i9602-t")
        assert not dp.node_gone("fcd-i9602-t")
        assert "fcdv96021" in _fabric_links()  # the namespace lives on: so does its port
        assert driver_wait(lambda: dp.node_gone("fcd-i9602-t"), timeout=3)
        assert "fcdv96021" not in _fabric_links()  # deleted by node_gone
        assert dp.node_gone("fcd-i9602-t")  # and forgotten
    finally:
        os.close(held)
    dp.delete_subnet("fcdb9601")


def _guard_elements() -> list[str]:
    import json

    listing = json.loads(driver_fixtures.driver_run("ip", "netns", "exec", "fcd-fabric", "nft", "-j",
                                             "list", "set", "bridge", "fcd_guard", "addrs"))
    out = []
    for obj in listing["nftables"]:
        for elem in obj.get("set", {}).get("elem", []):
            out.append(" . ".join(str(v) for v in elem["concat"]))
    return out


# --------------------------------------------------------------------------- 6
def test_a_name_left_without_its_namespace_is_made_again(driver_dp: LinuxDataPlane) -> None:
    """A control plane killed between making /run/netns/NAME and binding the new namespace
    on it leaves an empty file: not a namespace (observe skips it), and neither ensure_node nor
    cleanup trips over it."""
    dp = driver_dp
    dp.ensure_subnet(SubnetSpec("fcdb9501", "10.9.50.0/24"))
    stale = "/run/netns/fcd-i9501-stale"
    open(stale, "w").close()
    assert not driver_netns.exists("fcd-i9501-stale")
    assert "fcd-i9501-stale" not in dp.observe().nodes
    node = NodeSpec("fcd-i9501-stale", "instance",
                    (PortSpec("fcdv95011", "fcdb9501", "eth0", "10.9.50.11/24"),))
    dp.ensure_node(node)
    assert dp.observe().nodes["fcd-i9501-stale"].addresses == {("eth0", "10.9.50.11/24")}
    dp.delete_node("fcd-i9501-stale")
    open(stale, "w").close()
    dp.delete_node("fcd-i9501-stale")  # a name alone is removed too
    assert not os.path.lexists(stale)


# --------------------------------------------------------------------------- 7
def test_a_sandbox_a_crash_left_without_a_name_is_collected(driver_dp: LinuxDataPlane) -> None:
    """A control plane killed while a node's init was starting leaves a bwrap (and its init)
    whose network namespace never got its name: nothing else leads to it. The next control
    plane collects it at start (`adopt`); a node's sandbox that has its name is left alone."""
    import subprocess

    from facade.domain.specs import SandboxSpec

    dp = driver_dp
    dp.ensure_subnet(SubnetSpec("fcdb9601", "10.9.60.0/24"))
    box = SandboxSpec(uid=0x10000000 + 8 * 65536, hostname="kept", memory=64 << 20, pids=32,
                      cpu_weight=100)
    dp.ensure_node(NodeSpec("fcd-i9601-kept", "instance", (
        PortSpec("fcdv96011", "fcdb9601", "eth0", "10.9.60.11/24", mac="02:96:0a:09:3c:0b"),),
        sandbox=box))
    # the node's init as a launch finds it: started again if bwrap gave up right after it
    # said its pid (seen under load: "loopback: Failed RTM_NEWADDR"; the node is whole, and
    # its init is started again by the next launch into it)
    kept = dp._sandboxes._ensure_init("fcd-i9601-kept", box)
    assert _alive(kept)
    bridge = dp._sandboxes.bridge.path(dp._sandboxes.nodes_dir / "fcd-i9601-kept" / "fs",
                                       readonly=False)
    orphan = subprocess.Popen(["bwrap", "--unshare-net", "--unshare-pid", "--ro-bind", "/", "/",
                               "--ro-bind", bridge, "/mnt", "--", "sleep", "60"],
                              start_new_session=True)
    try:
        assert driver_wait(lambda: any("sleep" in _cmdline(p) for p in _children_of(orphan.pid)))
        removed = dp.adopt()
        assert f"process {orphan.pid}" in removed
        assert orphan.wait(timeout=5) != 0
        assert _alive(kept)  # the named node's init is not an orphan
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_a_program_a_crash_left_unrecorded_is_collected(driver_dp: LinuxDataPlane) -> None:
    """A control plane killed between starting a program and writing its pidfile leaves it
    running with nothing that records it; the next would start a second one (a backend
    then ran two workloads). `adopt` kills it: a sandboxed one found through its bwrap, one
    of Facade's own through the intent file written before it starts. Recorded programs and
    the node's init stay."""
    import json
    import subprocess

    dp = driver_dp
    _sandboxed_instance(dp, 97, "crashy")
    kept = dp.start_process(ProcessSpec("crashy-kept", "fcd-i9701-crashy", ("sleep", "61"),
                                        sandboxed=True))
    # the init this launch joined (it starts the init again if bwrap gave up on the first
    # right after saying its pid: seen under load, "loopback: Failed RTM_NEWADDR")
    init = dp._sandboxes._init_pid("fcd-i9701-crashy")
    own = dp.start_process(ProcessSpec("crashy-own", "fcd-i9701-crashy", ("sleep", "62")))
    assert not list(dp._procs.run_dir.glob("*.starting"))  # removed once recorded
    # the starts a crash cut short: launched, never recorded
    lost = dp._sandboxes.launch("fcd-i9701-crashy", ["sleep", "63"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                die_with_parent=False)
    (dp._procs.run_dir / "crashy-lost.starting").write_text(
        json.dumps({"netns": "fcd-i9701-crashy", "argv": ["sleep", "64"]}))
    lost_own = subprocess.Popen(["ip", "netns", "exec", "fcd-i9701-crashy", "sleep", "64"],
                                start_new_session=True)
    try:
        assert lost.pid is not None
        assert driver_wait(lambda: _cmdline(lost_own.pid).startswith("sleep"))
        removed = dp.adopt()
        assert f"process {lost.pid}" in removed and f"process {lost_own.pid}" in removed
        assert driver_wait(lambda: not _alive(lost.pid), timeout=3)
        assert lost_own.wait(timeout=5) != 0
        init_log = dp._sandboxes._dir("fcd-i9701-crashy") / "init.log"
        assert init is not None and _alive(init), (removed, init_log.read_text())
        assert _alive(kept) and _alive(own), removed
        assert not list(dp._procs.run_dir.glob("*.starting"))
        assert dp.adopt() == []  # nothing else was unknown
    finally:
        for popen in (lost.monitor, lost_own):
            if popen.poll() is None:
                popen.kill()
            popen.wait()


def _children_of(pid: int) -> list[int]:
    import os

    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline") as fh:
            return fh.read()
    except OSError:
        return ""


def test_a_sandbox_starts_from_a_mount_namespace_without_the_named_namespaces(
        driver_dp: LinuxDataPlane) -> None:
    """Every bwrap starts in the plane's launch namespace (sandbox_mounts.py): the host's
    mounts without /run/netns, where each named namespace is a mount that bwrap would copy.
    A namespace named after it was made does not reach it either; the bridge mounts do, and
    the plane's cleanup unmounts it and removes its folder."""
    from facade.dataplane.linux.sandbox_bridge import mounted_below
    dp = driver_dp
    _sandboxed_instance(dp, 98, "lean")
    pin = dp._sandboxes.mounts.pin
    later = "fcd-i9802-later"
    driver_netns.create(later)
    try:
        pid = dp.start_process(ProcessSpec("lean-sleeper", "fcd-i9801-lean", ("sleep", "30"),
                                           sandboxed=True))
        host = _mount_points("/proc/self/mountinfo")
        assert {"/run/netns/fcd-i9801-lean", f"/run/netns/{later}"} <= host
        seen = driver_run("nsenter", f"--mount={pin}", "cat", "/proc/self/mountinfo")
        inside = {line.split()[4] for line in seen.splitlines()}
        # no named namespace's mount (/run/netns/NAME); /run/netns itself may remain where
        # the host's own bind of it lies under the sandbox's /run, out of reach of a path
        assert not {p for p in inside if p.startswith("/run/netns/")}, inside
        assert str(dp._sandboxes.bridge.root / "launch") in inside  # the host's others are
        assert len(inside) < len(host)
        assert driver_wait(lambda: _cmdline(pid).startswith("sleep"))  # and it runs
    finally:
        driver_netns.remove(later)
    dp.stop_process("lean-sleeper")
    dp.delete_node("fcd-i9801-lean")
    dp._sandboxes.bridge.remove()
    assert pin not in mounted_below(pin) and not pin.parent.exists()


def _mount_points(path: str) -> set[str]:
    with open(path) as fh:
        return {line.split()[4] for line in fh}


def _sandboxed_instance(dp: LinuxDataPlane, n: int, name: str) -> str:
    """An instance in a sandbox of its own on a subnet of its own (fcdb9N01, 10.9.N0.0/24;
    its uid range the (N - 88)th), as the control plane makes one; its namespace's name."""
    from facade.domain.specs import SandboxSpec

    dp.ensure_subnet(SubnetSpec(f"fcdb{n}01", f"10.9.{n - 90}0.0/24"))
    box = SandboxSpec(uid=0x10000000 + (n - 88) * 65536, hostname=name, memory=64 << 20,
                      pids=32, cpu_weight=100)
    netns = f"fcd-i{n}01-{name}"
    dp.ensure_node(NodeSpec(netns, "instance", (
        PortSpec(f"fcdv{n}011", f"fcdb{n}01", "eth0", f"10.9.{n - 90}0.11/24",
                 mac=f"02:{n}:0a:09:{(n - 90) * 10:02x}:0b"),), sandbox=box))
    return netns
