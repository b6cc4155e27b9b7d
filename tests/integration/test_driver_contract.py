"""The DataPlane contract: one suite run against both drivers, the fake and the linux one.

Every test asks the same questions of `dp` (FakeDataPlane, then LinuxDataPlane in real
namespaces when run as root) and expects the same answers: what the controller reads back
(observe_*, inventory), how "make it so" behaves (twice is once, deleting what is gone is
success), which requests fail and with which kind (Retry or Fatal, leaving nothing behind), and
what the probes say of a listening or a closed port. Each answer is also checked against an
independent view (`look`, driver_looks.py): the kernel for linux, the fake's memory for the fake.
A difference between the drivers is a bug of the fake unless the linux driver is wrong.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

import pytest

from facade.dataplane.errors import DataPlaneError, Kind
from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.linux import LinuxDataPlane
from facade.dataplane.protocol import DataPlane
from facade.domain import workload
from facade.domain.names import FABRIC_NETNS
from facade.domain.specs import (
    FrontendSpec,
    Inventory,
    NodeSpec,
    ObservedNode,
    ObservedProcess,
    PortRuleSpec,
    PortSpec,
    Probe,
    ProcessSpec,
    RulesObservation,
    SandboxSpec,
    SubnetSpec,
    port_rules_fingerprint,
)
from tests.integration import driver_fixtures
from tests.integration.driver_fixtures import (
    driver_delete_node,
    driver_server_argv,
    driver_wait,
    needs_root,
)
from tests.integration.driver_looks import (
    FakeLook,
    KernelLook,
    Look,
    mine,
)

driver_dp = driver_fixtures.driver_dp
driver_host_guard = driver_fixtures.driver_host_guard

PORT = 8080


@pytest.fixture(params=["fake", pytest.param("linux", marks=[pytest.mark.root, needs_root])])
def dp(request: pytest.FixtureRequest) -> DataPlane:
    if request.param == "fake":
        return FakeDataPlane()
    linux: DataPlane = request.getfixturevalue("driver_dp")
    return linux


@pytest.fixture
def look(dp: DataPlane, request: pytest.FixtureRequest) -> Look:
    if isinstance(dp, FakeDataPlane):
        return FakeLook(dp, others=set())
    assert isinstance(dp, LinuxDataPlane)
    return KernelLook(others=set(request.getfixturevalue("driver_host_guard")))


def _raises(kind: Kind, call: Callable[[], object], match: str | None = None
            ) -> DataPlaneError:
    with pytest.raises(DataPlaneError, match=match) as info:
        call()
    assert info.value.kind is kind, f"{info.value} is {info.value.kind}, not {kind}"
    return info.value


def _port(node: int, k: int, bridge: str, address: str, gateway: str | None = None,
          mac: str | None = None) -> PortSpec:
    return PortSpec(f"fcdv97{node:02d}{k}", bridge, f"eth{k}", address, gateway, mac)


def _instance(node: int, *ports: PortSpec) -> NodeSpec:
    return NodeSpec(f"fcd-i97{node:02d}-n", "instance", ports)


def _subnets(dp: DataPlane, *bridges: tuple[str, str]) -> None:
    for bridge, cidr in bridges:
        dp.ensure_subnet(SubnetSpec(bridge, cidr))


# --------------------------------------------------------------------------- subnets
def test_a_subnet_is_made_once_observed_and_deleted(dp: DataPlane, look: Look) -> None:
    bridge = "fcdb9701"
    assert dp.observe_subnet(bridge) is None and not dp.has_subnet(bridge)
    dp.delete_subnet(bridge)  # nothing to delete: success
    for _ in range(2):  # twice is once
        dp.ensure_subnet(SubnetSpec(bridge, "10.97.1.0/24"))
        assert dp.observe_subnet(bridge) == 0 and dp.has_subnet(bridge)
        assert mine(dp.inventory()) == Inventory(subnets=frozenset({bridge}))
        assert bridge in dp.observe().subnets
        assert look.bridges() == {bridge} and look.bridge_ports(bridge) == set()
    for _ in range(2):  # deleting what is gone is success
        dp.delete_subnet(bridge)
        assert dp.observe_subnet(bridge) is None and not dp.has_subnet(bridge)
        assert mine(dp.inventory()) == Inventory()
        assert look.bridges() == set()


def test_a_subnet_with_ports_is_not_deleted(dp: DataPlane, look: Look) -> None:
    _subnets(dp, ("fcdb9702", "10.97.2.0/24"))
    dp.ensure_node(_instance(2, _port(2, 0, "fcdb9702", "10.97.2.11/24")))
    _raises(Kind.RETRY, lambda: dp.delete_subnet("fcdb9702"), "still has ports")
    assert dp.observe_subnet("fcdb9702") == 1 and look.bridges() == {"fcdb9702"}
    assert dp.has_subnet("fcdb9702")
    driver_delete_node(dp, "fcd-i9702-n")
    dp.delete_subnet("fcdb9702")
    assert mine(dp.inventory()) == Inventory() and look.bridges() == set()


# --------------------------------------------------------------------------- nodes
B1, B2, B3 = "fcdb9711", "fcdb9712", "fcdb9713"
MAC = "02:97:0a:61:0b:0b"
BOX = SandboxSpec(uid=0x10000000 + 9 * 65536, hostname="contract", memory=64 << 20, pids=32,
                  cpu_weight=100)


def _kinds() -> dict[str, NodeSpec]:
    """One node of every kind the controller makes, each with two ports or more."""
    return {
        "instance": NodeSpec("fcd-i9711-inst", "instance", (
            _port(11, 0, B1, "10.97.11.11/24", "10.97.11.1"),
            _port(11, 1, B3, "10.97.13.11/24", "10.97.13.1"))),
        "router": NodeSpec("fcd-i9712-rt", "router", (
            _port(12, 0, B1, "10.97.11.1/24"),
            _port(12, 1, B3, "10.97.13.1/24")), isolated=("eth0",)),
        "frontend": NodeSpec("fcd-i9713-fe", "frontend", (
            _port(13, 0, B1, "10.97.11.5/24", "10.97.11.1"),
            _port(13, 1, B2, "10.97.11.200/24"),
            _port(13, 2, B3, "10.97.13.5/24", "10.97.13.1")),
            FrontendSpec("eth0", "eth1", "10.97.11.5", PORT)),
        "tenant": NodeSpec("fcd-i9714-ten", "backend", (
            _port(14, 0, B2, "10.97.11.14/24", mac=MAC),
            _port(14, 1, B3, "10.97.13.14/24", "10.97.13.1", mac="02:97:0a:61:0d:0e")),
            sandbox=BOX),
        # the port guard knows a port by its MAC: a tenant none of whose ports has one is
        # observed unguarded by both drivers (the service always gives one)
        "tenant-without-macs": NodeSpec("fcd-i9715-ten", "backend", (
            _port(15, 0, B2, "10.97.11.15/24"),
            _port(15, 1, B3, "10.97.13.15/24", "10.97.13.1")), sandbox=BOX),
    }


def _expected(spec: NodeSpec, backends: tuple[str, ...] = ()) -> ObservedNode:
    tenant = spec.sandbox is not None and spec.sandbox.own_network
    return ObservedNode(
        netns=spec.netns, fingerprint=spec.fingerprint(),
        addresses=frozenset((p.ifname, p.address) for p in spec.ports),
        backends=backends if spec.frontend is not None else None,
        own_network=tenant, ports=frozenset(p.ifname for p in spec.ports),
        guarded=tenant and any(p.mac for p in spec.ports),
        tunnels=frozenset(t.ifname for t in spec.tunnels))


def _check_node(dp: DataPlane, look: Look, spec: NodeSpec) -> None:
    """The node is observed as `spec` says, in one look and in the world's, and is there."""
    want = _expected(spec)
    assert dp.observe_node(spec.netns) == want
    assert dp.observe().nodes[spec.netns] == want
    assert look.addresses(spec.netns) == set(want.addresses)
    for bridge in (B1, B2, B3):
        hosts = {p.host for p in spec.ports if p.bridge == bridge}
        assert dp.observe_subnet(bridge) == len(hosts)
        assert look.bridge_ports(bridge) == hosts
    assert look.rotation(spec.netns) == (set() if spec.frontend else None)


