"""The built-in workloads' HTTP server (facade.workloads._httpd), run in this process on
loopback with short timeouts and spoken to over raw sockets and http.client: the limits, the
timeouts, keep-alive, and concurrent clients."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from facade.workloads._http1 import MAX_FIELDS, MAX_HEAD, MAX_REQUEST_LINE
from facade.workloads._httpd import (
    Handler,
    Request,
    Response,
    Server,
    json_response,
    options,
    text,
)

pytestmark = pytest.mark.no_store  # tests/conftest.py

IP = "127.0.0.1"
TIMEOUT = 5.0  # a client's bound on any one wait; every test below ends well within it
MAX_BODY = 1000


def route(req: Request) -> Response:
    if req.path == "/boom":
        raise RuntimeError("a bug in a route")
    if req.path == "/echo-body":
        return Response(200, req.body(), "application/octet-stream")
    if req.path == "/who":
        return json_response(200, {"client": list(req.client), "local": list(req.local()),
                                   "query": req.query, "x": req.header("X-Thing")})
    return text(200, f"{req.method} {req.path}\n")


@contextmanager
def running(handler: Handler = route, **limits: float) -> Iterator[Server]:
    server = Server(IP, 0, handler, "node-1", methods=("GET", "POST", "HEAD"),
                    max_body=MAX_BODY, internal_paths=frozenset({"/internal"}), **limits)
    loop = threading.Thread(target=server.serve_forever, daemon=True)
    loop.start()
    try:
        yield server
    finally:
        server.shutdown()
        loop.join(TIMEOUT)
        server.close()


@pytest.fixture
def server() -> Iterator[Server]:
    with running() as s:
        yield s


class Raw:
    """A client on a raw socket, to send anything at all and read answers one by one."""

    def __init__(self, server: Server) -> None:
        self.sock = socket.create_connection(server.address, timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, head: bool = False) -> tuple[int, dict[str, str], bytes]:
        """The next answer: status, fields (lower-cased names), body (by Content-Length; none
        after a HEAD request)."""
        status_line = self.file.readline()
        assert status_line.startswith(b"HTTP/1.1 "), f"not an answer: {status_line!r}"
        fields: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            fields[name.lower()] = value.strip()
        body = b"" if head else self.file.read(int(fields["content-length"]))
        return int(status_line.split()[1]), fields, body

    def closed_by_server(self) -> bool:
        """True once the server ended the connection (EOF or reset); waits up to TIMEOUT."""
        try:
            return self.file.read() == b""
        except ConnectionResetError:
            return True


def exchange(server: Server, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with Raw(server) as client:
        client.sendall(raw)
        return client.answer()


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("raw, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /\r\n\r\n", 400),  # HTTP/0.9
    (b"GET  / HTTP/1.1\r\n\r\n", 400),  # two spaces
    (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
    (b"G@T / HTTP/1.1\r\n\r\n", 400),
    (b"GET /a\x01b HTTP/1.1\r\n\r\n", 400),
    (b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400),
    (b"GET relative HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.x\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad name: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
])
def test_a_malformed_request_is_refused_and_the_connection_closed(
        server: Server, raw: bytes, status: int) -> None:
    with Raw(server) as sock:
        sock.sendall(raw)
        got, fields, body = sock.answer()
        assert (got, fields["connection"], fields["x-backend"]) == (status, "close", "node-1")
        assert isinstance(json.loads(body)["error"], str)
        assert sock.closed_by_server()


def test_oversized_heads_get_414_or_431(server: Server) -> None:
    line = b"GET /" + b"a" * MAX_REQUEST_LINE + b" HTTP/1.1\r\n\r\n"
    assert exchange(server, line)[0] == 414
    big = b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"b" * MAX_HEAD + b"\r\n\r\n"
    assert exchange(server, big)[0] == 431
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(MAX_FIELDS + 1))
    assert exchange(server, many + b"\r\n")[0] == 431


def test_a_head_that_never_ends_is_refused_once_it_is_too_large(server: Server) -> None:
    with Raw(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n"
                     + (b"X-Pad: " + b"p" * 990 + b"\r\n") * (MAX_HEAD // 1000 + 2))
        status, fields, _ = sock.answer()  # no blank line was sent: the head never ended
        assert (status, fields["connection"]) == (431, "close")
        assert sock.closed_by_server()


def test_an_oversized_body_gets_413_without_being_read(server: Server) -> None:
    with Raw(server) as sock:
        sock.sendall(b"POST /echo-body HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        status, fields, body = sock.answer()
        assert (status, fields["connection"]) == (413, "close")
        assert str(MAX_BODY) in json.loads(body)["error"]
        assert sock.closed_by_server()


def test_a_body_at_the_limit_is_read_in_pieces(server: Server) -> None:
    payload = bytes(range(256)) * 3 + b"x" * (MAX_BODY - 768)
    with Raw(server) as sock:
        sock.sendall(b"POST /echo-body HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % MAX_BODY
                     + payload[:10])
        time.sleep(0.05)
        sock.sendall(payload[10:500])
        time.sleep(0.05)
        sock.sendall(payload[500:])
        status, _, body = sock.answer()
    assert (status, body) == (200, payload)


def test_unsupported_methods_get_501_and_keep_the_connection(server: Server) -> None:
    with Raw(server) as sock:
        sock.sendall(b"PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                     b"GET /after HTTP/1.1\r\n\r\n")
        status, fields, _ = sock.answer()
        assert (status, fields["x-backend"]) == (501, "node-1")
        assert sock.answer()[2] == b"GET /after\n"  # the PUT's body was skipped


def test_a_route_that_raises_gets_500_and_the_server_goes_on(server: Server) -> None:
    with Raw(server) as sock:
        sock.sendall(b"GET /boom HTTP/1.1\r\n\r\n")
        status, fields, body = sock.answer()
        assert (status, fields["connection"]) == (500, "close")
        assert json.loads(body) == {"error": "internal error"}
        assert sock.closed_by_server()
    assert exchange(server, b"GET /fine HTTP/1.1\r\n\r\n")[2] == b"GET /fine\n"


# --------------------------------------------------------------------------- timeouts
def test_a_slow_head_is_closed_after_head_timeout_even_if_it_trickles() -> None:
    with running(head_timeout=0.5) as server, Raw(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\n")
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(int(TIMEOUT / 0.1)):  # a byte every 0.1 s: never a complete head
                sock.sendall(b"X")
                time.sleep(0.1)
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 2.5, elapsed


def test_a_connection_that_sends_nothing_is_closed_after_idle_timeout() -> None:
    with running(idle_timeout=0.5) as server, Raw(server) as sock:
        sock.sendall(b"GET /one HTTP/1.1\r\n\r\n")
        assert sock.answer()[0] == 200
        started = time.monotonic()
        assert sock.closed_by_server()  # closed by the server, not by our TIMEOUT
        assert 0.3 < time.monotonic() - started < 2.5


def test_a_body_that_stops_coming_is_dropped_after_body_timeout() -> None:
    with running(body_timeout=0.5) as server, Raw(server) as sock:
        sock.sendall(b"POST /echo-body HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly-a-part")
        started = time.monotonic()
        assert sock.closed_by_server()  # no answer: the request never arrived whole
        assert 0.3 < time.monotonic() - started < 2.5
    with running(body_timeout=0.5) as server:  # and the server still answers others
        assert exchange(server, b"GET / HTTP/1.1\r\n\r\n")[0] == 200


# --------------------------------------------------------------------------- keep-alive
def test_keep_alive_carries_many_requests_and_pipelined_ones(server: Server) -> None:
    conn = http.client.HTTPConnection(IP, server.address[1], timeout=TIMEOUT)
    try:
        for i in range(20):
            conn.request("POST" if i % 2 else "GET", f"/n{i}", b"b" * i if i % 2 else None)
            response = conn.getresponse()
            assert response.read() == f"{'POST' if i % 2 else 'GET'} /n{i}\n".encode()
            assert response.getheader("Connection") is None
        first = conn.sock
        conn.request("GET", "/last")
        conn.getresponse().read()
        assert conn.sock is first
    finally:
        conn.close()
    with Raw(server) as sock:  # three requests in one write, answered in order
        sock.sendall(b"GET /a HTTP/1.1\r\n\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n"
                     b"hiHEAD /c HTTP/1.1\r\n\r\n")
        assert sock.answer()[2] == b"GET /a\n"
        assert sock.answer()[2] == b"POST /b\n"
        status, fields, _ = sock.answer(head=True)  # HEAD: the length of a body that is not sent
        assert (status, fields["content-length"]) == (200, "8")
        sock.sendall(b"GET /d HTTP/1.1\r\n\r\n")
        assert sock.answer()[2] == b"GET /d\n"  # nothing of a HEAD body came before it


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
])
def test_connection_close_and_http10_end_after_one_answer(server: Server, raw: bytes) -> None:
    with Raw(server) as sock:
        sock.sendall(raw)
        status, fields, _ = sock.answer()
        assert (status, fields["connection"]) == (200, "close")
        assert sock.closed_by_server()


def test_http10_keep_alive_is_honoured(server: Server) -> None:
    with Raw(server) as sock:
        for _ in range(3):
            sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert sock.answer()[0] == 200


# --------------------------------------------------------------------------- concurrency
def test_concurrent_clients_are_served_in_parallel() -> None:
    clients, rounds = 12, 5
    barrier = threading.Barrier(clients, timeout=TIMEOUT)

    def together(req: Request) -> Response:
        if req.path == "/together":
            barrier.wait()  # only returns once all clients are inside a handler at once
        return text(200, req.path + "\n")

    errors: list[BaseException] = []
    with running(together) as server:
        def client(k: int) -> None:
            conn = http.client.HTTPConnection(IP, server.address[1], timeout=TIMEOUT)
            try:
                for i in range(rounds):
                    path = "/together" if i == 0 else f"/c{k}-{i}"
                    conn.request("GET", path)
                    assert conn.getresponse().read() == f"{path}\n".encode()
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT * 2)
    assert errors == []


def test_health_checks_and_internal_requests_do_not_wait_behind_busy_workers() -> None:
    release = threading.Event()

    def slow(req: Request) -> Response:
        if req.path == "/slow":
            release.wait(TIMEOUT)
        return text(200, req.path + "\n")

    with running(slow, max_workers=2) as server:
        busy = [Raw(server) for _ in range(3)]  # two workers held, one request queued
        try:
            for client in busy:
                client.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
            time.sleep(0.2)
            started = time.monotonic()
            for path in (b"/health", b"/internal", b"/_facade/stats"):
                assert exchange(server, b"GET " + path + b" HTTP/1.1\r\n\r\n")[0] == 200
            assert time.monotonic() - started < TIMEOUT / 2  # the slow ones wait TIMEOUT
            release.set()
            assert [c.answer()[2] for c in busy] == [b"/slow\n"] * 3
        finally:
            release.set()
            for client in busy:
                client.close()


def test_a_lone_health_check_is_answered_by_the_loop_itself() -> None:
    """An at-once path alone in the buffer is answered by the loop's thread (no worker, even
    with every worker busy and none free to start); pipelined, with a body, or a HEAD, it goes
    to a worker as any request; the connection stays open for the next one either way."""
    release = threading.Event()
    threads: list[str] = []

    def handler(req: Request) -> Response:
        threads.append(threading.current_thread().name)
        if req.path == "/slow":
            release.wait(TIMEOUT)
        return text(200, f"{req.method} {req.path}\n")

    server = Server(IP, 0, handler, "node-1", methods=("GET", "POST", "HEAD"),
                    max_body=MAX_BODY, at_once=frozenset({"/health", "/counted"}),
                    max_workers=1)
    loop = threading.Thread(target=server.serve_forever, name="the-loop", daemon=True)
    loop.start()
    busy = Raw(server)
    try:
        busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
        time.sleep(0.2)
        with Raw(server) as client:
            for _ in range(3):  # kept alive between checks
                client.sendall(b"GET /health HTTP/1.1\r\n\r\n")
                status, fields, body = client.answer()
                assert (status, body, fields["x-backend"]) == (200, b"GET /health\n", "node-1")
        assert threads == ["httpd-worker", "the-loop", "the-loop", "the-loop"]
        release.set()
        assert busy.answer()[2] == b"GET /slow\n"
        del threads[:]
        with Raw(server) as client:
            client.sendall(b"GET /health HTTP/1.1\r\n\r\nGET /health HTTP/1.1\r\n\r\n")
            assert [client.answer()[2] for _ in range(2)] == [b"GET /health\n"] * 2
            client.sendall(b"HEAD /health HTTP/1.1\r\n\r\n")
            assert client.answer(head=True)[0] == 200
            client.sendall(b"GET /health HTTP/1.1\r\nContent-Length: 2\r\n\r\nab")
            assert client.answer()[2] == b"GET /health\n"
            # a path that is counted is never answered at once (at_once keeps uncounted ones)
            client.sendall(b"GET /counted HTTP/1.1\r\n\r\n")
            assert client.answer()[2] == b"GET /counted\n"
            client.sendall(b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert client.answer()[1]["connection"] == "close"
            assert client.closed_by_server()
        assert "the-loop" not in threads[:5] and threads[5] == "the-loop"
        assert json.loads(exchange(server, b"GET /_facade/stats HTTP/1.1\r\n\r\n")[2]) == {
            "requests": 2, "boot": server.boot}  # /slow and /counted
    finally:
        release.set()
        busy.close()
        server.shutdown()
        loop.join(TIMEOUT)
        server.close()


def test_past_max_connections_the_longest_idle_one_is_closed() -> None:
    with running(max_connections=2) as server:
        first, second = Raw(server), Raw(server)
        try:
            for sock in (first, second):
                sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
                assert sock.answer()[0] == 200
                # the server starts a connection's idle time once its worker is done with it,
                # just after the answer left: on a busy machine the second's could start first
                time.sleep(0.2)
            assert exchange(server, b"GET /third HTTP/1.1\r\n\r\n")[2] == b"GET /third\n"
            assert first.closed_by_server()  # the oldest idle one made room
            second.sendall(b"GET /still HTTP/1.1\r\n\r\n")
            assert second.answer()[2] == b"GET /still\n"
        finally:
            first.close()
            second.close()


# --------------------------------------------------------------------------- what routes see
def test_routes_see_addresses_query_and_fields(server: Server) -> None:
    with Raw(server) as sock:
        sock.sendall(b"GET http://example.test/who?q=1&r HTTP/1.1\r\nX-Thing: a\r\n"
                     b"x-thing: b\r\n\r\n")
        _, _, body = sock.answer()
        seen = json.loads(body)
        assert seen == {"client": list(sock.sock.getsockname()[:2]), "local": [IP, server.address[1]],
                        "query": "q=1&r", "x": "a, b"}


def test_stats_count_requests_but_not_health_internal_or_stats(server: Server) -> None:
    def stats() -> dict[str, object]:
        return dict(json.loads(exchange(server, b"GET /_facade/stats HTTP/1.1\r\n\r\n")[2]))

    assert stats()["requests"] == 0
    for path in (b"/health", b"/internal", b"/_facade/stats", b"/counted", b"/counted?x"):
        exchange(server, b"GET " + path + b" HTTP/1.1\r\n\r\n")
    exchange(server, b"PUT /not-served HTTP/1.1\r\n\r\n")
    assert stats() == {"requests": 2, "boot": server.boot}  # /counted twice; PUT not served


def test_shutdown_closes_waiting_connections() -> None:
    with running() as server:
        sock = Raw(server)
    try:
        assert sock.closed_by_server()
    finally:
        sock.close()


# --------------------------------------------------------------------------- options
def test_options_parse_like_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    assert options(["--name", "n", "--port=80", "--ip", "10.0.0.1"], "prog",
                   ("name", "ip", "port"), ("extra",)) == {"name": "n", "ip": "10.0.0.1",
                                                           "port": "80"}
    for bad in (["--name", "n"], ["--name", "n", "--ip", "i", "--port", "x"],
                ["--name", "n", "--ip", "i", "--port", "1", "--nope", "1"], ["--name"]):
        with pytest.raises(SystemExit) as exit_:
            options(bad, "prog", ("name", "ip", "port"))
        assert exit_.value.code == 2
        assert "usage: prog" in capsys.readouterr().err
