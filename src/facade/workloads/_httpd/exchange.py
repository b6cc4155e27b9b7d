"""What the server serves and counts, and a worker's exchanges on one connection.

`Workload` holds the workload's handler with what it accepts (methods, body size), the paths
that are not counted (health checks, `internal_paths`, the stats) and the count of the others:
`GET /_facade/stats` answers {"requests": N, "boot": "<random id of this process>"}, which the
management agent reads to meter requests (a new boot id says the count started again at 0).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from facade.workloads._http1 import (
    HttpError,
    content_length,
    head_end,
    oversized,
    parse_request_head,
    wants_close,
)
from facade.workloads._httpd.answers import Response, json_response, refuse, send
from facade.workloads._httpd.limits import NOT_COUNTED, STATS_PATH
from facade.workloads._httpd.process import log
from facade.workloads._httpd.request import Conn, Request

Handler = Callable[[Request], Response]


class Workload:
    """The handler the server runs for one backend node, its limits and its request count."""

    def __init__(self, handler: Handler, backend: str, *, methods: frozenset[str],
                 max_body: int, internal_paths: frozenset[str], at_once: frozenset[str],
                 body_timeout: float) -> None:
        self.handler, self.backend = handler, backend
        self.methods, self.max_body = methods, max_body
        self.not_counted = NOT_COUNTED | internal_paths
        # paths the loop answers itself (only uncounted ones: see Server._answer_here)
        self.at_once = (at_once & self.not_counted) | {STATS_PATH}
        self.body_timeout = body_timeout
        self.boot = os.urandom(8).hex()
        self.requests = 0
        self._lock = threading.Lock()  # requests

    def stats(self) -> Response:
        """GET STATS_PATH: the requests counted so far and this process's boot id."""
        with self._lock:
            count = self.requests
        return json_response(200, {"requests": count, "boot": self.boot})

    def answer(self, req: Request) -> Response:
        """The handler's answer; an unexpected error is a 500 that closes the connection."""
        try:
            return self.handler(req)
        except (ConnectionError, TimeoutError):
            raise  # the client went away in the middle of its body: no answer
        except Exception as exc:  # last line of defence for one request
            log(f"error: {req.method} {req.target[:200]}: {type(exc).__name__}: {exc}")
            return json_response(500, {"error": "internal error"}, close=True)

    def serve(self, conn: Conn) -> bool:
        """Answer every complete request in the connection's buffer (in a worker thread);
        whether the connection may carry another."""
        try:
            while True:
                end = head_end(conn.buf)
                if end < 0:
                    error = oversized(conn.buf)
                    if error is None:
                        return True
                    refuse(conn, error, self.backend, self.body_timeout)
                    return False
                head = bytes(conn.buf[:end])
                del conn.buf[:end]
                if not self.exchange(conn, head):
                    return False
                while conn.buf and conn.buf[0] in b"\r\n":  # blank lines between requests
                    del conn.buf[0]
        except OSError:  # TimeoutError and ConnectionError included: the client is gone
            return False
        except Exception as exc:  # last line of defence for one connection
            log(f"error: {type(exc).__name__}: {exc}")
            return False

    def exchange(self, conn: Conn, head: bytes) -> bool:
        """One request and its answer; whether the connection may carry another."""
        try:
            method, target, version, fields = parse_request_head(head)
            if "transfer-encoding" in fields:
                raise HttpError(411, "chunked bodies are not supported; send Content-Length")
            length = content_length(fields)
        except HttpError as exc:
            refuse(conn, exc, self.backend, self.body_timeout)
            return False
        req = Request(method, target, fields, conn, length, self.body_timeout)
        stats = method == "GET" and req.path == STATS_PATH
        supported = method in self.methods
        if supported and not stats and req.path not in self.not_counted:
            with self._lock:
                self.requests += 1
        head_only = method == "HEAD"
        if length > self.max_body:
            refuse(conn, HttpError(413, f"body larger than {self.max_body} bytes"),
                   self.backend, self.body_timeout, head_only)
            return False
        if stats:
            answer = self.stats()
        elif not supported:
            answer = json_response(501, {"error": f"method {method} is not supported here"})
        else:
            answer = self.answer(req)
        req.skip_body()
        close = wants_close(version, fields) or answer.close
        send(conn, answer, self.backend, self.body_timeout, close=close, head_only=head_only)
        return not close