@pytest.mark.parametrize("kind", list(_kinds()))
def test_a_node_is_observed_as_specified(dp: DataPlane, look: Look, kind: str) -> None:
    spec = _kinds()[kind]
    _subnets(dp, (B1, "10.97.11.0/24"), (B2, "10.97.11.0/24"), (B3, "10.97.13.0/24"))
    assert dp.observe_node(spec.netns) is None and not dp.has_node(spec.netns)
    for _ in range(2):  # twice is once: the same node, nothing more
        dp.ensure_node(spec)
        _check_node(dp, look, spec)
        assert dp.has_node(spec.netns)
        assert mine(dp.inventory()) == Inventory(namespaces=frozenset({spec.netns}),
                                                 subnets=frozenset({B1, B2, B3}))
        # without segments: the same names, the segments left out
        assert mine(dp.inventory(segments=False)) == Inventory(
            namespaces=frozenset({spec.netns}))
        assert look.namespaces() == {spec.netns}

    # a port left out of the spec is removed, in the node and from its segment
    smaller = dataclasses.replace(spec, ports=spec.ports[:-1], isolated=tuple(
        i for i in spec.isolated if i in {p.ifname for p in spec.ports[:-1]}))
    dp.ensure_node(smaller)
    _check_node(dp, look, smaller)

    for _ in range(2):  # deleting what is gone is success
        dp.delete_node(spec.netns)
        assert dp.observe_node(spec.netns) is None and not dp.has_node(spec.netns)
        # its ports go with its namespace a moment later: node_gone says when
        assert driver_wait(lambda: dp.node_gone(spec.netns))
        assert spec.netns not in dp.observe().nodes
        assert mine(dp.inventory()) == Inventory(subnets=frozenset({B1, B2, B3}))
        assert look.namespaces() == set()
        assert all(dp.observe_subnet(b) == 0 and look.bridge_ports(b) == set()
                   for b in (B1, B2, B3))
    dp.delete_node("fcd-i9799-never")
    assert dp.node_gone("fcd-i9799-never")


