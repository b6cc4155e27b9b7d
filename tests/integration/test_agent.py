"""The management agent on real namespaces (root).

Topology, all in namespaces of our own named `agtest-<tag>-*` (never `fcd-*`):

    agtest-<tag>-prov (10.77.0.1, the provider's side) --+
    agtest-<tag>-n1 (10.77.0.11, + 10.77.0.111)  ---------+-- bridge br0 in agtest-<tag>-fabric
    agtest-<tag>-n2 (10.77.0.12)  ------------------------+
    agtest-<tag>-fe (10.77.0.14, a fake front-end)  ------+

n1 runs the http_echo workload on 10.77.1.11:8080 (an address on its loopback). The agent runs
in the provider namespace (the control plane runs it in the router's), where its hub listens on
127.0.0.1. Every request is made from a socket created inside the provider namespace. Teardown kills the agent and the
workload and deletes every `agtest-<tag>-*` namespace, even when a test failed.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from facade.dataplane.linux.nft_rules import MAP_DECLARATION
from facade.domain import agent_layout as layout
from facade.domain.agent_auth import HUB, sign
from facade.service.files import update, write_atomically
from tests.integration.kernel_lock import kernel_lock
from tests.integration.nsclient import ns_socket

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: real network namespaces"),
]

SECRET = secrets.token_hex(32)
PORT = 20000 + secrets.randbelow(9000)
WL_IP, WL_PORT = "10.77.1.11", 8080
MGMT = {"n1": "10.77.0.11", "n2": "10.77.0.12", "n3": "10.77.0.13", "fe": "10.77.0.14",
        "n4": "10.77.0.15"}
N1_OTHER = "10.77.0.111"


def sh(*argv: str, check: bool = True, input: str | None = None) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=15, input=input)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {res.stderr.strip()}")
    return res.stdout


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.05) -> float:
    """Seconds until `cond()` held; fails after `timeout` (bounded in count and in time)."""
    start = time.monotonic()
    for _ in range(int(timeout / step) + 1):
        if cond():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            break
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


@dataclass
class Lab:
    tag: str
    config: Path
    workdir: Path
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    agent: subprocess.Popen[str] | None = None
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    workload: subprocess.Popen[bytes] | None = None

    def ns(self, short: str) -> str:
        return f"agtest-{self.tag}-{short}"

    @property
    def fabric(self) -> str:
        return self.ns("fabric")

    @property
    def prov(self) -> str:
        return self.ns("prov")

    def add_netns(self, short: str, ip: str, veth: str | None = None) -> None:
        ns = self.ns(short)
        veth = veth or f"v-{short}"
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", self.fabric, "link", "add", veth, "type", "veth",
           "peer", "name", "mgmt0", "netns", ns)
        sh("ip", "-n", self.fabric, "link", "set", veth, "master", "br0", "up")
        # A MAC derived from the address (as Facade does): a namespace that comes back with the
        # same address is reachable at once, without waiting for stale ARP entries to expire.
        last = int(ip.rsplit(".", 1)[1])
        sh("ip", "-n", ns, "link", "set", "mgmt0", "address", f"02:77:00:00:00:{last:02x}")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "mgmt0")
        sh("ip", "-n", ns, "link", "set", "mgmt0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    def node_entry(self, short: str, role: str = "backend",
                   workload: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"name": short, "netns": self.ns(short), "mgmt_ip": MGMT[short], "role": role,
                "workload": workload}

    def write_config(self, nodes: dict[str, dict[str, Any]] | None = None) -> float:
        """Write the config as the control plane does (its folder: the settings, a file per
        node, each replaced atomically, mode 0600; the files of nodes no longer named
        removed); returns the monotonic time of the write."""
        if nodes is not None:
            self.nodes = nodes
        write_atomically(self.config / layout.SETTINGS,
                         json.dumps({"secret": SECRET, "port": PORT}), private=True)
        folder = self.config / layout.NODES
        for name, entry in self.nodes.items():
            update(folder / layout.node_file(name), json.dumps(entry), private=True)
        for path in folder.iterdir():
            if layout.node_of(path.name) not in self.nodes:
                path.unlink()
        return time.monotonic()

    def start_agent(self) -> None:
        errlog = open(self.workdir / "agent.stderr", "w")
        # in the provider's namespace, as the control plane runs it in the router's: its hub
        # listens on that namespace's loopback
        self.agent = subprocess.Popen(
            ["ip", "netns", "exec", self.prov, sys.executable, "-m", "facade.workloads.agent",
             "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=errlog, text=True)
        errlog.close()
        out = self.agent.stdout
        assert out is not None

        def pump() -> None:
            for line in out:
                self.lines.put(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()

    def expect_line(self, text: str, timeout: float = 5.0) -> float:
        start = time.monotonic()
        deadline = start + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"agent never printed {text!r}; stderr: {self.stderr()}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line == text:
                return time.monotonic() - start

    def forget_agent(self) -> None:
        if self.agent is not None:
            if self.agent.poll() is None:
                self.agent.kill()
                self.agent.wait(5)
            if self.agent.stdout is not None:
                self.agent.stdout.close()
            self.agent = None

    def stderr(self) -> str:
        return (self.workdir / "agent.stderr").read_text()[-3000:]

    def start_workload(self) -> None:
        self.workload = subprocess.Popen(
            ["ip", "netns", "exec", self.ns("n1"), sys.executable, "-m",
             "facade.workloads.http_echo", "--name", "n1", "--ip", WL_IP, "--port", str(WL_PORT)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: connects(self.ns("n1"), WL_IP, WL_PORT), 10)

    def stop_workload(self) -> None:
        if self.workload is not None:
            self.workload.terminate()
            try:
                self.workload.wait(5)
            except subprocess.TimeoutExpired:
                self.workload.kill()
                self.workload.wait(5)
            self.workload = None


def connects(netns: str, ip: str, port: int, timeout: float = 0.5) -> bool:
    sock = ns_socket(netns)
    try:
        sock.settimeout(timeout)
        sock.connect((ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def raw(lab: Lab, ip: str, data: bytes, timeout: float = 3.0) -> bytes:
    sock = ns_socket(lab.prov)
    try:
        sock.settimeout(timeout)
        sock.connect((ip, PORT))
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out
    finally:
        sock.close()


def call(lab: Lab, short: str, path: str = "/v1/health", method: str = "GET",
         sign_as: str | None = None, secret: str = SECRET, auth: str | None = "sign",
         ip: str | None = None, timeout: float = 3.0) -> tuple[int, dict[str, Any]]:
    """One request from the provider namespace to node `short`; (status, JSON body)."""
    headers = f"Host: {ip or MGMT[short]}\r\nConnection: close\r\n"
    if auth == "sign":
        headers += f"Authorization: {sign(secret, method, path, sign_as or short)}\r\n"
    elif auth is not None:
        headers += f"Authorization: {auth}\r\n"
    out = raw(lab, ip or MGMT[short], f"{method} {path} HTTP/1.1\r\n{headers}\r\n".encode(),
              timeout=timeout)
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def serving(lab: Lab, short: str) -> bool:
    try:
        return call(lab, short, timeout=1.0)[0] == 200
    except OSError:
        return False


def cleanup(tag: str) -> None:
    prefix = f"agtest-{tag}-"
    for name in sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []:
        if name.startswith(prefix):
            sh("ip", "netns", "del", name, check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with kernel_lock():  # its workload processes must not meet other runs' process checks
        yield from _lab(tmp_path_factory)


def _lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    workdir = tmp_path_factory.mktemp("agent")
    lab = Lab(tag=secrets.token_hex(3), config=workdir / "agent-n1", workdir=workdir)
    try:
        sh("ip", "netns", "add", lab.fabric)
        sh("ip", "-n", lab.fabric, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", lab.fabric, "link", "set", "br0", "up")
        lab.add_netns("prov", "10.77.0.1")
        for short in ("n1", "n2", "fe"):
            lab.add_netns(short, MGMT[short])
        sh("ip", "-n", lab.ns("n1"), "addr", "add", f"{N1_OTHER}/24", "dev", "mgmt0")
        sh("ip", "-n", lab.ns("n1"), "addr", "add", f"{WL_IP}/32", "dev", "lo")
        # A fake front-end: the map as the driver declares it, a named counter, and a chain that
        # makes conntrack track this namespace's connections.
        sh("ip", "netns", "exec", lab.ns("fe"), "nft", "-f", "-", input=MAP_DECLARATION + (
            "add element ip fcd_fe backends { 0 : 10.0.1.4, 1 : 10.0.1.3, 2 : 10.0.1.4 }\n"
            "add counter ip fcd_fe fe_in\n"
            "add chain ip fcd_fe input { type filter hook input priority 0; policy accept; }\n"
            "add rule ip fcd_fe input ct state established,related accept\n"))
        lab.start_workload()
        lab.write_config({
            "n1": lab.node_entry("n1", workload={"ip": WL_IP, "port": WL_PORT,
                                                 "health_path": "/health", "stats": True}),
            "n2": lab.node_entry("n2", workload={"ip": WL_IP, "port": WL_PORT,
                                                 "health_path": None, "stats": True}),
            "fe": lab.node_entry("fe", role="frontend"),
        })
        lab.start_agent()
        lab.expect_line("agent serving 3 nodes", timeout=10)
        yield lab
    finally:
        lab.forget_agent()
        lab.stop_workload()
        cleanup(lab.tag)


# --- health and authentication ---------------------------------------------------------------


def test_health_of_each_node(lab: Lab) -> None:
    status, body = call(lab, "n1")
    assert status == 200, body
    assert body["node"] == "n1" and body["role"] == "backend" and body["netns"] == lab.ns("n1")
    assert body["workload"] == {"ok": True, "detail": "HTTP 200"}
    assert isinstance(body["uptime_s"], float) and body["uptime_s"] >= 0
    status, body = call(lab, "fe")
    assert status == 200
    assert body["node"] == "fe" and body["role"] == "frontend" and body["workload"] is None


def test_workload_probe_runs_inside_the_node(lab: Lab) -> None:
    # n2 names n1's workload address, which exists only inside n1: from n2 it is unreachable.
    status, body = call(lab, "n2")
    assert status == 200 and body["node"] == "n2"
    assert body["workload"]["ok"] is False, body


def test_stopped_workload_is_reported(lab: Lab) -> None:
    lab.stop_workload()
    try:
        status, body = call(lab, "n1")
        assert status == 200
        assert body["workload"] == {"ok": False, "detail": "connection refused"}
    finally:
        lab.start_workload()
    assert call(lab, "n1")[1]["workload"]["ok"] is True


@pytest.mark.parametrize(("kwargs", "why"), [
    ({"auth": None}, "unsigned"),
    ({"auth": "Facade-HMAC garbage"}, "malformed"),
    ({"auth": "Bearer " + "0" * 64}, "another scheme"),
    ({"secret": "11" * 32}, "wrong secret"),
    ({"sign_as": "n2"}, "signed for another node"),
])
def test_bad_signatures_are_401(lab: Lab, kwargs: dict[str, Any], why: str) -> None:
    status, body = call(lab, "n1", **kwargs)
    assert status == 401, why
    assert isinstance(body["error"], str)


def test_expired_and_replayed_elsewhere_are_401(lab: Lab) -> None:
    old = sign(SECRET, "GET", "/v1/health", "n1", now=time.time() - 60)
    assert call(lab, "n1", auth=old)[0] == 401
    # A valid signature for /v1/health does not open /v1/counters.
    good = sign(SECRET, "GET", "/v1/health", "n1")
    assert call(lab, "n1", path="/v1/counters", auth=good)[0] == 401


def test_unknown_route_and_bad_method(lab: Lab) -> None:
    status, body = call(lab, "n1", path="/v1/nope")
    assert status == 404 and "error" in body
    status, body = call(lab, "n1", method="POST")
    assert status == 405 and "error" in body
    assert call(lab, "n1", path="/v1/health?verbose=1")[0] == 200


# --- where it listens ------------------------------------------------------------------------


def test_listens_only_on_mgmt_addresses(lab: Lab) -> None:
    assert lab.agent is not None
    # Not on the node's other address, not on its workload address.
    assert not connects(lab.prov, N1_OTHER, PORT)
    assert not connects(lab.ns("n1"), WL_IP, PORT)
    assert not connects(lab.ns("n1"), "127.0.0.1", PORT)
    # Exactly one listener per node namespace, on mgmt_ip:PORT.
    for short in ("n1", "n2", "fe"):
        listening = sh("ip", "netns", "exec", lab.ns(short), "ss", "-Hltn").split()
        assert f"{MGMT[short]}:{PORT}" in listening
        assert f"0.0.0.0:{PORT}" not in listening and f"*:{PORT}" not in listening
    # Nothing of the agent's in the root namespace.
    root = sh("ss", "-Hltnp")
    assert f"pid={lab.agent.pid}," not in root
    assert f":{PORT} " not in root


# --- robustness ------------------------------------------------------------------------------


def test_slow_client_does_not_block_others(lab: Lab) -> None:
    slow = ns_socket(lab.prov)
    try:
        slow.settimeout(5)
        slow.connect((MGMT["n1"], PORT))
        slow.sendall(b"GET /v1/health HTTP/1.1\r\n")  # and never finishes
        start = time.monotonic()
        assert call(lab, "n1")[0] == 200
        assert call(lab, "n2")[0] == 200
        assert time.monotonic() - start < 1.5
        out = b""
        while chunk := slow.recv(4096):  # the agent gives up on it after ~2 s
            out += chunk
        assert time.monotonic() - start < 3.5
        assert out == b"" or out.startswith(b"HTTP/1.1 408")
    finally:
        slow.close()


def test_oversized_request_is_refused(lab: Lab) -> None:
    out = raw(lab, MGMT["n1"], b"GET /v1/health HTTP/1.1\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431")
    out = raw(lab, MGMT["n1"], b"garbage\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400")


# --- counters --------------------------------------------------------------------------------


def test_frontend_counters(lab: Lab) -> None:
    status, body = call(lab, "fe", path="/v1/counters")
    assert status == 200, body
    assert body["node"] == "fe"
    assert body["backends"] == ["10.0.1.3", "10.0.1.4"]
    assert body["counters"] == {"fe_in": {"packets": 0, "bytes": 0}}
    # conntrack of the front-end's namespace: at least this very connection is tracked there.
    if os.path.exists("/proc/net/nf_conntrack"):
        assert isinstance(body["conntrack"], int) and body["conntrack"] >= 1


def test_backend_counters(lab: Lab) -> None:
    status, body = call(lab, "n1", path="/v1/counters")
    assert status == 200 and body["node"] == "n1" and body["counters"] == {}
    # the built-in workload's own request count, read inside n1 (health checks not counted)
    wl = body["workload"]
    assert isinstance(wl["boot"], str) and len(wl["boot"]) == 16
    sh("ip", "netns", "exec", lab.ns("n1"), "curl", "-s", "-o", "/dev/null",
       f"http://{WL_IP}:{WL_PORT}/anything")
    after = call(lab, "n1", path="/v1/counters")[1]["workload"]
    assert after == {"boot": wl["boot"], "requests": wl["requests"] + 1}
    # n2's workload address is not served in n2: no numbers, still an answer
    assert call(lab, "n2", path="/v1/counters")[1]["workload"] is None


# --- the hub: every node in one request -----------------------------------------------------


def hub(lab: Lab, path: str = "/v1/counters", **kw: Any) -> tuple[int, dict[str, Any]]:
    """A request to the agent's hub, 127.0.0.1 in the provider namespace, signed for it."""
    return call(lab, "n1", path=path, sign_as=HUB, ip="127.0.0.1", **kw)


