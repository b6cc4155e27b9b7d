"""The workloads' HTTP client (facade.workloads._httpc) against canned answers from a raw
socket on loopback: every framing it reads, the bounds it keeps, what it sends."""

from __future__ import annotations

import socket

import pytest

from facade.workloads._httpc import BadResponse, request
from tests.unit.canned_http import IP, TIMEOUT, canned

pytestmark = pytest.mark.no_store  # tests/conftest.py


def test_content_length_answer_and_the_request_sent() -> None:
    with canned(b"HTTP/1.1 201 Created\r\nX-Backend: b1\r\nContent-Length: 5\r\n\r\nhello"
                b"ignored") as (port, received):
        status, fields, body = request(IP, port, "POST", "/d?x=1", b"data",
                                       {"X-Facade-Hops": "2"}, timeout=TIMEOUT)
    assert (status, fields["x-backend"], body) == (201, "b1", b"hello")
    head, _, sent_body = received[0].partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [b"POST /d?x=1 HTTP/1.1", f"Host: {IP}:{port}".encode(),
                                   b"Connection: close", b"X-Facade-Hops: 2",
                                   b"Content-Length: 4"]
    assert sent_body == b"data"


def test_chunked_answer_after_a_100_continue() -> None:
    answer = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
    with canned(answer) as (port, _):
        assert request(IP, port, "GET", "/", timeout=TIMEOUT) == (
            200, {"transfer-encoding": "chunked"}, b"hello world")


def test_an_answer_ended_by_the_close_and_one_without_a_body() -> None:
    with canned(b"HTTP/1.0 200 OK\r\n\r\nuntil the end") as (port, _):
        assert request(IP, port, "GET", "/", timeout=TIMEOUT)[2] == b"until the end"
    with canned(b"HTTP/1.1 204 No Content\r\n\r\n") as (port, _):
        assert request(IP, port, "GET", "/", timeout=TIMEOUT) == (204, {}, b"")


@pytest.mark.parametrize("answer", [
    b"", b"not http at all\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1001,
])
def test_what_cannot_be_read_within_the_limit_is_a_bad_response(answer: bytes) -> None:
    with canned(answer) as (port, _), pytest.raises(BadResponse):
        request(IP, port, "GET", "/", timeout=TIMEOUT, limit=1000)


def test_network_errors_and_unsendable_heads() -> None:
    with socket.socket() as unused:
        unused.bind((IP, 0))
        port = unused.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        request(IP, port, "GET", "/", timeout=TIMEOUT)
    for method, target, fields in [("GET", "/a b", {}), ("GET", "/", {"X": "a\r\nB: c"}),
                                   ("G T", "/", {})]:
        with pytest.raises(ValueError):
            request(IP, port, method, target, None, fields, timeout=TIMEOUT)


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind((IP, 0))
        listener.listen(1)  # accepts (in the backlog) but never answers
        with pytest.raises(TimeoutError):
            request(IP, listener.getsockname()[1], "GET", "/", timeout=0.2)
