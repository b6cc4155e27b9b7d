"""Fixtures and helpers for the linux driver's integration tests (names start with driver_ so
they cannot collide with the project's conftest). Everything a test makes is removed in
teardown, even on failure; the root namespace's links are compared before/after the module."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from facade.dataplane.linux import LinuxDataPlane, cgroups
from facade.dataplane.linux import netns as driver_netns
from facade.dataplane.protocol import DataPlane
from tests.integration.kernel_lock import kernel_lock

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")

# A tiny TCP server for backends: "GET ..." gets an HTTP answer "<name> <client-ip>" and the
# connection is closed; "PING" lines get "PONG <name> <client-ip>" on a kept-open connection.
SERVER = r"""
import socket, sys, threading
name, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, port)); srv.listen(64)
def serve(conn, addr):
    with conn:
        f = conn.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                return
            if line.startswith(b"GET"):
                keep = False
                while (h := f.readline()) not in (b"\r\n", b"\n", b""):
                    keep = keep or h.lower() == b"connection: keep-alive\r\n"
                body = f"{name} {addr[0]}".encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\nConnection: "
                             + (b"keep-alive" if keep else b"close") + b"\r\n\r\n" + body)
                if not keep:
                    return
            if line.startswith(b"PING"):
                conn.sendall(f"PONG {name} {addr[0]}\n".encode())
while True:
    c, a = srv.accept()
    threading.Thread(target=serve, args=(c, a), daemon=True).start()
"""


TEST_BRIDGE_PREFIX = "fcdb9"


def driver_server_argv(name: str, ip: str, port: int) -> tuple[str, ...]:
    return (sys.executable, "-c", SERVER, name, ip, str(port))


def driver_run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=20).stdout


def driver_json(*argv: str) -> object:
    out = driver_run(*argv)
    return json.loads(out) if out.strip() else []


def driver_netns_list() -> set[str]:
    out = driver_run("ip", "netns", "list")
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def driver_facade_netns() -> set[str]:
    return {n for n in driver_netns_list() if n.startswith("fcd-")}


def driver_root_links() -> list[tuple[int, str, str]]:
    links = driver_json("ip", "-j", "link")
    assert isinstance(links, list)
    return sorted((lk["ifindex"], lk["ifname"], lk.get("link_type", "")) for lk in links)


def driver_wait(predicate, timeout: float = 5.0, step: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = predicate()
    return value


def driver_delete_node(dp: DataPlane, netns: str, timeout: float = 5.0) -> None:
    """delete_node, then until node_gone says its ports have gone with its namespace (the
    kernel tears it down a moment after the call); bounded in time."""
    dp.delete_node(netns)
    assert driver_wait(lambda: dp.node_gone(netns), timeout=timeout), \
        f"{netns}: node_gone still False {timeout} s after delete_node"


@pytest.fixture(scope="module")
def driver_host_guard() -> Iterator[set[str]]:
    """Root links and pre-existing fcd-* namespaces before the module; checks the host after.
    Holds the machine's kernel-test lock for the whole module."""
    with kernel_lock():
        before_links = driver_root_links()
        before_ns = driver_facade_netns()
        yield before_ns
        assert driver_root_links() == before_links, "root namespace links changed"
        assert driver_facade_netns() == before_ns, "a test left Facade namespaces behind"


@pytest.fixture
def driver_dp(tmp_path: Path, driver_host_guard: set[str]) -> Iterator[LinuxDataPlane]:
    """A LinuxDataPlane whose test-made namespaces, subnets and processes are removed after.
    Its cleanup() touches only its own plane's control groups, sandbox processes and bridges:
    the cgroup hierarchies are the host's even in a sandbox, where another run may have its
    own beside this one (`make test` runs the kernel tests in two sandboxes at once)."""
    dp = LinuxDataPlane(tmp_path / "state", this_plane_only=True)
    before = driver_facade_netns()
    try:
        yield dp
    finally:
        for pf in dp._procs.all():
            dp.stop_process(pf.key)
        made = driver_facade_netns() - before
        for name in sorted(made - {"fcd-fabric"}):
            driver_delete_node(dp, name)
        dp._sandboxes.bridge.remove()  # this driver's bridges (sandbox.py)
        if "fcd-fabric" not in made and driver_netns.exists("fcd-fabric"):
            links = driver_json("ip", "-n", "fcd-fabric", "-j", "link")
            assert isinstance(links, list)
            for lk in links:  # test bridges are named fcdb9xxx
                if lk["ifname"].startswith(TEST_BRIDGE_PREFIX):
                    driver_run("ip", "-n", "fcd-fabric", "link", "del", lk["ifname"])
        if "fcd-fabric" in made:
            # the fabric was made by this test: remove it whole (its bridges go with it)
            for pid in driver_netns.pids_in("fcd-fabric"):
                os.kill(pid, 9)
            driver_netns.remove("fcd-fabric")
        # every child this driver started is reaped before it is dropped (a Popen collected
        # while its child runs is a ResourceWarning, an error here, in whichever test is next)
        for popen in [*dp._procs._children.values(), *dp._sandboxes._inits.values()]:
            if popen.poll() is None:
                popen.kill()
            popen.wait(timeout=5)
        for mount, _ in cgroups.Hierarchies.discover().mounts():  # this plane's folder, if empty
            with contextlib.suppress(OSError):
                (mount / cgroups.TOP / dp._sandboxes.plane).rmdir()
        assert driver_facade_netns() == before
