"""The management agent's request reader (facade.workloads.agent.wire) over a socket pair: a
normal request, and every limit refused with its status and a clear message, without reading
more than the limit."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from facade.workloads.agent.wire import MAX_REQUEST, HttpError, Request, read_request, respond

pytestmark = pytest.mark.no_store  # tests/conftest.py


@contextmanager
def client_sends(data: bytes, *, close: bool = True) -> Iterator[tuple[socket.socket, list[int]]]:
    """The agent's end of a connection whose client sends `data` (from a thread: it may be
    more than the socket buffers hold) and then closes its side, or not."""
    agent, client = socket.socketpair()
    sent: list[int] = []

    def send() -> None:
        try:
            client.sendall(data)
            sent.append(len(data))
            if close:
                client.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield agent, sent
    finally:
        agent.close()
        thread.join(5)
        client.close()


def _read(data: bytes, timeout: float = 2.0, close: bool = True) -> Request | None:
    with client_sends(data, close=close) as (agent, _):
        return read_request(agent, time.monotonic() + timeout)


def _refused(data: bytes, timeout: float = 2.0, close: bool = True) -> HttpError:
    with pytest.raises(HttpError) as caught:
        _read(data, timeout, close)
    return caught.value


def test_a_request_and_its_fields() -> None:
    req = _read(b"GET /v1/health?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Facade-HMAC 1:ab \r\n"
                b"Content-Length: 4\r\n\r\nbody")
    assert req == Request("GET", "/v1/health?x=1", {"host": "a", "content-length": "4",
                                                   "authorization": "Facade-HMAC 1:ab"})
    assert _read(b"GET / HTTP/1.0\n\n") == Request("GET", "/", {})  # bare LF lines


@pytest.mark.parametrize("data", [b"", b"GET / HTTP/1.1", b"GET / HTTP/1.1\r\nHost: a\r\n",
                                  b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort"])
def test_a_client_that_leaves_early_gets_no_answer(data: bytes) -> None:
    assert _read(data) is None


def test_a_head_over_the_limit_is_431_and_not_read_whole() -> None:
    data = b"GET /v1/health HTTP/1.1\r\nX-Pad: " + b"a" * 100_000 + b"\r\n\r\n"
    with client_sends(data) as (agent, sent):
        with pytest.raises(HttpError) as caught:
            read_request(agent, time.monotonic() + 2)
        agent.settimeout(5)
        rest = 0
        while chunk := agent.recv(65536):
            rest += len(chunk)
        assert sent == [len(data)]
    assert (caught.value.status, str(caught.value)) == (431, f"request larger than {MAX_REQUEST}"
                                                              " bytes")
    assert len(data) - rest <= MAX_REQUEST  # what the agent received before it refused


def test_a_body_over_the_limit_is_413() -> None:
    announced = _refused(b"POST / HTTP/1.1\r\nContent-Length: 9000\r\n\r\n")
    assert (announced.status, str(announced)) == (413, f"request larger than {MAX_REQUEST} bytes")
    head = b"POST / HTTP/1.1\r\nContent-Length: 8180\r\n\r\n"  # head and body over 8 KiB
    assert _refused(head + b"b" * 8180).status == 413


@pytest.mark.parametrize("data, status, message", [
    (b"garbage\r\n\r\n", 400, "malformed request line"),
    (b"GET / HTTP/2.0\r\n\r\n", 400, "malformed request line"),
    (b"G3T / HTTP/1.1\r\n\r\n", 400, "malformed request line"),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400, "malformed header"),
    (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "malformed header"),
    (b"GET / HTTP/1.1\r\nX: y\r\n folded\r\n\r\n", 400, "malformed header"),
    (b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, "invalid Content-Length"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411,
     "chunked bodies are not supported; send Content-Length"),
    (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431,
     "request head: got more than 100 headers"),
])
def test_what_is_refused(data: bytes, status: int, message: str) -> None:
    error = _refused(data)
    assert (error.status, str(error)) == (status, message)


def test_a_slow_client_is_408_by_the_deadline() -> None:
    start = time.monotonic()
    error = _refused(b"GET /v1/health HTTP/1.1\r\n", timeout=0.3, close=False)
    assert (error.status, str(error)) == (408, "request timed out")
    assert time.monotonic() - start < 1


def test_an_answer_is_json_and_closes() -> None:
    agent, client = socket.socketpair()
    with agent, client:
        respond(agent, 405, {"error": "no"}, {"Allow": "GET"})
        agent.shutdown(socket.SHUT_WR)
        out = client.recv(65536)
    assert out == (b'HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\n'
                   b'Content-Length: 16\r\nCache-Control: no-store\r\nConnection: close\r\n'
                   b'Allow: GET\r\n\r\n{"error": "no"}\n')
