"""Tenant sandboxes on a real control plane (docs/security.md, "Sandboxes"; issue: every tenant
was root on the host). With a real tenant's token, commands in its own instance and in a
provider's `command` backend try every way out a container runtime must close; each fails, and
the test checks from outside that nothing changed. What a tenant may do in its own node still
works: serve on port 80, change its own routes, run python3, curl and iperf3. A memory hog and a
fork bomb stay inside their node's limits while the other nodes, the agents and the control
plane keep answering."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facade.domain import sandbox
from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root

SCENARIO = """
accounts: [{name: acme}, {name: evil}, {name: echoco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16,
     subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: evil-vpc, account: evil, cidr: 10.0.0.0/16,
     subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: echo-vpc, account: echoco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - name: cmd
    account: echoco
    command: "python3 -m http.server {port} --bind {ip}"
    port: 8080
    backend_subnet: echo-vpc/backend
    management_subnet: echo-vpc/mgmt
    limits: {memory_mb: 96, pids: 48}
instances:
  - {name: client, account: acme, interfaces: [acme-vpc/app]}
  - {name: neighbour, account: acme, interfaces: [acme-vpc/app]}
  - name: hog
    account: evil
    interfaces: [evil-vpc/app]
    limits: {memory_mb: 64, pids: 40, cpu_weight: 10}
appliances:
  - {name: web, account: acme, service: cmd, subnet: acme-vpc/app, backends: 1}
"""

# Each line: a label, then a shell command that must FAIL inside the node (exit status != 0).
# {home} is the control plane's state folder on the host.
ESCAPES = {
    "read the operator's token": "cat {home}/operator.token",
    "read the store": "head -c 16 {home}/facade.db",
    "see the state folder": "ls {home}",
    "read /etc/shadow": "cat /etc/shadow",
    "see another tenant's namespaces": "ls /run/netns/fcd-fabric",
    "enter a namespace with nsenter": "nsenter --net=/proc/1/ns/net true",
    "make a namespace": "unshare --net true",
    "make a user namespace": "unshare --user true",
    "mount a file system": "mount -t tmpfs none /mnt",
    "bind-mount over /etc": "mount --bind /tmp /etc",
    "write to /usr": "touch /usr/facade-escape",
    "write to /etc": "touch /etc/facade-escape",
    "change the fabric's bridges": "ip link set fcdb1 down",
    "see the host's /sys": "ls /sys/class/net",
    "load a kernel module": "python3 -c 'import ctypes,os,sys; l=ctypes.CDLL(None, use_errno=True);"
                            " r=l.syscall(313, os.open(\"/dev/null\", 0), b\"\", 0);"
                            " sys.exit(0 if r == 0 else 1)'",
    "set the clock": "date -s 2000-01-01",
    "signal the control plane": "kill -0 {cp_pid}",
    "see the control plane in /proc": "test -e /proc/{cp_pid}/cmdline",
}
PROBE = "; ".join(f'if {cmd} >/dev/null 2>&1; then echo "ESCAPED: {label}"; '
                  f'else echo "held: {label}"; fi' for label, cmd in ESCAPES.items())


def _exec(cp: ControlPlane, node: str, token: str, script: str, *, timeout: float = 20,
          host: bool = False) -> dict[str, Any]:
    res = cp.api("POST", f"/v1/instances/{node}/exec", token=token,
                 json={"argv": ["sh", "-c", script], "timeout": timeout, "host": host})
    assert res.status_code == 200, res.text
    out: dict[str, Any] = res.json()
    return out


def _node(cp: ControlPlane, name: str) -> dict[str, Any]:
    got: dict[str, Any] = cp.wait_for(lambda: (lambda v: v if v["status"] == "active" else None)(
        cp.get(f"/v1/instances/{name}")), timeout=20, what=f"{name} active")
    return got


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("sandbox") / "sandbox.yaml"
    path.write_text(SCENARIO)
    cp.cli("apply", "-f", str(path), timeout=60)
    tokens = {a: cp.api("POST", f"/v1/accounts/{a}/tokens").json()["token"]
              for a in ("acme", "evil", "echoco")}
    app = cp.wait_for(lambda: (lambda a: a if a["status"] == "ready" else None)(
        cp.get("/v1/appliances/web")), timeout=30, what="web ready")
    yield {"tokens": tokens, "app": app, "accounts": {a["name"]: a for a in
                                                      cp.items("/v1/accounts")}}


def _escape_report(cp: ControlPlane, node: str, token: str) -> dict[str, str]:
    script = PROBE.format(home=cp.home.resolve(), cp_pid=cp.proc.pid)
    res = _exec(cp, node, token, script)
    report = {}
    for line in res["stdout"].splitlines():
        verdict, _, label = line.partition(": ")
        report[label] = verdict
    assert set(report) == set(ESCAPES), res
    return report


def test_an_instance_is_a_sandbox_its_tenant_cannot_leave(cp: ControlPlane,
                                                          world: dict[str, Any]) -> None:
    acme = world["tokens"]["acme"]
    report = _escape_report(cp, "client", acme)
    assert [k for k, v in report.items() if v != "held"] == [], report
    # ... and from outside, nothing changed
    assert (cp.home / "operator.token").read_text().strip() == cp.token
    assert cp.proc.poll() is None
    assert not Path("/usr/facade-escape").exists() and not Path("/etc/facade-escape").exists()
    fabric = json.loads(nsclient.run("ip", "netns", "exec", "fcd-fabric", "ip", "-j", "link"))
    assert all("UP" in link["flags"] for link in fabric if link["ifname"].startswith("fcdb"))
    # who it is: root inside, an unprivileged uid of acme's range outside, no host process seen
    listed = _exec(cp, "client", acme, "ip netns list")
    assert listed["returncode"] == 0 and "fcd" not in listed["stdout"], listed
    who = _exec(cp, "client", acme, "id -u; hostname; grep -E '^(NoNewPrivs|Seccomp):' "
                                    "/proc/self/status; ps -e -o pid=,comm=")
    lines = who["stdout"].split("\n")
    assert lines[0] == "0" and lines[1] == "client", who
    assert "NoNewPrivs:\t1" in who["stdout"] and "Seccomp:\t2" in who["stdout"]
    procs = dict(line.split() for line in lines[4:] if line.strip())
    assert procs.get("1") == "catatonit", who  # the node's own init...
    assert set(procs.values()) <= {"catatonit", "sh", "ps"}, who  # ... and nothing of the host


def test_a_command_backend_is_a_sandbox_too(cp: ControlPlane, world: dict[str, Any]) -> None:
    echoco = world["tokens"]["echoco"]
    backend = world["app"]["backends"][0]
    report = _escape_report(cp, backend["name"], echoco)
    assert [k for k, v in report.items() if v != "held"] == [], report
    # the workload itself, seen from the host: echoco's uid, not root; in the node's limits
    (pid,) = nsclient.processes_mentioning(f"http.server 8080 --bind {backend['interfaces'][0]['ip']}")
    status = Path(f"/proc/{pid}/status").read_text()
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
    assert uid == sandbox.uid_base(_account_id(cp, "echoco"))
    assert "NoNewPrivs:\t1" in status and re.search(r"^Seccomp:\s+2", status, re.M)
    assert re.search(r"^CapEff:\s+0+$", status, re.M) is None  # root of its own namespace...
    assert os.stat(f"/proc/{pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino
    cgroup = Path(f"/proc/{pid}/cgroup").read_text()
    assert f"/{backend['netns']}" in cgroup
    limits = cp.get(f"/v1/instances/{backend['name']}")["limits"]
    assert limits == {"memory_mb": 96, "pids": 48, "cpu_weight": 100}


def test_the_front_end_is_its_owner_s_to_look_at_not_to_change(cp: ControlPlane,
                                                               world: dict[str, Any]) -> None:
    fe = world["app"]["frontend"]
    before = nsclient.nft_ruleset(fe["netns"])
    res = _exec(cp, fe["name"], world["tokens"]["echoco"],
                "id -u; nft flush ruleset; echo flush=$?; ip route flush table main; echo ip=$?")
    assert res["stdout"].startswith("0\n") and "flush=1" in res["stdout"], res
    assert "ip=2" in res["stdout"] or "ip=1" in res["stdout"], res
    assert nsclient.nft_ruleset(fe["netns"]) == before
    # the customer may not even run a command there
    refused = cp.api("POST", f"/v1/instances/{fe['name']}/exec", token=world["tokens"]["acme"],
                     json={"argv": ["true"]})
    assert refused.status_code == 404, refused.text


def test_what_a_tenant_may_do_in_its_own_node_still_works(cp: ControlPlane,
                                                         world: dict[str, Any]) -> None:
    acme = world["tokens"]["acme"]
    client = _node(cp, "client")
    ip = client["interfaces"][0]["ip"]
    # serve on port 80 (a daemon that outlives the exec that started it)
    _exec(cp, "client", acme, f"cd /tmp && echo hello > index.html && nohup python3 -m "
                              f"http.server 80 --bind {ip} >/dev/null 2>&1 &")
    got = cp.wait_for(lambda: (lambda r: r if r["stdout"] == "hello\n" else None)(
        _exec(cp, "neighbour", acme, f"curl -s -m 2 http://{ip}/index.html")),
        timeout=10, what="the neighbour reaching client:80")
    assert got["returncode"] == 0
    # its own routes: added inside, seen by the kernel, still there after the worker's passes
    gateway = "10.0.1.1"
    res = _exec(cp, "client", acme, f"ip route add 192.0.2.0/24 via {gateway} && ip route")
    assert res["returncode"] == 0 and "192.0.2.0/24" in res["stdout"], res
    time.sleep(2.5)  # a few reconcile passes
    routes = nsclient.run("ip", "netns", "exec", client["netns"], "ip", "route")
    assert f"192.0.2.0/24 via {gateway}" in routes
    # the host's own tools
    endpoint = world["app"]["endpoint"]["ip"]
    res = _exec(cp, "neighbour", acme,
                "python3 -c 'print(6*7)' && iperf3 --version | head -1 && "
                f"curl -s -o /dev/null -w '%{{http_code}}' -m 3 http://{endpoint}:8080/")
    assert res["returncode"] == 0 and res["stdout"].startswith("42\niperf 3"), res
    assert res["stdout"].endswith("200"), res
    # its files persist across its processes, in its own /root
    _exec(cp, "client", acme, "echo kept > /root/note")
    assert _exec(cp, "client", acme, "cat /root/note")["stdout"] == "kept\n"
    assert "No such file" in _exec(cp, "neighbour", acme, "cat /root/note")["stderr"]


def test_only_the_operator_may_step_outside_the_sandbox(cp: ControlPlane,
                                                        world: dict[str, Any]) -> None:
    refused = cp.api("POST", "/v1/instances/client/exec", token=world["tokens"]["acme"],
                     json={"argv": ["id"], "host": True})
    assert refused.status_code == 403 and "operator" in refused.json()["error"]["message"]
    res = cp.cli("exec", "--host", "client", "--", "cat", str(cp.home / "operator.token"))
    assert res.stdout.strip() == cp.token
    res = cp.cli("exec", "client", "--", "cat", str(cp.home / "operator.token"), check=False)
    assert res.returncode != 0 and cp.token not in res.stdout


def test_a_memory_hog_and_a_fork_bomb_stay_in_their_node(cp: ControlPlane,
                                                         world: dict[str, Any]) -> None:
    evil = world["tokens"]["evil"]
    hog = _node(cp, "hog")
    # 256 MiB in a node of 64 MiB: the kernel kills it (SIGKILL: 128 + 9)
    res = _exec(cp, "hog", evil, "python3 -c 'b = bytearray(256 << 20); print(len(b))'")
    assert res["returncode"] in (137, -9) and "268435456" not in res["stdout"], res
    # a bounded fork bomb: 200 sleepers in a node of 40 processes
    script = ("python3 -c 'import os, time\n"
              "n = 0\n"
              "for _ in range(200):\n"
              "    try:\n"
              "        if os.fork() == 0:\n"
              "            time.sleep(4)\n"
              "            os._exit(0)\n"
              "        n += 1\n"
              "    except OSError:\n"
              "        pass\n"
              "print(n, flush=True)\n"
              "for _ in range(n):\n"
              "    os.wait()'")
    started = time.monotonic()
    box: dict[str, Any] = {}

    import threading

    thread = threading.Thread(target=lambda: box.update(_exec(cp, "hog", evil, script)))
    thread.start()
    try:
        time.sleep(1.0)
        # while it runs: the control plane, another node and the agents answer
        assert cp.api("GET", "/v1/health").status_code == 200
        app = cp.get("/v1/appliances/web")
        assert app["status"] == "ready"
        backend = app["backends"][0]
        mgmt = backend["management"] or {}
        assert mgmt.get("reachable", True), mgmt
        endpoint = app["endpoint"]["ip"]
        client = _node(cp, "client")
        status, _, _ = nsclient.http(client["netns"], endpoint, 8080, timeout=3)
        assert status == 200
        pids = nsclient.run("sh", "-c", f"cat /sys/fs/cgroup/pids/facade/*/{hog['netns']}/"
                                        "pids.current")
        assert 0 < int(pids) <= 40
    finally:
        thread.join(timeout=30)
    assert time.monotonic() - started < 30
    assert box["stdout"].split(), box
    assert 0 < int(box["stdout"].split()[-1]) < 40, box  # the fork bomb met its limit


def _account_id(cp: ControlPlane, name: str) -> int:
    """The account's id, as the store keeps it (the API does not show ids)."""
    import sqlite3

    with sqlite3.connect(cp.home / "facade.db") as db:
        (row,) = db.execute("select id from accounts where name = ?", (name,)).fetchall()
    return int(row[0])


def _listen(netns: str, ip: str, port: int) -> Any:
    sock = nsclient.ns_socket(netns)
    sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_REUSEADDR, 1)
    sock.bind((ip, port))
    sock.listen(8)
    return sock


CONNECT = ("python3 -c 'import socket, sys\n"
           "s = socket.socket()\n"
           "s.settimeout(1.5)\n"
           "s.bind((sys.argv[1], 0))\n"
           "try:\n"
           "    s.connect((sys.argv[2], int(sys.argv[3])))\n"
           "    print(\"connected\")\n"
           "except OSError as e:\n"
           "    print(\"refused\" if isinstance(e, ConnectionRefusedError) else \"silent\")' ")


def test_a_tenant_sends_only_from_its_own_address_and_mac(cp: ControlPlane,
                                                          world: dict[str, Any]) -> None:
    acme = world["tokens"]["acme"]
    client, neighbour = _node(cp, "client"), _node(cp, "neighbour")
    mine, theirs = client["interfaces"][0]["ip"], neighbour["interfaces"][0]["ip"]
    endpoint = world["app"]["endpoint"]["ip"]
    listener = _listen(neighbour["netns"], theirs, 7600)
    try:
        def connect(source: str) -> str:
            res = _exec(cp, "client", acme, CONNECT + f"{source} {theirs} 7600")
            return str(res["stdout"]).strip()

        assert connect(mine) == "connected"
        # a second address of its own choosing: the kernel sends from it, the fabric drops it
        spoof = "10.0.1.77"
        assert _exec(cp, "client", acme, f"ip addr add {spoof}/24 dev eth0")["returncode"] == 0
        assert connect(spoof) == "silent"
        # the endpoint's address too: the neighbour still learns the front-end's MAC
        fe_mac = json.loads(nsclient.run("ip", "netns", "exec", world["app"]["frontend"]["netns"],
                                         "ip", "-j", "link", "show", "eth0"))[0]["address"]
        assert _exec(cp, "client", acme, f"ip addr add {endpoint}/32 dev eth0")["returncode"] == 0
        for _ in range(3):
            nsclient.run("ip", "netns", "exec", neighbour["netns"], "ip", "neigh", "flush", "all")
            status, _, _ = nsclient.http(neighbour["netns"], endpoint, 8080, timeout=3)
            assert status == 200
            seen = json.loads(nsclient.run("ip", "netns", "exec", neighbour["netns"], "ip", "-j",
                                           "neigh", "show", endpoint))
            assert [n.get("lladdr") for n in seen] == [fe_mac], seen
        # another MAC: nothing it sends passes; its own MAC again, and it works again
        mac = _exec(cp, "client", acme, "cat /sys/class/net/eth0/address 2>/dev/null || "
                                        "ip -o link show eth0")["stdout"]
        own = re.search(r"([0-9a-f]{2}(:[0-9a-f]{2}){5})", mac).group(1)  # type: ignore[union-attr]
        _exec(cp, "client", acme, "ip link set eth0 address 02:66:66:66:66:66")
        assert connect(mine) == "silent"
        _exec(cp, "client", acme, f"ip link set eth0 address {own}")
        assert connect(mine) == "connected"
        # what it added to its own network stays: it is the tenant's (not drift)
        time.sleep(2.0)
        addrs = nsclient.addresses(client["netns"])["eth0"]
        assert f"{spoof}/24" in addrs and f"{endpoint}/32" in addrs, addrs
    finally:
        listener.close()
        _exec(cp, "client", acme, f"ip addr del 10.0.1.77/24 dev eth0; "
                                  f"ip addr del {endpoint}/32 dev eth0")


def test_a_deleted_instance_leaves_nothing_of_its_sandbox(cp: ControlPlane,
                                                         world: dict[str, Any]) -> None:
    acme = world["tokens"]["acme"]
    res = cp.api("POST", "/v1/instances", token=acme, json={
        "name": "brief", "interfaces": [{"subnet": "acme-vpc/app"}]})
    assert res.status_code == 201, res.text
    node = _node(cp, "brief")
    _exec(cp, "brief", acme, "nohup sleep 300 >/dev/null 2>&1 & echo x > /root/x")
    files = cp.home / "nodes" / node["netns"]
    assert (files / "fs" / "root" / "x").exists()
    port = f"fcdv{_interface_id(cp, 'brief')}"
    assert port in nsclient.run("ip", "netns", "exec", "fcd-fabric", "nft", "list", "set",
                                "bridge", "fcd_guard", "ports")
    assert cp.api("DELETE", "/v1/instances/brief", token=acme).status_code in (202, 204)
    cp.wait_for(lambda: node["netns"] not in nsclient.facade_netns(), timeout=20,
                what="brief's namespace gone")
    assert not files.exists()
    assert not nsclient.processes_mentioning("sleep 300", wrappers=True)
    assert not list(Path("/sys/fs/cgroup/pids/facade").glob(f"*/{node['netns']}"))
    assert port not in nsclient.run("ip", "netns", "exec", "fcd-fabric", "nft", "list", "set",
                                    "bridge", "fcd_guard", "ports")


def _interface_id(cp: ControlPlane, instance: str) -> int:
    import sqlite3

    with sqlite3.connect(cp.home / "facade.db") as db:
        (row,) = db.execute("select interfaces.id from interfaces join instances on "
                            "instances.id = interfaces.instance_id where instances.name = ?",
                            (instance,)).fetchall()
    return int(row[0])
