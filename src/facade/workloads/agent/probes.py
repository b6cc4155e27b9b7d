"""A workload's health and numbers, seen from inside its node: the check its service asks for
(http, tcp, or listen: the node's socket table), and the built-in workloads' own counts
(STATS_PATH). Called by `routes` for /v1/health and a backend's /v1/counters.

Every probe's socket is made in the node's namespace (through the descriptor the listener
holds); an http probe is one GET on http.client (`facade.bounded_http`), with WORKLOAD_TIMEOUT_S
for everything and a head of at most 64 KiB; only as much of the body as the caller wants is
read.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from facade import bounded_http, nsenter
from facade.domain import health as checks
from facade.workloads.agent.config import Workload
from facade.workloads.agent.diagnostics import error_detail
from facade.workloads.agent.listeners import family

WORKLOAD_TIMEOUT_S = 0.5
STATS_PATH = "/_facade/stats"  # the built-in workloads' own numbers (workloads._httpd)
TCP_LISTEN = "0A"  # a socket's state in /proc/net/tcp

T = TypeVar("T")


def in_namespace(ns_fd: int, fn: Callable[[], T]) -> T:
    """`fn()` in a fresh thread that entered the node's namespace (`facade.nsenter`)."""
    return nsenter.in_namespace(ns_fd, fn, "agent-netns")


def _http_get(ns_fd: int, ip: str, port: int, path: str,
              limit: int = 1024) -> tuple[int, bytes]:
    """GET ip:port/path from inside the namespace (WORKLOAD_TIMEOUT_S in all): (status, head of
    the body, at most `limit` bytes). Raises OSError/TimeoutError/ValueError."""
    deadline = time.monotonic() + WORKLOAD_TIMEOUT_S
    sock = in_namespace(ns_fd, lambda: socket.socket(family(ip), socket.SOCK_STREAM))
    try:
        sock.settimeout(WORKLOAD_TIMEOUT_S)
        sock.connect((ip, port))
        host = f"[{ip}]" if ":" in ip else ip
        fields = [("Host", f"{host}:{port}"), ("User-Agent", "facade-agent"),
                  ("Connection", "close")]
        try:
            answer = bounded_http.exchange(sock, ip, port, "GET", path, fields,
                                           max_body=limit, deadline=deadline)
            return answer.status, answer.read(limit) if limit else b""
        except bounded_http.TooLarge as exc:
            raise ValueError(str(exc)) from None
        except http.client.HTTPException:  # an empty answer (RemoteDisconnected) included
            raise ValueError("not an HTTP response") from None
    finally:
        sock.close()


def _proc_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net/tcp{,6} prints it: 32-bit words in the host's byte order."""
    raw = b"".join(int(text[i:i + 8], 16).to_bytes(4, sys.byteorder)
                   for i in range(0, len(text), 8))
    return ipaddress.ip_address(raw)


def listening(ip: str, port: int) -> bool:
    """Whether a socket of the calling thread's network namespace listens on ip:port (or on
    the wildcard address of its family, or IPv6's for IPv4)."""
    want = ipaddress.ip_address(ip)
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/thread-self/net/{table}", encoding="ascii") as f:
                lines = f.read(1 << 20).splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != TCP_LISTEN:
                continue
            addr_text, _, port_text = fields[1].partition(":")
            if int(port_text, 16) != port:
                continue
            addr = _proc_address(addr_text)
            mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
            if addr == want or mapped == want or addr.is_unspecified:
                return True
    return False


def check_workload(ns_fd: int, wl: Workload) -> dict[str, Any]:
    """Probe the workload from inside the node's namespace (0.5 s in all); never raises."""
    if wl.check == "listen":
        try:
            up = in_namespace(ns_fd, lambda: listening(wl.ip, wl.port))
        except Exception as exc:
            return {"ok": False, "detail": f"namespace: {error_detail(exc)}"}
        where = f"{wl.ip}:{wl.port}"
        return {"ok": up, "detail": f"listening on {where}" if up
                else f"nothing listens on {where}"}
    if wl.check == "tcp" or wl.health_path is None:
        try:
            sock = in_namespace(ns_fd, lambda: socket.socket(family(wl.ip), socket.SOCK_STREAM))
        except Exception as exc:
            return {"ok": False, "detail": f"namespace: {error_detail(exc)}"}
        try:
            sock.settimeout(WORKLOAD_TIMEOUT_S)
            sock.connect((wl.ip, wl.port))
            return {"ok": True, "detail": "connected"}
        except Exception as exc:
            return {"ok": False, "detail": error_detail(exc)}
        finally:
            sock.close()
    try:
        code, _ = _http_get(ns_fd, wl.ip, wl.port, wl.health_path, limit=0)
    except ValueError as exc:
        return {"ok": False, "detail": str(exc)}
    except Exception as exc:
        return {"ok": False, "detail": error_detail(exc)}
    return {"ok": checks.HealthCheck(codes=wl.codes).accepts(code), "detail": f"HTTP {code}"}


def workload_stats(ns_fd: int, wl: Workload) -> dict[str, Any] | None:
    """The built-in workload's own numbers ({"requests", "boot"}), or None if it has none."""
    try:
        code, body = _http_get(ns_fd, wl.ip, wl.port, STATS_PATH)
        if code != 200:
            return None
        stats = json.loads(body)
    except Exception:
        return None
    if (not isinstance(stats, dict) or not isinstance(stats.get("boot"), str)
            or not isinstance(stats.get("requests"), int) or stats["requests"] < 0):
        return None
    return {"requests": stats["requests"], "boot": stats["boot"][:64]}


