"""`facade cleanup` and the simulated hosts' agents: each agent drives its host with a driver of
its own, in its own state folder ($FACADE_HOME/host-agents/NAME), so its sandboxed nodes have
control groups, node folders, pidfiles and bridges of its own plane. The control plane's
cleanup (`--this-plane` included, as the tests run it) must remove those too, not only the
nodes' namespaces. Checked through the cgroup file system, /proc and the folders."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from facade.dataplane.linux import LinuxDataPlane
from facade.dataplane.linux import netns as driver_netns
from facade.domain import names
from facade.domain.specs import NodeSpec, PortSpec, ProcessSpec, SandboxSpec, SubnetSpec
from tests.integration.driver_fixtures import driver_wait, needs_root

pytestmark = [pytest.mark.root, needs_root]

NETNS = "fcd-i9901-agentnode"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    try:
        yield home
    finally:  # whatever the test left, this plane's only (and the agent's)
        LinuxDataPlane(home / names.HOST_AGENTS_DIR / "h1", this_plane_only=True).cleanup()
        LinuxDataPlane(home, this_plane_only=True).cleanup()


def _cleanup(home: Path) -> str:
    return subprocess.run([sys.executable, "-m", "facade.dataplane.linux.cleanup",
                           "--state-dir", str(home), "--this-plane"], capture_output=True,
                          text=True, timeout=60, check=True).stdout


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_cleanup_removes_what_an_agents_driver_made(home: Path) -> None:
    agent_dir = home / names.HOST_AGENTS_DIR / "h1"
    agent = LinuxDataPlane(agent_dir, this_plane_only=True)
    agent.ensure_subnet(SubnetSpec("fcdb9901", "10.9.90.0/24"))
    box = SandboxSpec(uid=0x10000000 + 11 * 65536, hostname="agentnode", memory=64 << 20,
                      pids=32, cpu_weight=100)
    agent.ensure_node(NodeSpec(NETNS, "instance", (
        PortSpec("fcdv99011", "fcdb9901", "eth0", "10.9.90.11/24", mac="02:99:0a:09:5a:0b"),),
        sandbox=box))
    program = agent.start_process(ProcessSpec("agentnode-sleep", NETNS, ("sleep", "600"),
                                              sandboxed=True))
    init = agent._sandboxes._init_pid(NETNS)
    assert init is not None and _alive(init) and _alive(program)
    groups = agent._sandboxes.groups
    assert NETNS in groups.node_groups()
    node_folder = agent._sandboxes.nodes_dir / NETNS
    assert node_folder.exists() and agent._procs.all()
    # the management agents' folder beside: not an agent's state folder, left alone
    mgmt = home / "agents" / "agent-n1"
    mgmt.mkdir(parents=True)

    out = _cleanup(home)

    assert f"netns {NETNS}" in out
    assert not driver_netns.exists(NETNS)
    assert driver_wait(lambda: not _alive(program) and not _alive(init))
    agent._procs.reap()  # its children (the sandbox's monitor, the program) collected
    assert NETNS not in groups.node_groups(), "the agent's plane kept the node's control group"
    assert not node_folder.exists(), "the agent's node folder was left"
    assert not agent._procs.all() and not list(agent._procs.run_dir.glob("*.json"))
    assert not os.path.ismount(agent._sandboxes.bridge.root), "the agent's bridge was left"
    assert mgmt.is_dir() and not (mgmt / "run").exists()
    assert _cleanup(home) == "nothing to remove\n"