def test_the_hub_answers_for_every_node(lab: Lab) -> None:
    status, body = hub(lab)
    assert status == 200, body
    assert {"n1", "n2", "fe"} <= set(body["nodes"]) and body["more"] == []
    # each node's answer is the one its own listener gives
    fe = body["nodes"]["fe"]
    assert fe["backends"] == ["10.0.1.3", "10.0.1.4"] and fe["counters"] == \
        call(lab, "fe", path="/v1/counters")[1]["counters"]
    assert body["nodes"]["n1"]["workload"]["boot"] == \
        call(lab, "n1", path="/v1/counters")[1]["workload"]["boot"]
    assert body["nodes"]["n2"]["workload"] is None


def test_the_hub_answers_for_the_nodes_named(lab: Lab) -> None:
    status, body = hub(lab, "/v1/counters?nodes=n2,ghost")
    assert status == 200
    assert list(body["nodes"]) == ["n2"] and body["missing"] == {"ghost": "not served"}
    status, body = hub(lab, "/v1/counters?nodes=n2,../x")
    assert status == 400 and "bad node name '../x'" in body["error"]


def test_the_hub_wants_a_signature_for_itself(lab: Lab) -> None:
    assert hub(lab, auth=None)[0] == 401
    assert call(lab, "n1", path="/v1/counters", ip="127.0.0.1")[0] == 401  # signed for n1
    # and a node's listener refuses a signature for the hub
    assert call(lab, "n1", path="/v1/counters", sign_as=HUB)[0] == 401


