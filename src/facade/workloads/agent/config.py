"""The agent's config file (JSON, written by the control plane): the secret, the port, and every
node with its namespace, management address, role and workload, checked and typed.

`parse_config` is called by the loop each time the file changed; a node that does not pass
is skipped with a message, a file that does not pass leaves the agent as it was.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from facade.domain import agent_auth
from facade.domain import health as checks
from facade.domain.errors import Invalid
from facade.domain.states import NodeRole

ROLES = (NodeRole.BACKEND.value, NodeRole.FRONTEND.value)  # plain strings: named in errors
CHECKS = ("http", "tcp", "listen")


@dataclass(frozen=True)
class Workload:
    ip: str
    port: int
    health_path: str | None
    check: str = "tcp"
    codes: str = "200-299"
    stats: bool = False  # a built-in workload: it serves probes.STATS_PATH (a program may not)


@dataclass(frozen=True)
class Node:
    name: str
    netns: str
    mgmt_ip: str
    role: str
    workload: Workload | None


@dataclass(frozen=True)
class Config:
    secret: str
    port: int
    nodes: dict[str, Node]


def _port(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise ValueError(f"{what} must be an integer 1..65535")
    return value


def _ip(value: object, what: str, host_only: bool) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    addr = ipaddress.ip_address(value)  # ValueError if not an address
    if host_only and (addr.is_unspecified or addr.is_multicast):
        raise ValueError(f"{what} must be one unicast address, not {value}")
    return str(addr)


def node_from(raw: object) -> Node:
    """One node's entry, checked (ValueError says what is wrong)."""
    if not isinstance(raw, dict):
        raise ValueError("a node must be an object")
    name, ns, role = raw.get("name"), raw.get("netns"), raw.get("role")
    if not isinstance(name, str) or not name:
        raise ValueError("node name must be a non-empty string")
    if name == agent_auth.HUB:  # a signature for the hub must open no node's listener
        raise ValueError(f"node name {name!r} is the hub's")
    if not isinstance(ns, str) or not ns or "/" in ns or ns in (".", ".."):
        raise ValueError(f"node {name}: netns must be a namespace name")
    if role not in ROLES:
        raise ValueError(f"node {name}: role must be one of {ROLES}")
    wl_raw = raw.get("workload")
    workload = None
    if wl_raw is not None:
        if not isinstance(wl_raw, dict):
            raise ValueError(f"node {name}: workload must be an object or null")
        hp = wl_raw.get("health_path")
        if hp is not None and (not isinstance(hp, str) or not hp.startswith("/")
                               or any(c in hp for c in " \r\n")):
            raise ValueError(f"node {name}: health_path must be a path or null")
        check = wl_raw.get("check") or ("http" if hp else "tcp")
        if check not in CHECKS or (check == "http" and hp is None):
            raise ValueError(f"node {name}: check must be one of {CHECKS} (http with a "
                             "health_path)")
        codes = wl_raw.get("codes") or "200-299"
        try:
            checks.check({"codes": codes})
        except Invalid as exc:
            raise ValueError(f"node {name}: {exc.message}") from None
        workload = Workload(_ip(wl_raw.get("ip"), f"node {name}: workload ip", True),
                            _port(wl_raw.get("port"), f"node {name}: workload port"), hp,
                            check, codes, wl_raw.get("stats") is True)
    return Node(name, ns, _ip(raw.get("mgmt_ip"), f"node {name}: mgmt_ip", True), str(role),
                workload)


def settings_from(raw: object) -> tuple[str, int]:
    """The secret (lower-case hex) and port of a config or a settings file."""
    if not isinstance(raw, dict):
        raise ValueError("config must be a JSON object")
    secret = raw.get("secret")
    if not isinstance(secret, str) or len(secret) != 64:
        raise ValueError("secret must be 64 hex characters")
    bytes.fromhex(secret)  # ValueError if not hex
    return secret.lower(), _port(raw.get("port"), "port")


def parse_config(raw: object) -> tuple[Config, list[str]]:
    """The config, and one message per node skipped as invalid. ValueError if the file as a
    whole is unusable (then the agent keeps its current state)."""
    secret, port = settings_from(raw)
    assert isinstance(raw, dict)
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, list):
        raise ValueError("nodes must be a list")
    nodes: dict[str, Node] = {}
    skipped: list[str] = []
    for item in nodes_raw:
        try:
            node = node_from(item)
        except ValueError as exc:
            skipped.append(f"node skipped: {exc}")
            continue
        if node.name in nodes:
            skipped.append(f"node skipped: duplicate name {node.name}")
            continue
        nodes[node.name] = node
    return Config(secret, port, nodes), skipped