# --------------------------------------------------------------------------- front-ends
def test_a_front_ends_rotation_is_set_kept_and_refused_elsewhere(dp: DataPlane,
                                                                  look: Look) -> None:
    _subnets(dp, (B1, "10.97.11.0/24"), (B2, "10.97.11.0/24"), (B3, "10.97.13.0/24"))
    fe = _kinds()["frontend"]
    inst = _instance(16, _port(16, 0, B1, "10.97.11.16/24"))
    dp.ensure_node(fe)
    dp.ensure_node(inst)
    assert dp.observe_node(fe.netns) == _expected(fe, backends=())

    dp.set_backends(fe.netns, ("10.97.11.12", "10.97.11.11"))
    want = ("10.97.11.11", "10.97.11.12")  # observed sorted
    assert dp.observe_node(fe.netns) == _expected(fe, backends=want)
    assert look.rotation(fe.netns) == set(want)
    dp.ensure_node(fe)  # a front-end made again keeps its rotation
    assert dp.observe_node(fe.netns) == _expected(fe, backends=want)
    assert look.rotation(fe.netns) == set(want)

    # not a front-end, or not an address: Fatal, and nothing changes
    _raises(Kind.FATAL, lambda: dp.set_backends(inst.netns, ("10.97.11.11",)))
    assert dp.observe_node(inst.netns) == _expected(inst) and look.rotation(inst.netns) is None
    _raises(Kind.FATAL, lambda: dp.set_backends(fe.netns, ("10.97.11.999",)))
    assert dp.observe_node(fe.netns) == _expected(fe, backends=want)
    assert look.rotation(fe.netns) == set(want)
    # no such node (yet): Retry
    _raises(Kind.RETRY, lambda: dp.set_backends("fcd-i9799-none", ("10.97.11.11",)))
    assert "fcd-i9799-none" not in look.namespaces()

    dp.set_backends(fe.netns, ())
    assert dp.observe_node(fe.netns) == _expected(fe, backends=())
    assert look.rotation(fe.netns) == set()

    # a front-end made into an instance loses its rules; made a front-end again, it starts
    # with an empty rotation
    dp.set_backends(fe.netns, want)
    plain = NodeSpec(fe.netns, "instance", fe.ports)
    dp.ensure_node(plain)
    assert dp.observe_node(fe.netns) == _expected(plain)
    assert look.rotation(fe.netns) is None
    _raises(Kind.FATAL, lambda: dp.set_backends(fe.netns, want))
    dp.ensure_node(fe)
    assert dp.observe_node(fe.netns) == _expected(fe, backends=())
    assert look.rotation(fe.netns) == set()