def test_the_hub_is_on_the_agents_loopback_only(lab: Lab) -> None:
    assert connects(lab.prov, "127.0.0.1", PORT)
    for short in ("n1", "fe"):  # a node's namespace has a loopback of its own
        assert not connects(lab.ns(short), "127.0.0.1", PORT)
    assert not connects(lab.prov, "10.77.0.1", PORT)  # not on the provider's address


# --- convergence -----------------------------------------------------------------------------


def test_added_node_is_served_within_a_second(lab: Lab) -> None:
    lab.add_netns("n3", MGMT["n3"])
    wrote = lab.write_config({**lab.nodes, "n3": lab.node_entry("n3")})
    wait_until(lambda: serving(lab, "n3"), 1.5)
    assert time.monotonic() - wrote < 1.5
    lab.expect_line("agent serving 4 nodes")


def test_node_whose_namespace_comes_later(lab: Lab) -> None:
    """The control plane names a node when it is created, before the node is made: the agent
    waits for its namespace quietly (a failure is logged once it lasted GRACE_S: the unit test
    tests/unit/test_agent_loop.py) and serves it as soon as it exists."""
    lab.write_config({**lab.nodes, "n4": lab.node_entry("n4")})
    time.sleep(1.0)  # several polls with the namespace missing: no crash, others served
    assert lab.agent is not None and lab.agent.poll() is None
    assert serving(lab, "n1")
    lab.add_netns("n4", MGMT["n4"])
    wait_until(lambda: serving(lab, "n4"), 1.5)
    assert "n4: namespace" not in lab.stderr()  # within the grace: being made, most likely


