"""The HTTP/1.1 server of the built-in workloads (http_echo, search, web), and their run loop.

Small on purpose: a backend node's workload should cost a few megabytes of private memory, and
http.server alone costs about six (it imports email, html, mimetypes, socketserver, urllib).
This module imports socket, select, threading, json, os, signal, sys and time (and ctypes,
in lean_malloc); docs/workloads.md has the measurements.

How it serves. The thread that calls `serve()` runs an epoll loop: it accepts connections,
reads request heads without blocking, and closes a connection that stays idle
(`idle_timeout`, 120 s) or takes too long to send a complete head (`head_timeout`, 10 s: a
slow client holds no thread). A complete head goes to a pool of worker threads (started on
demand, at most `max_workers`, each ending after 10 s without work; health checks, stats and
internal requests go first and may use a few more); a worker reads the body, runs the
workload's handler and writes the answer, then hands a keep-alive connection back to the loop.
A handler may block (web and search call other nodes, a web may even call itself) without
holding up other clients. A lone GET of one of the workload's `at_once` paths (its health
check, when answering it never blocks) and of the stats is answered by the loop itself, in one
non-blocking write: a health check every second then costs the workload about 80 us of CPU
instead of 165 (no thread switch, no hand-back; bench/health_check_cost.py).

Limits: request line 16 KiB (414), head 32 KiB or 100 fields (431), body the workload's
`max_body` from Content-Length (413; a request with Transfer-Encoding gets 411), a malformed
request 400; each of those closes the connection. A body must arrive, and an answer be taken,
within `body_timeout` (10 s) plus one second per 64 KiB. At most `max_connections` (512) are
open: beyond that the one idle longest is closed, or new ones wait in the listen backlog.

Every answer carries `X-Backend: NODE` and a Content-Length, and the connection stays open
unless the client asked otherwise (HTTP/1.1 keep-alive; HTTP/1.0 only with `Connection:
keep-alive`). The server counts the requests it served, except health checks, the workload's
`internal_paths` and `GET /_facade/stats` itself, which answers {"requests": N, "boot":
"<random id of this process>"}: the management agent reads it to meter requests (a new boot
id says the count started again at 0).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import FrameType

from facade.workloads._http1 import (
    HttpError,
    content_length,
    head_end,
    http_date,
    oversized,
    parse_request_head,
    request_path,
    response_head,
    wants_close,
)

STATS_PATH = "/_facade/stats"
NOT_COUNTED = frozenset({"/health", STATS_PATH})  # the control plane's own requests
CHUNK = 64 * 1024
IDLE_TIMEOUT = 120.0  # seconds a keep-alive connection may wait for its next request
HEAD_TIMEOUT = 10.0  # seconds from a request's first byte to the end of its head
BODY_TIMEOUT = 10.0  # seconds to read a body or write an answer, plus 1 s per MIN_RATE bytes
MIN_RATE = 64 * 1024
MAX_CONNECTIONS = 512
MAX_WORKERS = 32  # a web chain of 16 hops through one server needs 17 at once
RESERVED_WORKERS = 16  # more, for health checks, stats and peers' requests only
WORKER_IDLE = 10.0  # seconds a worker thread without work stays
LINGER, LINGER_BYTES = 1.0, 1024 * 1024  # after a refusal; see Server._refuse
SEND_IN_ONE = 64 * 1024  # answers up to this size go out in one write with their head
M_ARENA_MAX, M_MMAP_THRESHOLD = -8, -3  # glibc's mallopt parameters (malloc.h)
_trim: Callable[[int], int] | None = None  # glibc's malloc_trim, once lean_malloc() found it
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


class Response:
    """What a handler answers: a status, a body and its type; `close` ends the connection."""

    __slots__ = ("status", "body", "ctype", "close")

    def __init__(self, status: int, body: bytes, ctype: str, close: bool = False) -> None:
        self.status, self.body, self.ctype, self.close = status, body, ctype, close


def text(status: int, body: str) -> Response:
    return Response(status, body.encode(), TEXT)


def json_response(status: int, obj: object, close: bool = False) -> Response:
    return Response(status, (json.dumps(obj, ensure_ascii=False) + "\n").encode(), JSON, close)


class _Conn:
    """One client connection: its socket and what was read from it but not used yet."""

    __slots__ = ("sock", "fd", "peer", "buf", "scan", "deadline")

    def __init__(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        self.sock, self.fd, self.peer = sock, sock.fileno(), peer
        self.buf = bytearray()
        self.scan = 0  # where head_end may resume searching buf
        self.deadline = 0.0  # monotonic time the loop closes it at, while it waits there


class Request:
    """One request as a handler sees it. The body is read only if the handler asks for it."""

    __slots__ = ("method", "target", "path", "query", "fields", "client", "_conn", "_left",
                 "_timeout")

    def __init__(self, method: str, target: str, fields: dict[str, str], conn: _Conn,
                 length: int, body_timeout: float) -> None:
        self.method, self.target, self.fields = method, target, fields
        self.path, _, self.query = target.partition("?")
        self.client = conn.peer
        self._conn, self._left = conn, length
        self._timeout = body_timeout + length / MIN_RATE

    def header(self, name: str, default: str = "") -> str:
        """A request header field's value (name in any case; repeated fields joined by ", ")."""
        return self.fields.get(name.lower(), default)

    def local(self) -> tuple[str, int]:
        """The address the client connected to, as this server sees it."""
        address = self._conn.sock.getsockname()
        return str(address[0]), int(address[1])

    def body(self) -> bytes:
        """The whole body (Content-Length bytes). Raises ConnectionError or TimeoutError if the
        client stops sending it; the server then closes the connection without an answer."""
        conn, n = self._conn, self._left
        data = bytearray(n)  # one allocation of the announced size, filled in place
        got = min(n, len(conn.buf))
        deadline = time.monotonic() + self._timeout
        with memoryview(data) as view:
            view[:got] = conn.buf[:got]
            del conn.buf[:got]
            while got < n:
                conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
                count = conn.sock.recv_into(view[got:], min(n - got, CHUNK))
                if not count:
                    raise ConnectionError("the client closed the connection in the middle of "
                                          "a body")
                got += count
        self._left = 0
        return bytes(data)

    def skip_body(self) -> None:
        """Read and drop what is left of the body (the connection then carries the next one)."""
        conn, n = self._conn, self._left
        got = min(n, len(conn.buf))
        del conn.buf[:got]
        n -= got
        scratch = bytearray(min(n, CHUNK))
        deadline = time.monotonic() + self._timeout
        while n > 0:
            conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
            count = conn.sock.recv_into(scratch, min(n, CHUNK))
            if not count:
                raise ConnectionError("the client closed the connection in the middle of a body")
            n -= count
        self._left = 0