# --------------------------------------------------------------------------- bad requests
def _bad_specs() -> dict[str, NodeSpec]:
    good = _port(21, 0, B1, "10.97.11.21/24", "10.97.11.1")
    ns = "fcd-i9721-bad"
    fe = FrontendSpec("eth0", "eth1", "10.97.11.21", PORT)
    two = (good, _port(21, 1, B2, "10.97.11.221/24"))
    return {
        "ifname-too-long": NodeSpec(ns, "instance", (
            dataclasses.replace(good, ifname="eth0-much-too-long"),)),
        "host-name-too-long": NodeSpec(ns, "instance", (
            dataclasses.replace(good, host="fcdv9721-much-too-long"),)),
        "ifname-with-slash": NodeSpec(ns, "instance", (dataclasses.replace(good, ifname="a/b"),)),
        "bad-address": NodeSpec(ns, "instance", (
            dataclasses.replace(good, address="10.97.11.300/24"),)),
        "bad-gateway": NodeSpec(ns, "instance", (dataclasses.replace(good, gateway="10.97"),)),
        "duplicate-ifname": NodeSpec(ns, "instance", (
            good, dataclasses.replace(two[1], ifname="eth0"))),
        "loopback-port": NodeSpec(ns, "instance", (dataclasses.replace(good, ifname="lo"),)),
        "not-a-facade-namespace": NodeSpec("tenant-9721", "instance", (good,)),
        "the-fabric": NodeSpec("fcd-fabric", "instance", (good,)),
        "frontend-spec-on-an-instance": NodeSpec(ns, "instance", two, fe),
        "frontend-without-its-spec": NodeSpec(ns, "frontend", two),
        "frontend-leg-not-a-port": NodeSpec(ns, "frontend", two,
                                            dataclasses.replace(fe, backend_if="eth7")),
        "isolated-leg-on-an-instance": NodeSpec(ns, "instance", two, isolated=("eth1",)),
        "isolated-leg-not-a-port": NodeSpec(ns, "router", two, isolated=("eth7",)),
    }


@pytest.mark.parametrize("case", list(_bad_specs()))
def test_a_bad_node_spec_is_fatal_and_leaves_nothing(dp: DataPlane, look: Look,
                                                     case: str) -> None:
    spec = _bad_specs()[case]
    # checked before anything else: Fatal even without a fabric (not "no bridge": Retry)
    _raises(Kind.FATAL, lambda: dp.ensure_node(spec))
    _subnets(dp, (B1, "10.97.11.0/24"), (B2, "10.97.11.0/24"))
    _raises(Kind.FATAL, lambda: dp.ensure_node(spec))
    assert dp.observe_node(spec.netns) is None
    assert mine(dp.inventory()) == Inventory(subnets=frozenset({B1, B2}))
    assert look.namespaces() == set()
    assert dp.observe_subnet(B1) == 0 and look.bridge_ports(B1) == set()