def test_invalid_config_keeps_the_current_state(lab: Lab) -> None:
    (lab.config / layout.SETTINGS).write_text("{not json")
    time.sleep(0.8)
    assert lab.agent is not None and lab.agent.poll() is None
    assert serving(lab, "n1") and serving(lab, "n4")
    # An invalid node is skipped, the others are kept.
    bad = {"name": "bad", "netns": "../etc", "mgmt_ip": "0.0.0.0", "role": "x", "workload": None}
    lab.write_config({**lab.nodes, "bad": bad})
    time.sleep(0.8)
    assert serving(lab, "n1") and serving(lab, "n4")
    assert "node skipped" in lab.stderr()
    lab.nodes.pop("bad")
    lab.write_config()


def test_removed_node_stops_within_a_second(lab: Lab) -> None:
    nodes = dict(lab.nodes)
    nodes.pop("n4")
    lab.write_config(nodes)
    wait_until(lambda: not connects(lab.prov, MGMT["n4"], PORT), 1.5)
    assert serving(lab, "n1")


def test_mgmt_ip_change_moves_the_listener(lab: Lab) -> None:
    sh("ip", "-n", lab.ns("n3"), "addr", "add", "10.77.0.23/24", "dev", "mgmt0")
    entry = {**lab.nodes["n3"], "mgmt_ip": "10.77.0.23"}
    lab.write_config({**lab.nodes, "n3": entry})
    wait_until(lambda: connects(lab.prov, "10.77.0.23", PORT), 1.5)
    wait_until(lambda: not connects(lab.prov, MGMT["n3"], PORT), 1.5)
    assert call(lab, "n3", ip="10.77.0.23")[0] == 200
    lab.write_config({**lab.nodes, "n3": lab.node_entry("n3")})
    wait_until(lambda: serving(lab, "n3"), 1.5)


