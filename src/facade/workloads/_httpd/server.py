"""The server: its listening socket and the epoll loop that accepts connections, reads request
heads without blocking, answers a lone health check or stats request itself, and hands other
complete heads to the worker pool; and `serve`, which runs it until SIGTERM/SIGINT.

The loop closes a connection that stays idle (`idle_timeout`, 120 s) or takes too long to send
a complete head (`head_timeout`, 10 s: a slow client holds no thread). A worker that is done
with a keep-alive connection hands it back to the loop through `_back` and a wake-up byte.
"""

from __future__ import annotations

import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from facade.workloads._http1 import (
    HttpError,
    head_end,
    oversized,
    parse_request_head,
    request_path,
    wants_close,
)
from facade.workloads._httpd.answers import encode, json_response
from facade.workloads._httpd.exchange import Handler, Workload
from facade.workloads._httpd.limits import (
    BODY_TIMEOUT,
    CHUNK,
    HEAD_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_WORKERS,
    STATS_PATH,
)
from facade.workloads._httpd.pool import WorkerPool
from facade.workloads._httpd.process import log
from facade.workloads._httpd.request import Conn, Request

_FREEBIND = {socket.AF_INET: (socket.IPPROTO_IP, 15),  # IP_FREEBIND (linux/in.h)
             socket.AF_INET6: (socket.IPPROTO_IPV6, 78)}  # IPV6_FREEBIND (linux/in6.h)


