"""The fake data plane's management agents: what a process started with `--config FOLDER`
answers to the control plane's signed `GET /v1/counters`, as facade.workloads.agent does, on
a node's management address (that node's counters) and on 127.0.0.1 in the agent's own
namespace (its hub: many nodes in one answer). Called by `FakeDataPlane.http_request`; other
requests to an agent get the fake's plain answer, as before.

The numbers are the fake's (`FakeMeters`, counted by a test): a front-end's meters per backend
address under an epoch that changes when its node is made again, a backend's requests under a
boot id. An agent whose process key is in `FakeMeters.old` has no hub (one started by an
older release): 127.0.0.1 refuses.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from facade.domain import agent_auth
from facade.domain import agent_layout as layout
from facade.domain.specs import NodeSpec, ProbeResult, ProcessSpec

HUB_HOST = "127.0.0.1"


@dataclass
class FakeMeters:
    """What the fake's agents report: counted by tests, kept per namespace."""

    # front-end netns -> backend address -> [bytes in, bytes out, connections]
    traffic: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)  # backend netns -> requests served
    epochs: dict[str, int] = field(default_factory=dict)  # netns -> made (the counters' epoch)
    old: set[str] = field(default_factory=set)  # agents (process keys) without a hub
    made: int = 0
    # an agent's config file, read again only when it changed: path -> (stat, config)
    configs: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = field(
        default_factory=dict)

    def made_node(self, netns: str) -> None:
        if netns not in self.epochs:
            self.made += 1
            self.epochs[netns] = self.made

    def deleted_node(self, netns: str) -> None:
        for kept in (self.traffic, self.requests, self.epochs):
            kept.pop(netns, None)


def agent_config(meters: FakeMeters, spec: ProcessSpec) -> dict[str, Any] | None:
    """The config of an agent's process, as one dict (None: not an agent, or no readable
    config): its folder (domain/agent_layout.py) or its one file, read again only when it
    changed."""
    argv = list(spec.argv)
    if "--config" not in argv or argv.index("--config") + 1 >= len(argv):
        return None
    path = argv[argv.index("--config") + 1]
    try:
        if os.path.isdir(path):
            return _folder(meters, path)
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        cached = meters.configs.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with open(path, encoding="utf-8") as fh:
            config = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    meters.configs[path] = (stamp, config)
    return config


def _folder(meters: FakeMeters, path: str) -> dict[str, Any] | None:
    """A config folder as one config: its settings with every node's file as `nodes` (a file
    read again only when it was replaced: a new inode)."""
    with open(os.path.join(path, layout.SETTINGS), encoding="utf-8") as fh:
        config = json.load(fh)
    if not isinstance(config, dict):
        return None
    folder = os.path.join(path, layout.NODES)
    nodes = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if layout.node_of(entry.name) is None:
            continue
        stamp = (0, entry.inode(), 0)
        cached = meters.configs.get(entry.path)
        if cached is None or cached[0] != stamp:
            try:
                with open(entry.path, encoding="utf-8") as fh:
                    cached = (stamp, json.load(fh))
            except (OSError, ValueError):
                continue
            meters.configs[entry.path] = cached
        nodes.append(cached[1])
    return {**config, "nodes": nodes}


def _counters(meters: FakeMeters, node: dict[str, Any], spec: NodeSpec,
              rotation: tuple[str, ...]) -> dict[str, Any]:
    """A node's /v1/counters answer, shaped as the agent's (docs/management.md)."""
    netns, epoch = node["netns"], meters.epochs.get(node["netns"], 0)
    if spec.frontend is None:
        wl = node.get("workload")
        stats = isinstance(wl, dict) and wl.get("stats") is True
        return {"node": node["name"], "counters": {}, "workload": {
            "requests": meters.requests.get(netns, 0), "boot": f"fake-{epoch}"}
            if stats else None}
    return {"node": node["name"], "backends": sorted(set(rotation)), "conntrack": 0,
            "counters": {}, "epoch": f"fake:{epoch}", "meters": {
                ip: {"m_in": {"packets": conns, "bytes": b_in},
                     "m_out": {"packets": conns, "bytes": b_out},
                     "m_conn": {"packets": conns, "bytes": 60 * conns}}
                for ip, (b_in, b_out, conns) in sorted(meters.traffic.get(netns, {}).items())}}


def _signed(config: dict[str, Any], headers: dict[str, str] | None, path: str,
            name: str) -> bool:
    secret = config.get("secret")
    auth = {k.lower(): v for k, v in (headers or {}).items()}.get("authorization")
    return isinstance(secret, str) and agent_auth.verify(secret, auth, "GET", path, name)


def _ok(body: dict[str, Any]) -> ProbeResult:
    return ProbeResult(ok=True, detail="HTTP 200", status=200, body=json.dumps(body) + "\n")


def _refused(status: int, error: str) -> ProbeResult:
    return ProbeResult(ok=False, detail=f"HTTP {status}", status=status,
                       body=json.dumps({"error": error}) + "\n")


def answer(meters: FakeMeters, nodes: dict[str, NodeSpec], backends: dict[str, tuple[str, ...]],
           agents: list[ProcessSpec], netns: str, ip: str, port: int, path: str,
           headers: dict[str, str] | None) -> ProbeResult | None:
    """An agent's answer to GET `path` sent from `netns` to ip:port, or None when it is not
    a /v1/counters request to an agent (the caller answers it)."""
    if path.split("?", 1)[0] != "/v1/counters":
        return None
    for spec in agents:
        config = agent_config(meters, spec) if spec.netns == netns else None
        if config is None or config.get("port") != port:
            continue
        served = {n.get("name"): n for n in config.get("nodes", ())
                  if isinstance(n, dict) and n.get("netns") in nodes}
        if ip == HUB_HOST:
            if spec.key in meters.old:
                return ProbeResult(ok=False, detail="connection refused")
            return _hub(meters, nodes, backends, config, served, path, headers)
        for name, node in served.items():
            if node.get("mgmt_ip") == ip:
                if not _signed(config, headers, path, str(name)):
                    return _refused(401, "invalid or expired signature")
                return _ok(_counters(meters, node, nodes[node["netns"]],
                                     backends.get(node["netns"], ())))
    return None


def _hub(meters: FakeMeters, nodes: dict[str, NodeSpec], backends: dict[str, tuple[str, ...]],
         config: dict[str, Any], served: dict[Any, dict[str, Any]], path: str,
         headers: dict[str, str] | None) -> ProbeResult:
    if not _signed(config, headers, path, agent_auth.HUB):
        return _refused(401, "invalid or expired signature")
    _, _, query = path.partition("?")
    if query and not query.startswith("nodes="):
        return _refused(400, "the one query parameter is nodes=NAME,NAME,...")
    names = query.removeprefix("nodes=").split(",") if query else sorted(served)
    out: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name in names:
        node = served.get(name)
        if node is None:
            missing[name] = "not served"
        else:
            out[name] = _counters(meters, node, nodes[node["netns"]],
                                  backends.get(node["netns"], ()))
    return _ok({"nodes": out, "missing": missing, "more": []})
