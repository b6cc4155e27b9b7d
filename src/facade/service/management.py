"""The management plane, control-plane side.

Every appliance node has an interface on its provider's management subnet. One management
agent (`facade.workloads.agent`) per management network serves all of that network's nodes,
listening inside each node's namespace on its management address; it runs in the network's
router namespace, i.e. on the provider's side of the management subnet, and so do the control
plane's requests to it. Requests are signed (HMAC-SHA256, a secret per management network kept
in the state folder with mode 0600), so nothing else on the subnet can read or change a node.
The customer has no path to the management subnet at all (see docs/management.md).

The agent also listens on 127.0.0.1 in the router namespace (its hub): metering reads all of
an agent's nodes' counters there with one request (`hub_counters`), not one per node; health
and the management polls keep asking each node over the management subnet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facade.dataplane.protocol import DataPlane
from facade.domain import agent_auth, names
from facade.domain import agent_layout as layout
from facade.domain.specs import Probe, ProbeResult, ProcessSpec
from facade.domain.states import NodeRole
from facade.service import files

AGENT_PORT = 9700
HUB_HOST = "127.0.0.1"  # the agent's own listener, in the router namespace it runs in
# the agent answers within 2 s of reading the request (workloads/agent/hub.py HUB_DEADLINE_S)
HUB_TIMEOUT = 5.0
# node names in one hub request: the agent reads at most 8 KiB of request, 512 names
MAX_QUERY, MAX_NAMES = 6000, 512
# which of a node's interfaces is its management leg: a front-end's eth2 (after its customer and
# backend legs), a backend's eth1 (its extra legs, if any, come after it)
LEG: dict[str, int] = {NodeRole.FRONTEND: 2, NodeRole.BACKEND: 1}  # by a row's role string
PRUNE_MARGIN = 1.0  # seconds (prune_nodes)


@dataclass(frozen=True)
class AgentNode:
    # what the agent knows the node by: its namespace's name (unique, from its id), not the
    # instance's name, which two customers' appliance nodes may share (docs/api.md, "Names")
    name: str
    netns: str
    mgmt_ip: str
    role: str
    workload: dict[str, Any] | None


@dataclass
class Agent:
    """One management network's agent: where it runs and which nodes it serves."""

    network_id: int
    nodes: list[AgentNode] = field(default_factory=list)
    live: bool = False  # serves a node that is not being deleted (else it stops)

    @property
    def key(self) -> str:
        return f"agent-n{self.network_id}"

    @property
    def netns(self) -> str:
        return names.router_netns(self.network_id)


def agents_dir(home: Path) -> Path:
    return home / "agents"


def config_dir(home: Path, network_id: int) -> Path:
    """The agent's configuration folder (domain/agent_layout.py): its settings, a file a node."""
    return agents_dir(home) / f"agent-n{network_id}"


def secret(home: Path, network_id: int) -> str:
    """The management network's signing secret, made once and kept (mode 0600)."""
    path = agents_dir(home) / f"n{network_id}.secret"
    try:
        value = path.read_text().strip()
        if len(value) == 64:
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_hex(32)
    files.write_atomically(path, value + "\n", private=True)
    return value


def process(home: Path, network_id: int) -> ProcessSpec:
    agent = Agent(network_id)
    return ProcessSpec(key=agent.key, netns=agent.netns,
                       argv=(sys.executable, "-m", "facade.workloads.agent", "--config",
                             str(config_dir(home, network_id))))


def write_settings(home: Path, network_id: int) -> None:
    """The agent's settings (its secret and port), written only when they change; and the
    whole-file configuration of an older release gone."""
    folder = config_dir(home, network_id)
    files.update(folder / layout.SETTINGS, json.dumps(
        {"secret": secret(home, network_id), "port": AGENT_PORT}, sort_keys=True), private=True)
    (agents_dir(home) / f"agent-n{network_id}.json").unlink(missing_ok=True)


def node_entry(node: AgentNode) -> str:
    return json.dumps({"name": node.name, "netns": node.netns, "mgmt_ip": node.mgmt_ip,
                       "role": node.role, "workload": node.workload},
                      sort_keys=True, separators=(",", ":"))


def write_node(home: Path, network_id: int, node: AgentNode) -> bool:
    """What the agent knows of one node, written only when it changed (the agent reads that
    file alone); True when it wrote."""
    path = config_dir(home, network_id) / layout.NODES / layout.node_file(node.name)
    return files.update(path, node_entry(node), private=True)


def remove_nodes(home: Path, network_id: int, *, only: Collection[str] = ()) -> None:
    """Remove the entries of the nodes named (the agent stops serving them)."""
    folder = config_dir(home, network_id) / layout.NODES
    for name in only:
        (folder / layout.node_file(name)).unlink(missing_ok=True)


def prune_nodes(home: Path, network_id: int, keep: Collection[str], before: float) -> list[str]:
    """Remove the entries of nodes not in `keep` last written before `before` (a time.time()
    taken before `keep` was read: an entry written since is a node made meanwhile), and
    PRUNE_MARGIN seconds more (a file's mtime lags the clock); the names removed."""
    folder = config_dir(home, network_id) / layout.NODES
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    gone = []
    for entry in entries:
        name = layout.node_of(entry.name)
        if name is None or name in keep:
            continue
        try:
            if entry.stat().st_mtime < before - PRUNE_MARGIN:
                os.unlink(entry.path)
                gone.append(name)
        except FileNotFoundError:
            pass
    return gone