class Server:
    """An HTTP/1.1 server bound exactly to (ip, port) for one backend node. See the package."""

    def __init__(self, ip: str, port: int, handler: Handler, backend: str, *,
                 methods: Sequence[str] = ("GET", "POST"), max_body: int = 1024 * 1024,
                 internal_paths: frozenset[str] = frozenset(),
                 at_once: frozenset[str] = frozenset(),
                 idle_timeout: float = IDLE_TIMEOUT, head_timeout: float = HEAD_TIMEOUT,
                 body_timeout: float = BODY_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                 max_workers: int = MAX_WORKERS) -> None:
        self.workload = Workload(handler, backend, methods=frozenset(methods),
                                 max_body=max_body, internal_paths=internal_paths,
                                 at_once=at_once, body_timeout=body_timeout)
        self.boot = self.workload.boot
        self.idle_timeout, self.head_timeout = idle_timeout, head_timeout
        self.max_connections = max_connections
        self._lock = threading.Lock()  # _open, _back, _closed
        self._sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET,
                                   socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # bound before the node's address exists: a built-in workload is started while
            # its node's ports are made (ProcessSpec.early) and answers once they are
            self._sock.setsockopt(*_FREEBIND[self._sock.family], 1)
            self._sock.bind((ip, port))
            self._sock.listen(128)
            self._sock.setblocking(False)
            self._wake_r, self._wake_w = socket.socketpair()
        except OSError:
            self._sock.close()
            raise
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._poll = select.epoll()
        host, bound = self._sock.getsockname()[:2]
        self.address: tuple[str, int] = (str(host), int(bound))
        self._waiting: dict[int, Conn] = {}  # fd -> connection waiting in the loop
        self._open = 0  # connections accepted and not closed (waiting, queued or in a worker)
        self._back: list[Conn] = []  # handed back by workers, for the loop to take
        self._closed = False
        self._pool = WorkerPool(self._work, max_workers)

    @property
    def requests(self) -> int:
        """The requests counted so far (what GET /_facade/stats says)."""
        return self.workload.requests

    def label(self) -> str:
        """The bound address as IP:PORT."""
        return f"{self.address[0]}:{self.address[1]}"

    def serve_forever(self) -> None:
        """Run the accept/read loop until shutdown() (from a signal handler or another thread)."""
        listen_fd, wake_fd = self._sock.fileno(), self._wake_r.fileno()
        self._poll.register(listen_fd, select.EPOLLIN)
        self._poll.register(wake_fd, select.EPOLLIN)
        accepting = True
        while not self._closed:
            timeout = -1.0
            if self._waiting:
                first = min(c.deadline for c in self._waiting.values())
                timeout = max(0.0, first - time.monotonic())
            for fd, _ in self._poll.poll(timeout):
                if fd == listen_fd:
                    self._accept()
                elif fd == wake_fd:
                    self._take_back()
                else:
                    conn = self._waiting.get(fd)
                    if conn is not None:
                        self._readable(conn)
            self._expire(time.monotonic())
            with self._lock:
                want = self._open < self.max_connections or bool(self._waiting)
            if want != accepting and not self._closed:
                self._poll.modify(listen_fd, select.EPOLLIN if want else 0)
                accepting = want

    def shutdown(self) -> None:
        """Stop serve_forever soon. Safe from a signal handler and from any thread."""
        self._closed = True
        self._wake()

    def close(self) -> None:
        """Close the listening socket and every connection waiting in the loop; a worker's
        connection closes when its answer is written."""
        with self._lock:
            self._closed = True
            back, self._back = self._back, []
        self._pool.close()
        for conn in [*self._waiting.values(), *back]:
            self._drop(conn)
        self._waiting.clear()
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()
        self._poll.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (the loop is awake anyway) or closed
            pass

    def _accept(self) -> None:
        for _ in range(64):
            with self._lock:
                full = self._open >= self.max_connections
            if full and not self._waiting:
                return  # every connection is busy: the next ones wait in the backlog
            try:
                sock, peer = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: try again at the next wake-up
                log(f"accept: {exc}")
                return
            if full:  # make room: the connection that would be closed first anyway goes now
                oldest = min(self._waiting.values(), key=lambda c: c.deadline)
                self._unwait(oldest)
                self._drop(oldest)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open += 1
            conn = Conn(sock, (str(peer[0]), int(peer[1])))
            self._wait(conn, time.monotonic() + self.idle_timeout)

    def _wait(self, conn: Conn, deadline: float) -> None:
        conn.deadline = deadline
        self._waiting[conn.fd] = conn
        self._poll.register(conn.fd, select.EPOLLIN)

    def _unwait(self, conn: Conn) -> None:
        del self._waiting[conn.fd]
        self._poll.unregister(conn.fd)

    def _readable(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._unwait(conn)
            self._drop(conn)
            return
        if not conn.buf:
            data = data.lstrip(b"\r\n")  # blank lines before a request line are ignored
            if not data:
                return
            conn.deadline = time.monotonic() + self.head_timeout  # the head's clock starts
        conn.buf += data
        if head_end(conn.buf, conn.scan) < 0 and oversized(conn.buf) is None:
            conn.scan = max(0, len(conn.buf) - 2)
            return
        self._unwait(conn)
        if not self._answer_here(conn):
            self._dispatch(conn)

    def _answer_here(self, conn: Conn) -> bool:
        """Answer a lone GET of an `at_once` path (the health check, the stats) in the loop
        itself, if the answer goes out in one non-blocking write; False: a worker answers it.

        At 500 backends checked every second, handing each check to a worker thread and the
        connection back cost the workloads about a fifth of a core in all (two thread switches
        and a wake-up per check); answered here, a check costs the workload half as much. Only
        a request alone in the buffer, without a body, qualifies; a client that does not read
        its answers (the write would block) loses its connection, as it would lose it to
        `body_timeout` in a worker."""
        workload = self.workload
        if request_path(conn.buf) not in workload.at_once or head_end(conn.buf) != len(conn.buf):
            return False
        try:
            method, target, version, fields = parse_request_head(bytes(conn.buf))
        except HttpError:
            return False
        if method != "GET" or method not in workload.methods or "content-length" in fields or "transfer-encoding" in fields:
            return False
        conn.buf.clear()
        if target.partition("?")[0] == STATS_PATH:
            answer = workload.stats()
        else:
            try:
                answer = workload.handler(Request(method, target, fields, conn, 0, 0.0))
            except Exception as exc:  # last line of defence for one request
                log(f"error: {method} {target[:200]}: {type(exc).__name__}: {exc}")
                answer = json_response(500, {"error": "internal error"}, close=True)
        close = wants_close(version, fields) or answer.close
        data = encode(answer, workload.backend, close=close, head_only=False)
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent, close = 0, True
        if close or sent != len(data):
            self._drop(conn)
        else:
            self._wait(conn, time.monotonic() + self.idle_timeout)
        return True

    def _expire(self, now: float) -> None:
        for conn in [c for c in self._waiting.values() if c.deadline <= now]:
            self._unwait(conn)
            self._drop(conn)

    def _take_back(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass
        with self._lock:
            back, self._back = self._back, []
        now = time.monotonic()
        for conn in back:
            conn.sock.setblocking(False)
            self._wait(conn, now + (self.head_timeout if conn.buf else self.idle_timeout))

    def _drop(self, conn: Conn) -> None:
        """Close a connection that is nobody's (no longer waiting, or its worker is done)."""
        try:
            conn.sock.close()
        finally:
            with self._lock:
                self._open -= 1

    def _dispatch(self, conn: Conn) -> None:
        """Queue a connection with a complete head (or an oversized one) for a worker; the
        control plane's requests and the workload's internal ones are urgent (pool.submit):
        otherwise a backend whose workers all wait (on a slow upstream, on peers that wait on
        it in turn) would fail its health checks, or its peers' replication, for being busy."""
        self._pool.submit(conn, urgent=request_path(conn.buf) in self.workload.not_counted)

    def _work(self, conn: Conn) -> None:
        """A worker's turn with a connection: its requests answered, then it goes back to the
        loop, or is closed."""
        keep = self.workload.serve(conn)
        if keep:
            conn.scan = max(0, len(conn.buf) - 2)
            with self._lock:
                keep = not self._closed
                if keep:
                    self._back.append(conn)
        if not keep:
            self._drop(conn)
        self._wake()  # a connection to take back, or a free slot for the next one


def serve(server: Server, on_stop: Callable[[], None] | None = None) -> None:
    """Announce the bound address, serve until SIGTERM/SIGINT, then close and return."""

    def stop(signum: int, frame: FrameType | None) -> None:
        server.shutdown()

    try:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(f"listening on {server.label()}", flush=True)
        server.serve_forever()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.close()
        if on_stop is not None:
            on_stop()