def test_a_bad_spec_for_a_node_that_exists_changes_nothing(dp: DataPlane, look: Look) -> None:
    _subnets(dp, (B1, "10.97.11.0/24"))
    good = _instance(22, _port(22, 0, B1, "10.97.11.22/24", "10.97.11.1"))
    dp.ensure_node(good)
    bad = dataclasses.replace(good, ports=(dataclasses.replace(good.ports[0],
                                                               address="10.97.11.22/33"),))
    _raises(Kind.FATAL, lambda: dp.ensure_node(bad))
    assert dp.observe_node(good.netns) == _expected(good)
    assert look.addresses(good.netns) == {("eth0", "10.97.11.22/24")}


def test_a_bad_bridge_name_is_fatal(dp: DataPlane, look: Look) -> None:
    for name in ("fcdb9723-much-too-long", "fcdb97 23", ""):
        _raises(Kind.FATAL, lambda name=name: dp.ensure_subnet(SubnetSpec(name, "10.97.23.0/24")))
    assert mine(dp.inventory()) == Inventory() and look.bridges() == set()


def test_a_port_on_a_missing_bridge_is_retried_and_leaves_nothing(dp: DataPlane,
                                                                  look: Look) -> None:
    spec = _instance(24, _port(24, 0, B1, "10.97.11.24/24"))
    _raises(Kind.RETRY, lambda: dp.ensure_node(spec), "fabric|bridge")  # no fabric at all
    _subnets(dp, (B2, "10.97.11.0/24"))
    _raises(Kind.RETRY, lambda: dp.ensure_node(spec), B1)  # a fabric without that bridge
    assert dp.observe_node(spec.netns) is None
    assert mine(dp.inventory()) == Inventory(subnets=frozenset({B2}))
    assert look.namespaces() == set()
    # a node that exists and is asked for on a missing bridge stays as it was
    here = dataclasses.replace(spec, ports=(dataclasses.replace(spec.ports[0], bridge=B2),))
    dp.ensure_node(here)
    _raises(Kind.RETRY, lambda: dp.ensure_node(spec), B1)
    assert dp.observe_node(spec.netns) == _expected(here)
    assert look.bridge_ports(B2) == {here.ports[0].host}


# --------------------------------------------------------------------------- processes
def test_a_process_is_started_observed_restarted_and_stopped(dp: DataPlane,
                                                             look: Look) -> None:
    _subnets(dp, (B1, "10.97.11.0/24"))
    node = _instance(31, _port(31, 0, B1, "10.97.11.31/24"))
    dp.ensure_node(node)
    key = "c97-sleeper"
    assert dp.observe_process(key) is None
    assert dp.observe_process("c97-never-started") is None
    dp.stop_process("c97-never-started")  # stopping what does not run is success

    spec = ProcessSpec(key, node.netns, ("sleep", "60"))
    pid = dp.start_process(spec)
    assert pid > 0
    want = ObservedProcess(key=key, netns=node.netns, pid=pid, fingerprint=spec.fingerprint())
    assert dp.observe_process(key) == want
    assert dp.observe().processes[key] == want
    assert mine(dp.inventory()).processes == {key}
    assert look.running(pid)

    # started again under the same key: the old one is replaced, not joined
    again = dp.start_process(spec)
    assert again != pid
    assert dp.observe_process(key) == dataclasses.replace(want, pid=again)
    assert mine(dp.inventory()).processes == {key}
    assert driver_wait(lambda: not look.running(pid), timeout=3)
    assert look.running(again)

    for _ in range(2):
        dp.stop_process(key)
        assert dp.observe_process(key) is None
        assert key not in dp.observe().processes
        assert mine(dp.inventory()).processes == set()
        assert driver_wait(lambda: not look.running(again), timeout=3)

    # a node's processes end with it
    pid = dp.start_process(spec)
    dp.delete_node(node.netns)
    assert dp.observe_process(key) is None
    assert mine(dp.inventory()).processes == set()
    assert driver_wait(lambda: not look.running(pid), timeout=3)