Handler = Callable[[Request], Response]


class Server:
    """An HTTP/1.1 server bound exactly to (ip, port) for one backend node. See the module."""

    def __init__(self, ip: str, port: int, handler: Handler, backend: str, *,
                 methods: Sequence[str] = ("GET", "POST"), max_body: int = 1024 * 1024,
                 internal_paths: frozenset[str] = frozenset(),
                 at_once: frozenset[str] = frozenset(),
                 idle_timeout: float = IDLE_TIMEOUT, head_timeout: float = HEAD_TIMEOUT,
                 body_timeout: float = BODY_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                 max_workers: int = MAX_WORKERS) -> None:
        self.handler, self.backend = handler, backend
        self.methods, self.max_body = frozenset(methods), max_body
        self.not_counted = NOT_COUNTED | internal_paths
        # paths the loop answers itself (only uncounted ones: see _answer_here)
        self.at_once = (at_once & self.not_counted) | {STATS_PATH}
        self.idle_timeout, self.head_timeout = idle_timeout, head_timeout
        self.body_timeout = body_timeout
        self.max_connections, self.max_workers = max_connections, max_workers
        self.boot = os.urandom(8).hex()
        self.requests = 0
        self._lock = threading.Lock()  # requests, _open, _back, _closed
        self._sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET,
                                   socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
        self._waiting: dict[int, _Conn] = {}  # fd -> connection waiting in the loop
        self._open = 0  # connections accepted and not closed (waiting, queued or in a worker)
        self._back: list[_Conn] = []  # handed back by workers, for the loop to take
        self._closed = False
        self._jobs: deque[_Conn] = deque()
        self._jobs_cv = threading.Condition(threading.Lock())
        self._workers = self._idle_workers = 0

    def label(self) -> str:
        """The bound address as IP:PORT."""
        return f"{self.address[0]}:{self.address[1]}"

    # ------------------------------------------------------------------ the loop
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
        with self._jobs_cv:
            self._jobs_cv.notify_all()
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
            conn = _Conn(sock, (str(peer[0]), int(peer[1])))
            self._wait(conn, time.monotonic() + self.idle_timeout)

    def _wait(self, conn: _Conn, deadline: float) -> None:
        conn.deadline = deadline
        self._waiting[conn.fd] = conn
        self._poll.register(conn.fd, select.EPOLLIN)

    def _unwait(self, conn: _Conn) -> None:
        del self._waiting[conn.fd]
        self._poll.unregister(conn.fd)

    def _readable(self, conn: _Conn) -> None:
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

    def _answer_here(self, conn: _Conn) -> bool:
        """Answer a lone GET of an `at_once` path (the health check, the stats) in the loop
        itself, if the answer goes out in one non-blocking write; False: a worker answers it.

        At 500 backends checked every second, handing each check to a worker thread and the
        connection back cost the workloads about a fifth of a core in all (two thread switches
        and a wake-up per check); answered here, a check costs the workload half as much. Only
        a request alone in the buffer, without a body, qualifies; a client that does not read
        its answers (the write would block) loses its connection, as it would lose it to
        `body_timeout` in a worker."""
        if request_path(conn.buf) not in self.at_once or head_end(conn.buf) != len(conn.buf):
            return False
        try:
            method, target, version, fields = parse_request_head(bytes(conn.buf))
        except HttpError:
            return False
        if method != "GET" or method not in self.methods or "content-length" in fields or "transfer-encoding" in fields:
            return False
        conn.buf.clear()
        if target.partition("?")[0] == STATS_PATH:
            answer = self._stats()
        else:
            try:
                answer = self.handler(Request(method, target, fields, conn, 0, 0.0))
            except Exception as exc:  # last line of defence for one request
                log(f"error: {method} {target[:200]}: {type(exc).__name__}: {exc}")
                answer = json_response(500, {"error": "internal error"}, close=True)
        close = wants_close(version, fields) or answer.close
        data = self._encode(answer, close=close, head_only=False)
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

    def _drop(self, conn: _Conn) -> None:
        """Close a connection that is nobody's (no longer waiting, or its worker is done)."""
        try:
            conn.sock.close()
        finally:
            with self._lock:
                self._open -= 1

    # ------------------------------------------------------------------ the workers
    def _dispatch(self, conn: _Conn) -> None:
        """Queue a connection with a complete head (or an oversized one) for a worker.

        The control plane's requests (health checks, stats) and the workload's internal ones
        (search's replication between peers) never wait behind customers' requests: they go
        first in the queue and may use RESERVED_WORKERS more threads. Otherwise a backend
        whose workers all wait (on a slow upstream, on peers that wait on it in turn) would
        fail its health checks, or its peers' replication, for being busy."""
        urgent = request_path(conn.buf) in self.not_counted
        limit = self.max_workers + (RESERVED_WORKERS if urgent else 0)
        with self._jobs_cv:
            if urgent:
                self._jobs.appendleft(conn)
            else:
                self._jobs.append(conn)
            if len(self._jobs) > self._idle_workers and self._workers < limit:
                try:
                    threading.Thread(target=self._worker, name="httpd-worker",
                                     daemon=True).start()
                    self._workers += 1
                    return
                except RuntimeError as exc:  # no thread to be had: a running worker takes it
                    log(f"worker thread: {exc}")
            self._jobs_cv.notify()

    def _worker(self) -> None:
        while True:
            with self._jobs_cv:
                if not self._jobs and not self._closed:
                    self._idle_workers += 1
                    self._jobs_cv.wait(WORKER_IDLE)
                    self._idle_workers -= 1
                if not self._jobs:  # no work for a while (or another worker took it): end
                    self._workers -= 1
                    last = self._workers == 0
                    break
                conn = self._jobs.popleft()
            self._work(conn)
        if last and _trim is not None:
            _trim(0)  # a burst is over: give back what it left free

    def _work(self, conn: _Conn) -> None:
        """Answer every complete request in the connection's buffer; then hand it back to the
        loop, or close it."""
        try:
            keep = True
            while keep:
                end = head_end(conn.buf)
                if end < 0:
                    error = oversized(conn.buf)
                    if error is not None:
                        self._refuse(conn, error)
                        keep = False
                    break
                head = bytes(conn.buf[:end])
                del conn.buf[:end]
                keep = self._exchange(conn, head)
                while conn.buf and conn.buf[0] in b"\r\n":  # blank lines between requests
                    del conn.buf[0]
        except OSError:  # TimeoutError and ConnectionError included: the client is gone
            keep = False
        except Exception as exc:  # last line of defence for one connection
            log(f"error: {type(exc).__name__}: {exc}")
            keep = False
        if keep:
            conn.scan = max(0, len(conn.buf) - 2)
            with self._lock:
                keep = not self._closed
                if keep:
                    self._back.append(conn)
        if not keep:
            self._drop(conn)
        self._wake()  # a connection to take back, or a free slot for the next one

    def _exchange(self, conn: _Conn, head: bytes) -> bool:
        """One request and its answer; whether the connection may carry another."""
        try:
            method, target, version, fields = parse_request_head(head)
            if "transfer-encoding" in fields:
                raise HttpError(411, "chunked bodies are not supported; send Content-Length")
            length = content_length(fields)
        except HttpError as exc:
            self._refuse(conn, exc)
            return False
        req = Request(method, target, fields, conn, length, self.body_timeout)
        stats = method == "GET" and req.path == STATS_PATH
        supported = method in self.methods
        if supported and not stats and req.path not in self.not_counted:
            with self._lock:
                self.requests += 1
        head_only = method == "HEAD"
        if length > self.max_body:
            self._refuse(conn, HttpError(413, f"body larger than {self.max_body} bytes"),
                         head_only)
            return False
        if stats:
            answer = self._stats()
        elif not supported:
            answer = json_response(501, {"error": f"method {method} is not supported here"})
        else:
            try:
                answer = self.handler(req)
            except (ConnectionError, TimeoutError):
                raise  # the client went away in the middle of its body: no answer
            except Exception as exc:  # last line of defence for one request
                log(f"error: {method} {target[:200]}: {type(exc).__name__}: {exc}")
                answer = json_response(500, {"error": "internal error"}, close=True)
        req.skip_body()
        close = wants_close(version, fields) or answer.close
        self._send(conn, answer, close=close, head_only=head_only)
        return not close

    def _stats(self) -> Response:
        """GET STATS_PATH: the requests counted so far and this process's boot id."""
        with self._lock:
            count = self.requests
        return json_response(200, {"requests": count, "boot": self.boot})

    def _refuse(self, conn: _Conn, error: HttpError, head_only: bool = False) -> None:
        """Answer a request that will not be read to its end, and end the connection.

        The client may still be sending what will not be read; closing at once could reset
        the connection before it reads this answer (RFC 9112, 9.6). So stop writing, and read
        and drop what comes for a moment (LINGER seconds, at most LINGER_BYTES) first."""
        self._send(conn, json_response(error.status, {"error": error.message}), close=True,
                   head_only=head_only)
        conn.sock.shutdown(socket.SHUT_WR)
        deadline, scratch, total = time.monotonic() + LINGER, bytearray(CHUNK), 0
        try:
            while total < LINGER_BYTES:
                conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
                count = conn.sock.recv_into(scratch)
                if not count:
                    break
                total += count
        except OSError:
            pass

    def _head(self, answer: Response, *, close: bool) -> bytes:
        fields = [("Server", "facade"), ("Date", http_date()), ("Content-Type", answer.ctype),
                  ("Content-Length", str(len(answer.body)))]
        if close:
            fields.append(("Connection", "close"))
        fields.append(("X-Backend", self.backend))
        return response_head(answer.status, fields)

    def _encode(self, answer: Response, *, close: bool, head_only: bool) -> bytes:
        """A small answer as one write: its head, and its body unless head_only."""
        head = self._head(answer, close=close)
        return head if head_only else head + answer.body

    def _send(self, conn: _Conn, answer: Response, *, close: bool, head_only: bool) -> None:
        body = answer.body
        conn.sock.settimeout(self.body_timeout + len(body) / MIN_RATE)
        if head_only or len(body) <= SEND_IN_ONE:
            conn.sock.sendall(self._encode(answer, close=close, head_only=head_only))
        else:
            conn.sock.sendall(self._head(answer, close=close))
            conn.sock.sendall(body)


