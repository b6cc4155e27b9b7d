"""One connection to a node's listener: its request read (`wire`), authenticated (the HMAC
of `facade.domain.agent_auth`, bound to the node), routed to /v1/health or /v1/counters, and
answered; at most CONN_TIMEOUT_S of the client's time. `serve_connection` runs in a thread of
its own for each connection the loop accepts. `exchange` and `authenticate` are the hub's too
(`hub`: the agent's own listener, for many nodes at once).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

from facade.domain import agent_auth
from facade.workloads.agent.config import Node
from facade.workloads.agent.counters import counters
from facade.workloads.agent.diagnostics import log
from facade.workloads.agent.listeners import Listener
from facade.workloads.agent.probes import check_workload
from facade.workloads.agent.wire import HttpError, Request, read_request, respond

CONN_TIMEOUT_S = 2.0
Answer = tuple[int, object, dict[str, str]]  # status, JSON body, extra header fields


def health(node: Node, ns_fd: int, started: float) -> dict[str, Any]:
    return {
        "node": node.name, "role": node.role, "netns": node.netns,
        "uptime_s": round(time.monotonic() - started, 3),
        "workload": check_workload(ns_fd, node.workload) if node.workload else None,
    }


def route(req: Request, node: Node, secret: str, ns_fd: int, started: float) -> Answer:
    refused = authenticate(req, secret, node.name)
    if refused is not None:
        return refused
    path = req.target.split("?", 1)[0]
    if path not in ("/v1/health", "/v1/counters"):
        return 404, {"error": f"no route {path}"}, {}
    if req.method != "GET":
        return 405, {"error": f"method {req.method} not allowed"}, {"Allow": "GET"}
    if path == "/v1/health":
        return 200, health(node, ns_fd, started), {}
    return 200, counters(node, ns_fd), {}


def authenticate(req: Request, secret: str, name: str) -> Answer | None:
    """None if the request is signed for `name`; else the 401 to answer. Before routing: an
    unsigned client cannot find out which routes exist."""
    auth = req.headers.get("authorization")
    if not auth:
        return 401, {"error": "missing Authorization header"}, {"WWW-Authenticate": "Facade-HMAC"}
    if not agent_auth.verify(secret, auth, req.method, req.target, name):
        return 401, {"error": "invalid or expired signature"}, {"WWW-Authenticate": "Facade-HMAC"}
    return None


def exchange(conn: socket.socket, who: str, answer: Callable[[Request], Answer]) -> None:
    """One request read on `conn` and answered by `answer`, at most CONN_TIMEOUT_S of the
    client's time for the request; never raises (the caller closes the connection)."""
    deadline = time.monotonic() + CONN_TIMEOUT_S
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            req = read_request(conn, deadline)
            if req is None:
                return
            status, obj, extra = answer(req)
        except HttpError as exc:
            status, obj, extra = exc.status, {"error": str(exc)}, {}
        except OSError:
            return
        except Exception as exc:
            log(f"{who}: error: {type(exc).__name__}: {exc}")
            status, obj, extra = 500, {"error": "internal error"}, {}
        conn.settimeout(max(0.2, deadline - time.monotonic()))
        respond(conn, status, obj, extra)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve_connection(conn: socket.socket, listener: Listener, node: Node, secret: str,
                     ns_fd: int) -> None:
    """One connection to a node's listener, one request; never raises."""
    try:
        exchange(conn, f"node {node.name}",
                 lambda req: route(req, node, secret, ns_fd, listener.started))
    finally:
        conn.close()
        os.close(ns_fd)
        listener.release()