def test_a_node_starts_its_early_processes_while_it_is_made(dp: DataPlane,
                                                            look: Look) -> None:
    """ensure_node's `start`: an early process (a built-in workload, bound with IP_FREEBIND
    before its node's address exists) runs when the node is made and answers on that
    address; one not early, or of another node, is left to start_process."""
    _subnets(dp, (B2, "10.97.11.0/24"), (B3, "10.97.13.0/24"))
    tenant = _kinds()["tenant"]
    ip = "10.97.11.14"
    argv = workload.builtin_argv(sys.executable, "http-echo", ip=ip, port=PORT, name="early",
                                 data_dir="/tmp", peers_file="")
    echo = ProcessSpec("c97-early", tenant.netns, tuple(argv), sandboxed=True, early=True)
    late = ProcessSpec("c97-late", tenant.netns, ("sleep", "60"), sandboxed=True)
    other = ProcessSpec("c97-other", "fcd-i9799-none", ("sleep", "60"), early=True)
    assert dp.ensure_node(tenant, (echo, late, other)) == {"c97-early"}
    first = dp.observe_process(echo.key)
    assert first is not None and first.fingerprint == echo.fingerprint()
    assert look.running(first.pid)
    assert dp.observe_process(late.key) is None and dp.observe_process(other.key) is None
    _answers(dp, tenant.netns, ip)  # the health engine's view, from inside the node
    # made again with it: started again as start_process would, never twice
    assert dp.ensure_node(tenant, (echo,)) == {"c97-early"}
    second = dp.observe_process(echo.key)
    assert second is not None and second.pid != first.pid
    assert mine(dp.inventory()).processes == {echo.key}
    assert driver_wait(lambda: not look.running(first.pid), timeout=3)
    _answers(dp, tenant.netns, ip)
    dp.delete_node(tenant.netns)
    assert dp.observe_process(echo.key) is None
    assert driver_wait(lambda: not look.running(second.pid), timeout=3)


def test_a_process_needs_its_node_and_a_sandbox_it_asks_for(dp: DataPlane,
                                                            look: Look) -> None:
    _raises(Kind.RETRY, lambda: dp.start_process(
        ProcessSpec("c97-orphan", "fcd-i9732-none", ("sleep", "60"))))
    _subnets(dp, (B1, "10.97.11.0/24"))
    plain = _instance(33, _port(33, 0, B1, "10.97.11.33/24"))
    dp.ensure_node(plain)
    # a tenant's program in a node made without a sandbox: nothing to retry until it changes
    _raises(Kind.FATAL, lambda: dp.start_process(
        ProcessSpec("c97-boxed", plain.netns, ("sleep", "60"), sandboxed=True)), "sandbox")
    assert dp.observe_process("c97-boxed") is None and dp.observe_process("c97-orphan") is None
    assert mine(dp.inventory()).processes == set()
    # exec: in the node's sandbox (there is none here) or as the host's root in its network
    assert dp.exec(plain.netns, ["true"]).returncode == 255
    assert dp.exec(plain.netns, ["true"], host=True).returncode == 0
    missing = dp.exec("fcd-i9732-none", ["true"], host=True)
    assert missing.returncode == 255 and "fcd-i9732-none" in missing.stderr


def test_a_tenants_program_runs_in_its_nodes_sandbox(dp: DataPlane, look: Look) -> None:
    _subnets(dp, (B2, "10.97.11.0/24"), (B3, "10.97.13.0/24"))
    tenant = _kinds()["tenant"]
    dp.ensure_node(tenant)
    spec = ProcessSpec("c97-tenant", tenant.netns, ("sleep", "60"), sandboxed=True)
    pid = dp.start_process(spec)
    assert dp.observe_process(spec.key) == ObservedProcess(spec.key, tenant.netns, pid,
                                                           spec.fingerprint())
    assert look.running(pid)
    assert dp.exec(tenant.netns, ["true"]).returncode == 0
    dp.delete_node(tenant.netns)
    assert dp.observe_process(spec.key) is None
    assert driver_wait(lambda: not look.running(pid), timeout=3)


