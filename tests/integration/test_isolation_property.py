"""Tenant isolation, proved with packets (issue 5).

Hypothesis generates small topologies: 2-3 accounts, one network each, all of them 10.0.0.0/16
(overlapping on purpose), 1-2 subnets per network, 1-3 single-interface instances per account
(sometimes at an address that also exists in another network), and sometimes one http-echo
appliance of one account's service placed in a subnet of another account. Each topology is built
with ONE `facade apply -f` and removed with `facade destroy -f`. Under `make soak`
(tests/integration/soak.py) the topologies have 3-4 tenants of 2-6 instances each, and
hypothesis draws them from a fresh seed until 10,000 pairs were checked.

Every instance runs an identity server on port 7000 (http-echo answering its own name). Then,
for every pair (instance X, address A) over all addresses Facade handed out, a real TCP
connection is made from inside X's namespace and compared with a simple model:

- A belongs to X's own network N:
  - to an instance there: A:7000 answers, and the answer is THAT instance's name (the same IP
    exists in other networks; only N's owner may answer);
  - to an appliance endpoint there: A:8080 answers with a backend of that appliance (and A:7000
    does not connect: the front-end serves only its port);
  - to a backend of N's own appliance (X is the provider's instance): A:8080 is that backend;
  - to another node leg in N (management, front-end's backend side): the host is reached
    (7000 refused; nothing listens there), except the front-end's backend side from an
    instance at the endpoint's own address: the front-end routes an unmarked reply to its own
    `eth0` (docs/dataplane.md, "Routing by marks"), so that instance must not connect there
    (found by the soak; nothing of another network answers either way);
  - but the service's backend and management subnets are provider internal: N's router routes
    nothing into or out of them (docs/composition.md, "Placement"), so between one of them and
    any other subnet of N nothing answers (as if A were in another network);
- A does not exist in N (only in other networks): nothing answers on any port where something
  listens at A elsewhere: the connection must time out or be unreachable. A TCP reset counts
  as an answer too: it proves a packet reached a host of another network.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.soak import SOAK, Budget

pytestmark = pytest.mark.root

IDENTITY_PORT = 7000
SERVICE_PORT = 8080
NEGATIVE_TIMEOUT = 0.4
SUBNET_CIDRS = ("10.0.1.0/24", "10.0.2.0/24")  # subnet k is 10.0.{k+1}.0/24
MGMT_CIDR = "10.0.200.0/24"
REQUESTABLE_HOSTS = (10, 11)  # small pool: requested addresses collide across networks often

# CI: 6 generated topologies of 2-3 tenants and 1-3 instances each, always the same ones (SEED
# below). The soak: 3-4 tenants of 2-6 instances, drawn from its seed, until its pairs are
# checked or its time is spent (the examples left over return at once), at most EXAMPLES.
TENANTS, INSTANCES = ((3, 4), (2, 6)) if SOAK.on else ((2, 3), (1, 3))
EXAMPLES = max(10, SOAK.pairs // 20) if SOAK.on else 6
BUDGET = Budget(SOAK.isolation_s)


# --------------------------------------------------------------------------- topologies

@dataclass(frozen=True)
class Instance:
    subnet: int  # index into the account's subnets
    host: int | None  # requested last octet, or None: Facade picks


@dataclass(frozen=True)
class Account:
    subnets: int  # 1 or 2
    instances: tuple[Instance, ...]


@dataclass(frozen=True)
class Appliance:
    provider: int  # account index owning the service (its network holds the backends)
    consumer: int  # account index whose subnet holds the endpoint (never the provider)
    subnet: int  # index into the consumer's subnets
    backends: int


@dataclass(frozen=True)
class Topology:
    accounts: tuple[Account, ...]
    appliance: Appliance | None

    def yaml(self) -> str:
        lines = ["accounts:"]
        lines += [f"  - {{name: {_acct(i)}}}" for i in range(len(self.accounts))]
        lines.append("networks:")
        for i, acc in enumerate(self.accounts):
            subnets = [f"{{name: s{k + 1}, cidr: {SUBNET_CIDRS[k]}}}" for k in range(acc.subnets)]
            if self.appliance is not None and self.appliance.provider == i:
                subnets.append(f"{{name: mgmt, cidr: {MGMT_CIDR}}}")
            lines.append(f"  - {{name: {_net(i)}, account: {_acct(i)}, cidr: 10.0.0.0/16,")
            lines.append(f"     subnets: [{', '.join(subnets)}]}}")
        app = self.appliance
        if app is not None:
            p = _acct(app.provider)
            lines += [
                "services:",
                f"  - {{name: echo, account: {p}, workload: http-echo, port: {SERVICE_PORT},",
                f"     backend_subnet: {_net(app.provider)}/s1,"
                f" management_subnet: {_net(app.provider)}/mgmt}}",
            ]
        lines.append("instances:")
        for i, acc in enumerate(self.accounts):
            for j, inst in enumerate(acc.instances):
                iface = f"{_net(i)}/s{inst.subnet + 1}"
                if inst.host is not None:
                    iface += f"=10.0.{inst.subnet + 1}.{inst.host}"
                lines.append(f"  - {{name: {_inst(i, j)}, account: {_acct(i)},"
                             f" interfaces: [{iface}]}}")
        if app is not None:
            lines += [
                "appliances:",
                f"  - {{name: app, account: {_acct(app.consumer)}, service: echo,"
                f" subnet: {_net(app.consumer)}/s{app.subnet + 1}, backends: {app.backends}}}",
            ]
        return "\n".join(lines) + "\n"


def _acct(i: int) -> str:
    return f"iso{i}"


def _net(i: int) -> str:
    return f"iso{i}-vpc"


def _inst(i: int, j: int) -> str:
    return f"iso{i}-x{j}"


@st.composite
def topologies(draw: st.DrawFn, tenants: tuple[int, int] = (2, 3),
               instances: tuple[int, int] = (1, 3)) -> Topology:
    n = draw(st.integers(*tenants))
    accounts = []
    for _ in range(n):
        subnets = draw(st.integers(1, 2))
        count = draw(st.integers(*instances))
        seen: set[tuple[int, int]] = set()
        insts = []
        for _ in range(count):
            k = draw(st.integers(0, subnets - 1))
            host = draw(st.one_of(st.none(), st.sampled_from(REQUESTABLE_HOSTS)))
            if host is not None and (k, host) in seen:
                host = None  # one file may not ask twice for the same address of a subnet
            if host is not None:
                seen.add((k, host))
            insts.append(Instance(k, host))
        accounts.append(Account(subnets, tuple(insts)))
    app = None
    if draw(st.booleans()):
        provider = draw(st.integers(0, n - 1))
        consumer = draw(st.sampled_from([i for i in range(n) if i != provider]))
        app = Appliance(provider, consumer, draw(st.integers(0, accounts[consumer].subnets - 1)),
                        draw(st.integers(1, 2)))
    return Topology(tuple(accounts), app)


# The hardest case, always run: three tenants, 10.0.1.10 in every network, the provider's own
# instances share the backend subnet, the endpoint lands in a subnet holding a requested address.
HARD = Topology(
    accounts=(
        Account(2, (Instance(0, 10), Instance(1, None), Instance(0, None))),
        Account(1, (Instance(0, 10), Instance(0, None))),
        Account(2, (Instance(0, 10), Instance(1, 10))),
    ),
    appliance=Appliance(provider=1, consumer=0, subnet=0, backends=2),
)
# What checking HARD means at the least, whichever free addresses the IPAM picks: its 7
# instances, each against at least 9 distinct addresses (10.0.1.10 and 10.0.2.10; in the
# provider's s1 four more: its second instance, the front-end's backend leg and 2 backends; 3
# in its management subnet).
HARD_MIN_PAIRS = 7 * 9

# CI's seed: what derandomize=True derived from the test's source (hypothesis hashes it) while
# the property was a top-level @given, so CI draws the same six topologies as then (with HARD,
# 267 pairs; docs/guarantees.md) now that the @given sits inside the test that adds them up.
SEED = int("99ae78749143c400b2ade2a268952f930050eca85dda3dd1"
           "282e8e0fd7606cf8608d674a1dc247246a2292be8ab32298", 16)


# --------------------------------------------------------------------------- observed state

@dataclass(frozen=True)
class Entry:
    """One address Facade handed out: in which network, for what."""

    network: str
    ip: str
    kind: str  # instance | endpoint | backend | backend-mgmt | fe-backend | fe-mgmt
    owner: str  # instance or node name
    appliance: str | None = None
    subnet: str = ""  # "network/subnet"


def _network(subnet: str) -> str:
    return subnet.split("/", 1)[0]


def _entries(cp: ControlPlane) -> tuple[list[Entry], list[dict[str, Any]]]:
    instances = cp.items("/v1/instances")
    out = []
    for inst in instances:
        (iface,) = inst["interfaces"]
        out.append(Entry(_network(iface["subnet"]), iface["ip"], "instance", inst["name"],
                         subnet=iface["subnet"]))
    for app in cp.items("/v1/appliances"):
        fe = app["frontend"]
        eth0, eth1, eth2 = fe["interfaces"]
        out.append(Entry(_network(eth0["subnet"]), eth0["ip"], "endpoint", fe["name"],
                         app["name"], subnet=eth0["subnet"]))
        out.append(Entry(_network(eth1["subnet"]), eth1["ip"], "fe-backend", fe["name"],
                         subnet=eth1["subnet"]))
        out.append(Entry(_network(eth2["subnet"]), eth2["ip"], "fe-mgmt", fe["name"],
                         subnet=eth2["subnet"]))
        for b in app["backends"]:
            beth0, beth1 = b["interfaces"]
            out.append(Entry(_network(beth0["subnet"]), beth0["ip"], "backend", b["name"],
                             app["name"], subnet=beth0["subnet"]))
            out.append(Entry(_network(beth1["subnet"]), beth1["ip"], "backend-mgmt", b["name"],
                             subnet=beth1["subnet"]))
    return out, instances


# --------------------------------------------------------------------------- probes

class _Conn(nsclient.NsHTTPConnection):
    """NsHTTPConnection that closes its socket when the connect itself fails."""

    def connect(self) -> None:
        sock = nsclient.ns_socket(self.netns)
        sock.settimeout(self.timeout)
        try:
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _whoami(netns: str, ip: str, port: int, timeout: float = 3.0) -> str:
    """The node name the server at ip:port reports (http-echo /whoami), or what went wrong."""
    conn = _Conn(netns, ip, port, timeout=timeout)
    try:
        conn.request("GET", "/whoami")
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
    except (OSError, http.client.HTTPException) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    if status != 200:
        return f"status {status}"
    try:
        who = json.loads(body)
    except ValueError:
        return f"body {body!r}"
    return str(who.get("node"))


@dataclass(frozen=True)
class Check:
    x: str  # instance name
    netns: str
    network: str
    ip: str
    port: int
    expect: str  # "name:<n>" | "one-of:<a,b>" | "reached" | "no-connect" | "silent"

    def run(self) -> tuple[bool, str]:
        """(does the model hold, what was seen)."""
        if self.expect.startswith(("name:", "one-of:")):
            want = self.expect.split(":", 1)[1].split(",")
            got = _whoami(self.netns, self.ip, self.port)
            return got in want, got
        got = nsclient.connect_outcome(self.netns, self.ip, self.port, NEGATIVE_TIMEOUT)
        if self.expect == "reached":
            return got in ("refused", "connected"), got
        if self.expect == "no-connect":
            return got != "connected", got
        # silent: nothing of another network may answer, not even with a reset
        if got == "connected":
            got += f" (answered by {_whoami(self.netns, self.ip, self.port, 1.0)})"
        return got in ("timeout", "unreachable"), got


def _model(instances: list[dict[str, Any]], entries: list[Entry]) -> list[Check]:
    """Every (instance, address) pair as one or two checks of the model."""
    addresses = sorted({e.ip for e in entries}, key=lambda ip: tuple(map(int, ip.split("."))))
    backends: dict[str, list[str]] = {}
    for e in entries:
        if e.kind == "backend" and e.appliance:
            backends.setdefault(e.appliance, []).append(e.owner)
    endpoints: dict[str, set[str]] = {}  # front-end node -> its endpoint address
    for e in entries:
        if e.kind == "endpoint":
            endpoints.setdefault(e.owner, set()).add(e.ip)
    # the service's backend and management subnets: provider internal, not routed
    internal = {e.subnet for e in entries if e.kind in ("backend", "backend-mgmt")}
    checks = []
    for inst in instances:
        net = _network(inst["interfaces"][0]["subnet"])
        mine = inst["interfaces"][0]["subnet"]
        for ip in addresses:
            here = {e.kind: e for e in entries if e.ip == ip and e.network == net}
            walled = {e.subnet for e in here.values()} != {mine} and (
                mine in internal or bool({e.subnet for e in here.values()} & internal))
            expects: list[tuple[int, str]]
            if here and walled:
                expects = [(SERVICE_PORT if "backend" in here else IDENTITY_PORT, "silent")]
            elif "instance" in here:
                expects = [(IDENTITY_PORT, "name:" + here["instance"].owner)]
            elif "endpoint" in here:
                app = here["endpoint"].appliance or ""
                expects = [(SERVICE_PORT, "one-of:" + ",".join(backends.get(app, []))),
                           (IDENTITY_PORT, "no-connect")]
            elif "backend" in here:
                expects = [(SERVICE_PORT, "name:" + here["backend"].owner)]
            elif "fe-backend" in here and inst["interfaces"][0]["ip"] in endpoints.get(
                    here["fe-backend"].owner, ()):
                expects = [(IDENTITY_PORT, "no-connect")]
            elif here:
                expects = [(IDENTITY_PORT, "reached")]
            else:
                elsewhere = {e.kind for e in entries if e.ip == ip}
                ports = [IDENTITY_PORT]
                if elsewhere & {"endpoint", "backend"}:
                    ports.append(SERVICE_PORT)
                expects = [(port, "silent") for port in ports]
            checks += [Check(inst["name"], inst["netns"], net, ip, port, expect)
                       for port, expect in expects]
    return checks


# --------------------------------------------------------------------------- building

def _start_identity(cp: ControlPlane, name: str, ip: str) -> None:
    server = (f"nohup {sys.executable} -m facade.workloads.http_echo --name {name} --ip {ip}"
              f" --port {IDENTITY_PORT} >/dev/null 2>&1 &")
    cp.cli("exec", name, "--timeout", "10", "--", "sh", "-c", server, timeout=30)


def _wait_identity(inst: dict[str, Any]) -> None:
    ip = inst["interfaces"][0]["ip"]
    deadline = time.monotonic() + 15
    got = ""
    while time.monotonic() < deadline:
        got = _whoami(inst["netns"], ip, IDENTITY_PORT, 1.0)
        if got == inst["name"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"identity server of {inst['name']} at {ip} never answered: {got}")


def _wait_clean(cp: ControlPlane) -> None:
    cp.wait_for(lambda: nsclient.facade_netns() <= {"fcd-fabric"}, timeout=20,
                what=f"namespaces to go: {nsclient.facade_netns()}")
    cp.wait_for(lambda: not nsclient.processes_mentioning("facade.workloads"), timeout=20,
                what="workload processes to go")


@dataclass
class Tally:
    """What the property test checked, topology by topology, asserted when all have run."""

    pairs: list[tuple[Topology, int]] = field(default_factory=list)
    connections: int = 0
    violations: int = 0

    def total(self) -> int:
        return sum(n for _, n in self.pairs)


def check_isolation(cp: ControlPlane, topo: Topology, tmp: Path, tally: Tally) -> int:
    """Build topo, check every (instance, address) pair, tear down; returns pairs checked (and
    counts them, with the connections made and the violations seen, in `tally`); 0 without
    building anything once a soak has checked its pairs or spent its time."""
    if SOAK.on and (tally.total() >= SOAK.pairs or BUDGET.spent()):
        return 0
    _wait_clean(cp)
    path = tmp / "isolation.yaml"
    path.write_text(topo.yaml())
    started = time.monotonic()
    try:
        cp.cli("apply", "-f", str(path), "--timeout", "60", timeout=120)
        entries, instances = _entries(cp)
        assert len(instances) == sum(len(a.instances) for a in topo.accounts), instances
        endpoints = [e for e in entries if e.kind == "endpoint"]
        assert len(endpoints) == (0 if topo.appliance is None else 1), entries
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: _start_identity(cp, i["name"], i["interfaces"][0]["ip"]),
                          instances))
            list(pool.map(_wait_identity, instances))
        checks = _model(instances, entries)
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(Check.run, checks))
        violations = [
            {"x": c.x, "network": c.network, "address": f"{c.ip}:{c.port}",
             "expected": c.expect, "got": got}
            for c, (ok, got) in zip(checks, results, strict=True) if not ok]
        silent = Counter(got for c, (_, got) in zip(checks, results, strict=True)
                         if c.expect == "silent")
        pairs = len({(c.x, c.ip) for c in checks})
        tally.pairs.append((topo, pairs))
        tally.connections += len(checks)
        tally.violations += len(violations)
        assert not violations, (
            f"{len(violations)} isolation violations of {pairs} pairs:\n"
            + "\n".join(map(str, violations)) + f"\ntopology:\n{path.read_text()}"
            + "addresses:\n" + "\n".join(map(str, entries)))
    finally:
        cp.cli("destroy", "-f", str(path), "--timeout", "60", timeout=120)
    _wait_clean(cp)
    print(f"isolation: {pairs} pairs checked, 0 violations"
          f" ({len(instances)} instances, {len({e.ip for e in entries})} addresses,"
          f" {len(checks)} connections, silent probes {dict(silent)},"
          f" {time.monotonic() - started:.1f}s)")
    return pairs


# --------------------------------------------------------------------------- tests

def test_yaml_of_the_hard_topology() -> None:
    text = HARD.yaml()
    assert "iso1-vpc/s1" in text and "management_subnet: iso1-vpc/mgmt" in text
    assert text.count("=10.0.1.10]") == 3 and "iso2-vpc/s2=10.0.2.10" in text
    assert "subnet: iso0-vpc/s1, backends: 2" in text


def test_isolation_property(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """HARD and the generated topologies, every pair of each checked; then the total, which
    says what was proved: how many pairs, over topologies of how many tenants, and that none
    of them was a violation (and, in a soak, that it reached its pairs in its time)."""
    tally = Tally()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate),  # a shrink would rebuild kernels for minutes
              suppress_health_check=[HealthCheck.too_slow])
    @seed(SOAK.seed if SOAK.on else SEED)
    @example(topo=HARD)
    @given(topo=topologies(TENANTS, INSTANCES))
    def every_pair_of(topo: Topology) -> None:
        check_isolation(cp, topo, tmp_path_factory.mktemp("iso"), tally)

    every_pair_of()
    tenants = min(len(topo.accounts) for topo, _ in tally.pairs)
    with capsys.disabled():
        print(f"\nisolation: {tally.total()} pairs checked over {len(tally.pairs)} topologies"
              f" of {tenants} tenants or more ({tally.connections} connections),"
              f" {tally.violations} violations")
        if SOAK.on:
            print(f"isolation soak: seed {SOAK.seed} (FACADE_SOAK_SEED), target {SOAK.pairs}"
                  f" pairs, {BUDGET.elapsed() / 60:.1f} of {SOAK.isolation_s / 60:.0f} minutes")
    assert tally.violations == 0
    assert dict(tally.pairs).get(HARD, 0) >= HARD_MIN_PAIRS, tally.pairs
    if SOAK.on:
        assert tenants >= 3
        assert tally.total() >= SOAK.pairs, (
            f"the soak checked {tally.total()} pairs of its {SOAK.pairs} in"
            f" {BUDGET.elapsed() / 60:.1f} minutes (budget {SOAK.isolation_s / 60:.0f},"
            f" at most {EXAMPLES} topologies)")
    else:
        assert len(tally.pairs) == 1 + EXAMPLES, tally.pairs
