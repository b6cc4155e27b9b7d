"""Tiny stdlib HTTP helpers shared by the built-in workloads (server, handler base, run loop).

Stdlib only and cheap to import (not even `typing`): workloads start inside node namespaces
and must be up fast.

Every server counts the requests it served, except health checks and `GET /_facade/stats`
itself, which answers {"requests": N, "boot": "<random id of this process>"}: the management
agent reads it to meter requests (a new boot id says the count started again at 0).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

CHUNK = 64 * 1024
STATS_PATH = "/_facade/stats"
NOT_COUNTED = frozenset({"/health", STATS_PATH})  # the control plane's own requests


class Server(ThreadingHTTPServer):
    """Threaded HTTP server bound exactly to (ip, port); remembers the backend node name."""

    daemon_threads = True  # idle keep-alive connections never block exit

    def __init__(self, ip: str, port: int, handler: Callable[..., BaseHTTPRequestHandler], backend: str) -> None:
        self.address_family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.backend = backend
        self.boot = os.urandom(8).hex()
        self.requests = 0
        self.requests_lock = threading.Lock()
        super().__init__((ip, port), handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall for
        # seconds in a namespace without a resolver. Bind only.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def label(self) -> str:
        """The bound address as IP:PORT."""
        return f"{self.server_name}:{self.server_port}"


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler: every response carries `X-Backend`, no per-request logging."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid 40 ms stalls
    timeout = 120  # seconds an idle keep-alive connection may stay open
    server: Server
    internal_paths: frozenset[str] = frozenset()  # the workload's own traffic (not requests)

    def end_headers(self) -> None:
        self.send_header("X-Backend", self.server.backend)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_bytes(self, status: int, body: bytes, ctype: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_text(self, status: int, text: str, head: bool = False) -> None:
        self.send_bytes(status, text.encode(), "text/plain; charset=utf-8", head)

    def send_json(self, status: int, obj: object, head: bool = False) -> None:
        body = (json.dumps(obj, ensure_ascii=False) + "\n").encode()
        self.send_bytes(status, body, "application/json", head)

    def read_body(self, limit: int) -> bytes | None:
        """Read the request body; on a bad or oversized body answer it and return None."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self.send_json(411, {"error": "chunked bodies are not supported; send Content-Length"})
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self.send_json(400, {"error": "invalid Content-Length"})
            return None
        if length > limit:
            self.close_connection = True
            self.send_json(413, {"error": f"body larger than {limit} bytes"})
            return None
        parts: list[bytes] = []
        while length > 0:
            part = self.rfile.read(min(length, CHUNK))
            if not part:
                raise ConnectionError("client closed the connection mid-body")
            parts.append(part)
            length -= len(part)
        return b"".join(parts)

    def guarded(self, route: Callable[[], None]) -> None:
        """Run a route; an unexpected error becomes a JSON 500 and one stderr line, no traceback."""
        path = self.path.split("?", 1)[0]
        if path == STATS_PATH and self.command == "GET":
            with self.server.requests_lock:
                count = self.server.requests
            self.send_json(200, {"requests": count, "boot": self.server.boot})
            return
        if path not in NOT_COUNTED and path not in self.internal_paths:
            with self.server.requests_lock:
                self.server.requests += 1
        try:
            route()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # last line of defence for one request
            log(f"error: {self.command} {self.path[:200]}: {type(exc).__name__}: {exc}")
            self.close_connection = True
            try:
                self.send_json(500, {"error": "internal error"})
            except OSError:
                pass


class _Stop(BaseException):
    """Raised by the SIGTERM handler; BaseException so socketserver does not swallow it."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve(server: Server, on_stop: Callable[[], None] | None = None) -> None:
    """Announce the bound address, serve until SIGTERM/SIGINT, then close and return."""
    try:
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        print(f"listening on {server.label()}", flush=True)
        server.serve_forever(poll_interval=0.2)
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.server_close()
        if on_stop is not None:
            on_stop()