# --------------------------------------------------------------------------- probes
def _both(netns: str, ip: str) -> list[Probe]:
    return [Probe(netns, ip, PORT, 1.0), Probe(netns, ip, PORT, 1.0, path="/")]


def _refused(dp: DataPlane, netns: str, ip: str) -> None:
    for r in (dp.tcp_probe(netns, ip, PORT, timeout=1.0),
              dp.http_request(netns, ip, PORT, timeout=1.0), *dp.probe_many(_both(netns, ip))):
        assert not r.ok and r.detail == "connection refused", r


def _answers(dp: DataPlane, netns: str, ip: str) -> None:
    assert driver_wait(lambda: dp.tcp_probe(netns, ip, PORT, timeout=1.0).ok), \
        f"{ip}:{PORT} never answered {netns}"
    assert dp.tcp_probe(netns, ip, PORT, timeout=1.0).detail == "connected"
    r = dp.http_request(netns, ip, PORT, timeout=1.0)
    assert r.ok and r.status == 200 and r.detail == "HTTP 200", r
    for _ in range(2):  # the second HTTP check may use the connection the first one kept
        tcp, http = dp.probe_many(_both(netns, ip))
        assert tcp.ok and tcp.detail == "connected", tcp
        assert http.ok and http.status == 200 and http.detail == "HTTP 200", http


def test_probes_see_a_listening_and_a_closed_port(dp: DataPlane, look: Look) -> None:
    _subnets(dp, (B1, "10.97.11.0/24"))
    server = _instance(41, _port(41, 0, B1, "10.97.11.41/24"))
    client = _instance(42, _port(42, 0, B1, "10.97.11.42/24"))
    dp.ensure_node(server)
    dp.ensure_node(client)
    ip = "10.97.11.41"
    _refused(dp, client.netns, ip)  # another node's port (the management agent's view)
    _refused(dp, server.netns, ip)  # its own address (the health engine's view)
    dp.start_process(ProcessSpec("c97-server", server.netns,
                                 driver_server_argv("s", "0.0.0.0", PORT)))
    _answers(dp, client.netns, ip)
    _answers(dp, server.netns, ip)
    dp.stop_process("c97-server")
    _refused(dp, client.netns, ip)
    _refused(dp, server.netns, ip)
    for r in (dp.tcp_probe("fcd-i9743-none", ip, PORT),
              dp.http_request("fcd-i9743-none", ip, PORT),
              *dp.probe_many(_both("fcd-i9743-none", ip))):
        assert not r.ok and r.detail == "no namespace fcd-i9743-none", r


def test_an_endpoint_answers_through_a_serving_backend(dp: DataPlane, look: Look) -> None:
    """What `ready` rests on: a request from the customer's side reaches the endpoint only
    while a backend in its rotation serves."""
    _subnets(dp, (B1, "10.97.11.0/24"), (B2, "10.97.11.0/24"))
    fe = NodeSpec("fcd-i9744-fe", "frontend", (
        _port(44, 0, B1, "10.97.11.5/24", "10.97.11.1"),
        _port(44, 1, B2, "10.97.11.200/24")), FrontendSpec("eth0", "eth1", "10.97.11.5", PORT))
    backend = _instance(45, _port(45, 0, B2, "10.97.11.45/24"))
    client = _instance(46, _port(46, 0, B1, "10.97.11.46/24", "10.97.11.1"))
    for spec in (fe, backend, client):
        dp.ensure_node(spec)
    dp.start_process(ProcessSpec("c97-backend", backend.netns,
                                 driver_server_argv("b", "0.0.0.0", PORT)))
    _answers(dp, backend.netns, "10.97.11.45")
    _refused(dp, client.netns, "10.97.11.5")  # empty rotation: refused at once
    dp.set_backends(fe.netns, ("10.97.11.45",))
    _answers(dp, client.netns, "10.97.11.5")
    dp.stop_process("c97-backend")  # in the rotation, but serving nothing
    _refused(dp, client.netns, "10.97.11.5")
    dp.set_backends(fe.netns, ())
    _refused(dp, client.netns, "10.97.11.5")


