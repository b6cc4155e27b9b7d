"""A front-end's state for /v1/counters: its rotation (the `backends` map of `table ip fcd_fe`),
its named counters and per-backend meters with their epoch, and its conntrack count; a
backend's answer is its built-in workload's numbers. Called by `routes`.

libnftables (`facade.dataplane.linux.nft`) is imported lazily, when a front-end is first
read: a backend-only agent never loads it.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from typing import Any

from facade.domain.states import NodeRole
from facade.workloads.agent.config import Node
from facade.workloads.agent.probes import in_namespace, workload_stats

FE_TABLE = "table ip fcd_fe"
FE_MAP = "backends"

_nft_lock = threading.Lock()  # one libnftables call at a time: the calls are rare and cheap


def _count_lines(path: str) -> int | None:
    try:
        with open(path, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 16), b""))
    except OSError:
        return None


def _map_values(elems: object) -> list[str]:
    out: list[str] = []
    if not isinstance(elems, list):
        return out
    for elem in elems:
        value: object = elem[1] if isinstance(elem, list) and len(elem) == 2 else None
        if isinstance(value, dict) and "elem" in value:  # {"elem": {"val": ..., "counter": ...}}
            value = value["elem"].get("val") if isinstance(value["elem"], dict) else None
        if isinstance(value, str):
            out.append(value)
    return out


def frontend_state(ns_fd: int) -> tuple[list[dict[str, Any]], int | None]:
    """(the objects of `list table ip fcd_fe`, [] if there is no such table; conntrack entries)."""
    from facade.dataplane.linux.nft import Nft, NftError  # only front-ends need libnftables

    def inside() -> tuple[list[dict[str, Any]], int | None]:
        # /proc/net is the MAIN thread's namespace; /proc/thread-self/net is this thread's.
        conntrack = _count_lines("/proc/thread-self/net/nf_conntrack")
        try:
            with _nft_lock, Nft() as nft:
                objs = nft.list(FE_TABLE)
        except NftError as exc:
            if "No such file or directory" not in str(exc):
                raise
            objs = []
        return objs, conntrack

    return in_namespace(ns_fd, inside)


def counters(node: Node, ns_fd: int) -> dict[str, Any]:
    """A front-end's rotation, conntrack count and per-backend meters (with their epoch: the
    namespace's inode and the table's handle); a backend's workload numbers."""
    if node.role != NodeRole.FRONTEND:
        wl = node.workload
        # only a built-in workload is asked: to a program, the request would be a client
        stats = workload_stats(ns_fd, wl) if wl is not None and wl.stats else None
        return {"node": node.name, "counters": {}, "workload": stats}
    objs, conntrack = frontend_state(ns_fd)
    backends: set[str] = set()
    named: dict[str, dict[str, int]] = {}
    for obj in objs:
        if "map" in obj and obj["map"].get("name") == FE_MAP:
            backends.update(_map_values(obj["map"].get("elem")))
        elif "counter" in obj:
            c = obj["counter"]
            named[str(c.get("name"))] = {"packets": int(c.get("packets", 0)),
                                         "bytes": int(c.get("bytes", 0))}
    ordered = sorted(backends, key=lambda ip: (":" in ip, ipaddress.ip_address(ip)))
    from facade.dataplane.linux import nft_rules  # pure; imported with libnftables above

    handle = nft_rules.table_handle(objs)
    return {"node": node.name, "backends": ordered, "conntrack": conntrack, "counters": named,
            "meters": nft_rules.meters(objs),
            "epoch": f"{os.fstat(ns_fd).st_ino}:{handle}" if handle is not None else None}