# ---------------------------------------------------------------------- running a workload
def lean_malloc() -> None:
    """Tune glibc's allocator for a small long-running server; call once, before any thread.

    - One arena for all threads: glibc gives each new thread its own (up to 8 per core) and
      never returns them (about 3 MB more after a burst of 32 clients).
    - Blocks of 128 KiB or more always mapped on their own and unmapped when freed: glibc
      otherwise raises that threshold after the first large free, and a large body's memory
      stays in the heap for good.
    - Give back now what compiling the modules left free in the heap (about 1 MB when the
      bytecode is not cached, e.g. a read-only source tree without __pycache__), and again
      whenever the last worker thread ends, i.e. after a burst of requests.

    Costs the ctypes import (about 0.2 MB); does nothing where there is no glibc."""
    import ctypes

    global _trim
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, 1)
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        _trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    _trim(0)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def options(argv: list[str] | None, prog: str, required: Sequence[str],
            optional: Sequence[str] = ()) -> dict[str, str]:
    """`--name VALUE` / `--name=VALUE` options (argparse costs a workload a megabyte). Every
    required one must be given; a mistake prints usage and exits with status 2, as argparse."""
    args = sys.argv[1:] if argv is None else argv
    known = [*required, *optional]
    usage = f"usage: {prog} " + " ".join(
        [f"--{k} {k.upper().replace('-', '_')}" for k in required]
        + [f"[--{k} {k.upper().replace('-', '_')}]" for k in optional])
    if "-h" in args or "--help" in args:
        print(usage)
        raise SystemExit(0)
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg[2:].partition("=")
        if not arg.startswith("--") or name not in known:
            _usage_error(usage, f"unrecognized argument: {arg}")
        if not eq:
            if i + 1 >= len(args):
                _usage_error(usage, f"argument --{name}: expected one argument")
            i, value = i + 1, args[i + 1]
        found[name] = value
        i += 1
    missing = [f"--{k}" for k in required if k not in found]
    if missing:
        _usage_error(usage, f"the following arguments are required: {', '.join(missing)}")
    if "port" in found and not (found["port"].isascii() and found["port"].isdigit()
                                and int(found["port"]) < 65536):
        _usage_error(usage, f"argument --port: invalid port {found['port']!r}")
    return found


def _usage_error(usage: str, message: str) -> None:
    prog = usage.split()[1]
    print(f"{usage}\n{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


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