# --------------------------------------------------------------------------- security rules
RULES = (PortRuleSpec("egress", "deny", "tcp", "22", "0.0.0.0/0", 5),
         PortRuleSpec("ingress", "allow", "tcp", "80", "10.0.0.0/8", 10),
         PortRuleSpec("ingress", "deny", "any", None, "0.0.0.0/0", 20))


def test_port_rules_are_read_back_as_set(dp: DataPlane, look: Look) -> None:
    if FABRIC_NETNS in look.others:
        pytest.skip("a fabric exists already on this host: its rules are replaced as a whole")
    port = "fcdv97510"
    assert dp.observe_rules() == RulesObservation()  # no fabric: nothing read
    dp.set_port_rules({})  # nothing to remove: success
    _raises(Kind.RETRY, lambda: dp.set_port_rules({port: RULES}), "fabric")
    _subnets(dp, (B1, "10.97.11.0/24"))
    dp.ensure_node(_instance(51, _port(51, 0, B1, "10.97.11.51/24")))
    assert dp.observe_rules() == RulesObservation(seen={})
    for _ in range(2):
        dp.set_port_rules({port: RULES, "fcdv97999": ()})  # a port without rules has none
        assert dp.observe_rules() == RulesObservation(
            fingerprint=port_rules_fingerprint({port: RULES}), seen={port: RULES})
        assert look.rule_ports() == {port}
    dp.set_port_rules({})
    assert dp.observe_rules() == RulesObservation(seen={})
    assert look.rule_ports() == set()


# --------------------------------------------------------------------------- cleanup
def test_a_host_that_was_never_made_does_not_run(dp: DataPlane) -> None:
    """host_alive (the controller's host watch asks it every second): a simulated host the
    driver never made is not alive, on either driver (tests/integration/test_hostplane.py
    and the overlay's kernel test see one run, stop and run again)."""
    assert dp.host_alive("nohost") is False


def test_cleanup_removes_everything(dp: DataPlane, look: Look) -> None:
    if look.others:
        pytest.skip(f"other Facade objects exist on this host, cleanup() would remove them: "
                    f"{sorted(look.others)[:3]}")
    _subnets(dp, (B1, "10.97.11.0/24"), (B2, "10.97.11.0/24"), (B3, "10.97.13.0/24"))
    made = [_kinds()["frontend"], _kinds()["tenant"],
            _instance(61, _port(61, 0, B1, "10.97.11.61/24"))]
    for spec in made:
        dp.ensure_node(spec)
    dp.set_backends(made[0].netns, ("10.97.11.14",))
    pid = dp.start_process(ProcessSpec("c97-cleanup", made[2].netns, ("sleep", "60")))
    dp.set_port_rules({made[2].ports[0].host: RULES})

    removed = dp.cleanup()
    assert {f"netns {s.netns}" for s in made} | {"netns fcd-fabric", f"process {pid}"} \
        <= set(removed), removed
    assert dp.inventory() == Inventory()
    assert dp.observe().nodes == {} and dp.observe().processes == {}
    assert all(dp.observe_node(s.netns) is None for s in made)
    assert dp.observe_subnet(B1) is None and dp.observe_process("c97-cleanup") is None
    assert dp.observe_rules() == RulesObservation()
    assert look.namespaces() == set() and look.bridges() == set()
    assert look.rule_ports() == set()
    assert driver_wait(lambda: not look.running(pid), timeout=3)
    assert dp.cleanup() == []  # nothing left: nothing to say
