"""One connection to a node's listener: its request read (`wire`), authenticated (the HMAC
of `facade.domain.agent_auth`, bound to the node), routed to /v1/health or /v1/counters, and
answered; at most CONN_TIMEOUT_S of the client's time. `serve_connection` runs in a thread of
its own for each connection the loop accepts.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from facade.domain import agent_auth
from facade.workloads.agent.config import Node
from facade.workloads.agent.counters import counters
from facade.workloads.agent.diagnostics import log
from facade.workloads.agent.listeners import Listener
from facade.workloads.agent.probes import check_workload
from facade.workloads.agent.wire import HttpError, Request, read_request, respond

CONN_TIMEOUT_S = 2.0


def health(node: Node, ns_fd: int, started: float) -> dict[str, Any]:
    return {
        "node": node.name, "role": node.role, "netns": node.netns,
        "uptime_s": round(time.monotonic() - started, 3),
        "workload": check_workload(ns_fd, node.workload) if node.workload else None,
    }


def route(req: Request, node: Node, secret: str, ns_fd: int,
          started: float) -> tuple[int, object, dict[str, str]]:
    auth = req.headers.get("authorization")
    if not auth:
        return 401, {"error": "missing Authorization header"}, {"WWW-Authenticate": "Facade-HMAC"}
    if not agent_auth.verify(secret, auth, req.method, req.target, node.name):
        return 401, {"error": "invalid or expired signature"}, {"WWW-Authenticate": "Facade-HMAC"}
    path = req.target.split("?", 1)[0]
    if path not in ("/v1/health", "/v1/counters"):
        return 404, {"error": f"no route {path}"}, {}
    if req.method != "GET":
        return 405, {"error": f"method {req.method} not allowed"}, {"Allow": "GET"}
    if path == "/v1/health":
        return 200, health(node, ns_fd, started), {}
    return 200, counters(node, ns_fd), {}


def serve_connection(conn: socket.socket, listener: Listener, node: Node, secret: str,
                     ns_fd: int) -> None:
    """One connection, one request, at most CONN_TIMEOUT_S of the client's time; never raises."""
    deadline = time.monotonic() + CONN_TIMEOUT_S
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            req = read_request(conn, deadline)
            if req is None:
                return
            status, obj, extra = route(req, node, secret, ns_fd, listener.started)
        except HttpError as exc:
            status, obj, extra = exc.status, {"error": str(exc)}, {}
        except OSError:
            return
        except Exception as exc:
            log(f"node {node.name}: error: {type(exc).__name__}: {exc}")
            status, obj, extra = 500, {"error": "internal error"}, {}
        conn.settimeout(max(0.2, deadline - time.monotonic()))
        respond(conn, status, obj, extra)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()
        os.close(ns_fd)
        listener.release()


