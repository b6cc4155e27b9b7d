"""The hub: the agent's own listener, on 127.0.0.1:port in the namespace the agent runs in (the
management network's router namespace), where the control plane reads many nodes' counters
with one request instead of one request per node.

    GET /v1/counters[?nodes=NAME,NAME,...]   signed for the node name agent_auth.HUB ("*")

answers `{"nodes": {NAME: <that node's own /v1/counters answer>}, "missing": {NAME: why},
"more": [NAME, ...]}` for every node the agent serves, or for those named (at most MAX_NAMES,
each 1-64 of letters, digits, '.', '_', '-'; else 400). Only something inside that namespace
reaches 127.0.0.1 there: the control plane's requests; a customer has no path to it, and a
node's namespace has a loopback of its own.

The nodes are read side by side by a pool of HUB_WORKERS threads shared by the hub's
connections (at most MAX_HUB_CONNS at once). A node that fails, or is still being read at
HUB_DEADLINE_S, is in `missing` with the reason, and the others are answered. A node not yet
started by then, or that would take the answer past MAX_ANSWER bytes (the control plane
reads it with a cap of 1 MiB), is in `more`: read it with another request naming it (an
answer always holds the first node read, whatever its size, so asking again progresses while
the pool is not taken up by other requests; the control plane stops at a request that read
nothing).

The loop opens the hub when it has a config, and opens it again when the port changes; a
failure to listen is logged once and retried at every poll.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from facade.domain import agent_auth
from facade.workloads.agent.counters import counters
from facade.workloads.agent.diagnostics import error_detail
from facade.workloads.agent.listeners import Listener, Slots, accepted
from facade.workloads.agent.routes import Answer, authenticate, exchange
from facade.workloads.agent.wire import Request

HOST = "127.0.0.1"
HUB_WORKERS = 8
MAX_HUB_CONNS = 4
HUB_DEADLINE_S = 2.0  # from the request read to the answer, whatever the nodes do
MAX_ANSWER = 512 * 1024  # bytes of nodes' answers; half the control plane's cap, for margin
MAX_NAMES = 512
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def names_asked(target: str) -> list[str] | None:
    """The nodes a request target names (in order, once each), None for all; ValueError with
    the message of a 400 if the query is not `nodes=NAME,...` with good names."""
    _, _, query = target.partition("?")
    if not query:
        return None
    key, eq, value = query.partition("=")
    if key != "nodes" or not eq or "&" in value:
        raise ValueError("the one query parameter is nodes=NAME,NAME,...")
    names = value.split(",")
    if len(names) > MAX_NAMES:
        raise ValueError(f"at most {MAX_NAMES} nodes in one request, not {len(names)}")
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"bad node name {name[:80]!r}: 1-64 letters, digits, '.', '_' "
                             "or '-'")
    return list(dict.fromkeys(names))


def _read(listener: Listener) -> dict[str, Any]:
    ns_fd = listener.borrow()
    if ns_fd is None:
        raise LookupError("not served")
    try:
        return counters(listener.node, ns_fd)
    finally:
        os.close(ns_fd)


def read_nodes(pool: ThreadPoolExecutor, listeners: dict[str, Listener], names: list[str],
               deadline: float) -> dict[str, Any]:
    """The hub's answer for `names`, read side by side until `deadline`."""
    missing: dict[str, str] = {}
    futures: dict[str, Future[dict[str, Any]]] = {}
    for name in names:
        listener = listeners.get(name)
        if listener is None:
            missing[name] = "not served"
        else:
            futures[name] = pool.submit(_read, listener)
    wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
    nodes: dict[str, Any] = {}
    more: list[str] = []
    size = 0
    for name, future in futures.items():
        if not future.done():
            # not started: nothing spent on it, ask again; started: it is the slow one
            if future.cancel():
                more.append(name)
            else:
                missing[name] = "timed out"
            continue
        try:
            answer = future.result()
        except LookupError:
            missing[name] = "not served"
            continue
        except Exception as exc:
            missing[name] = error_detail(exc)
            continue
        size += len(json.dumps(answer)) + len(name) + 6
        if nodes and size > MAX_ANSWER:
            more.append(name)
        else:
            nodes[name] = answer
    return {"nodes": nodes, "missing": missing, "more": more}


def route(req: Request, secret: str, listeners: dict[str, Listener],
          pool: ThreadPoolExecutor) -> Answer:
    deadline = time.monotonic() + HUB_DEADLINE_S
    refused = authenticate(req, secret, agent_auth.HUB)
    if refused is not None:
        return refused
    path = req.target.split("?", 1)[0]
    if path != "/v1/counters":
        return 404, {"error": f"no route {path} on the hub"}, {}
    if req.method != "GET":
        return 405, {"error": f"method {req.method} not allowed"}, {"Allow": "GET"}
    try:
        names = names_asked(req.target)
    except ValueError as exc:
        return 400, {"error": str(exc)}, {}
    return 200, read_nodes(pool, listeners, sorted(listeners) if names is None else names,
                           deadline), {}


class Hub:
    """The listening socket on HOST:port, the pool that reads the nodes, the connections."""

    def __init__(self, port: int, sock: socket.socket) -> None:
        self.port = port
        self.sock = sock
        self.pool = ThreadPoolExecutor(max_workers=HUB_WORKERS, thread_name_prefix="agent-hub")
        self.slots = Slots(MAX_HUB_CONNS)

    @classmethod
    def open(cls, port: int) -> Hub:
        """Listen in the calling thread's namespace: the loop's, the agent's own."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, port))
            sock.listen(16)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return cls(port, sock)

    def accept(self, listeners: dict[str, Listener], secret: str) -> None:
        """The connections waiting, each in a thread of its own (`listeners`: the loop's, a
        copy: the loop changes its own meanwhile)."""
        for conn in accepted(self.sock, self.slots, "hub", MAX_HUB_CONNS):
            try:
                threading.Thread(target=self._serve, name="agent-hub-conn", daemon=True,
                                 args=(conn, listeners, secret)).start()
            except RuntimeError:  # cannot start a thread: shed this connection, keep serving
                self.slots.release()
                conn.close()

    def _serve(self, conn: socket.socket, listeners: dict[str, Listener], secret: str) -> None:
        try:
            exchange(conn, "hub", lambda req: route(req, secret, listeners, self.pool))
        finally:
            conn.close()
            self.slots.release()

    def close(self) -> None:
        self.sock.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