def test_namespace_deleted_behind_the_agents_back(lab: Lab) -> None:
    assert serving(lab, "n3")
    sh("ip", "netns", "del", lab.ns("n3"))
    # The agent lets go of the namespace, so the kernel frees it and its veth goes away.
    wait_until(lambda: "v-n3" not in sh("ip", "-n", lab.fabric, "-o", "link", "show"), 3)
    assert lab.agent is not None and lab.agent.poll() is None
    assert serving(lab, "n1") and serving(lab, "n2") and serving(lab, "fe")
    # A namespace of the same name that comes back is served again.
    lab.add_netns("n3", MGMT["n3"], veth="v-n3b")
    wait_until(lambda: serving(lab, "n3"), 2)


def test_sigterm_exits_promptly(lab: Lab) -> None:
    assert lab.agent is not None
    lab.agent.terminate()
    start = time.monotonic()
    assert lab.agent.wait(3) == 0
    assert time.monotonic() - start < 1.0
    assert not connects(lab.prov, MGMT["n1"], PORT)
    lab.forget_agent()


def test_ten_nodes_from_start_to_serving(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = {}
    for i in range(10):
        short = f"m{i}"
        MGMT[short] = f"10.77.0.{50 + i}"
        lab.add_netns(short, MGMT[short])
        nodes[short] = lab.node_entry(short)
    lab.write_config(nodes)
    while not lab.lines.empty():  # lines of the previous agent
        lab.lines.get_nowait()
    start = time.monotonic()
    lab.start_agent()
    elapsed = lab.expect_line("agent serving 10 nodes", timeout=10)
    served = time.monotonic() - start
    assert all(serving(lab, s) for s in nodes)
    with capsys.disabled():
        print(f"\nagent start -> serving 10 nodes: {elapsed:.3f} s (all answering: {served:.3f} s)")
    assert elapsed < 3.0