def ask(dp: DataPlane, home: Path, network_id: int, node: str, mgmt_ip: str,
        timeout: float = 0.5) -> ProbeResult:
    """GET a node's /v1/health from its agent, from the provider's side of the management
    subnet (the network's router namespace), signed."""
    path = "/v1/health"
    header = agent_auth.sign(secret(home, network_id), "GET", path, node)
    return dp.http_request(names.router_netns(network_id), mgmt_ip, AGENT_PORT, path,
                           headers={"Authorization": header}, timeout=timeout)


def workload_health(dp: DataPlane, home: Path, network_id: int, node: str, mgmt_ip: str, *,
                    timeout: float) -> tuple[bool, str, bool]:
    """A health check through the node's agent: (passed, detail, whether the agent answered).
    An agent that does not answer cannot vouch for its node: the check fails."""
    res = ask(dp, home, network_id, node, mgmt_ip, timeout)
    if not res.ok:
        return False, f"agent: {res.detail}", False
    try:
        workload = json.loads(res.body).get("workload")
    except (ValueError, AttributeError):
        return False, "agent answered no JSON object", True
    if not isinstance(workload, dict) or not isinstance(workload.get("ok"), bool):
        return False, "agent reports no workload check", True
    return workload["ok"], f"agent: {workload.get('detail', '')}"[:200], True


def ask_many(dp: DataPlane, home: Path, asks: Sequence[tuple[int, str, str]],
             timeout: float = 0.5) -> list[ProbeResult]:
    """`ask` of several nodes, each (network id, node, management address), side by side (the
    data plane's probe_many: one thread, each question within its own timeout)."""
    keys = {network_id: secret(home, network_id) for network_id, _, _ in asks}
    path = "/v1/health"
    probes = [Probe(netns=names.router_netns(network_id), ip=mgmt_ip, port=AGENT_PORT,
                    timeout=timeout, path=path, headers=(("Authorization", agent_auth.sign(
                        keys[network_id], "GET", path, node)),))
              for network_id, node, mgmt_ip in asks]
    return dp.probe_many(probes)


def poll_many(dp: DataPlane, home: Path, jobs: Sequence[tuple[Agent, AgentNode]],
              timeout: float = 0.5) -> list[dict[str, Any]]:
    """Ask each node's agent for its health (/v1/health), side by side, each over the node's
    own path on the management subnet, from the provider's side of it (the router's
    namespace)."""
    asks = [(a.network_id, n.name, n.mgmt_ip) for a, n in jobs]
    return [_polled(res) for res in ask_many(dp, home, asks, timeout)]


def _polled(res: ProbeResult) -> dict[str, Any]:
    """What the management view keeps of an agent's /v1/health answer."""
    checked = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    if not res.ok:
        return {"reachable": False, "detail": res.detail, "workload": None, "checked": checked}
    try:
        answer = json.loads(res.body)
    except ValueError:
        return {"reachable": False, "detail": "agent answered no JSON", "workload": None,
                "checked": checked}
    if not isinstance(answer, dict):
        return {"reachable": False, "detail": "agent answered no JSON object",
                "workload": None, "checked": checked}
    return {"reachable": True, "detail": res.detail, "workload": answer.get("workload"),
            "uptime_s": answer.get("uptime_s"), "checked": checked}


@dataclass
class HubAnswer:
    """What an agent's hub said: each node's /v1/counters answer by name, and the names it
    left for another request (`more`). `absent`: no hub (an agent started by an older
    release, or a failure of the hub itself): ask each node instead. `failed`: no answer this
    time (the agent did not answer in time; asking each node would cost a timeout each)."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    more: list[str] = field(default_factory=list)
    absent: bool = False
    failed: str = ""


def hub_paths(names: list[str] | None) -> list[str]:
    """The hub requests for `names` (None: every node the agent serves), each within the
    agent's bounds on names."""
    if names is None:
        return ["/v1/counters"]
    paths: list[str] = []
    chunk: list[str] = []
    size = 0
    for name in names:
        if chunk and (size + len(name) + 1 > MAX_QUERY or len(chunk) >= MAX_NAMES):
            paths.append("/v1/counters?nodes=" + ",".join(chunk))
            chunk, size = [], 0
        chunk.append(name)
        size += len(name) + 1
    if chunk:
        paths.append("/v1/counters?nodes=" + ",".join(chunk))
    return paths


def hub_counters(dp: DataPlane, network_id: int, secret_hex: str, path: str) -> HubAnswer:
    """GET `path` (hub_paths) from a management network's agent's hub, signed."""
    header = agent_auth.sign(secret_hex, "GET", path, agent_auth.HUB)
    res = dp.http_request(names.router_netns(network_id), HUB_HOST, AGENT_PORT, path,
                          headers={"Authorization": header}, timeout=HUB_TIMEOUT)
    if not res.ok:
        if res.status is None and res.detail == "timed out":
            return HubAnswer(failed=res.detail)
        # refused (no hub), 404 (a hub without this route), or any other failure: the
        # nodes' own routes still answer
        return HubAnswer(absent=True, failed=res.detail)
    try:
        answer = json.loads(res.body)
        nodes, more = answer["nodes"], answer.get("more", [])
        if not isinstance(nodes, dict) or not isinstance(more, list):
            raise ValueError("not a hub answer")
    except (ValueError, KeyError, TypeError):
        return HubAnswer(absent=True, failed="the hub answered no counters")
    return HubAnswer(nodes={k: v for k, v in nodes.items() if isinstance(v, dict)},
                     more=[n for n in more if isinstance(n, str)])
