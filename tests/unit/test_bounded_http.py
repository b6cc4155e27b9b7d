"""One capped HTTP exchange on http.client (facade.bounded_http) against canned answers on
loopback: the framings it reads, what it sends, and caps that refuse an answer before it is
read whole."""

from __future__ import annotations

import socket
import time

import pytest

from facade import bounded_http
from facade.bounded_http import MAX_BODY, MAX_FRAMING, MAX_HEAD, TooLarge, exchange, read_body
from tests.unit.canned_http import IP, canned, connected, endless, trickle

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _get(port: int, **kw: object) -> tuple[bounded_http.Response, socket.socket]:
    sock = connected(port)
    answer = exchange(sock, IP, port, "GET", "/x?y=1", [("Host", f"{IP}:{port}")], **kw)  # type: ignore[arg-type]
    return answer, sock


def test_a_content_length_answer_and_the_request_sent_as_given() -> None:
    with canned(b"HTTP/1.1 201 Created\r\nX-Backend: b1\r\nContent-Length: 5\r\n\r\nhello"
                b"ignored") as (port, received):
        with connected(port) as sock:
            answer = exchange(sock, IP, port, "POST", "/d?x=1",
                              [("Host", "h:1"), ("Connection", "close")], b"data")
            assert (answer.status, answer.getheader("x-backend")) == (201, "b1")
            assert read_body(answer) == b"hello"
    head, _, body = received[0].partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [b"POST /d?x=1 HTTP/1.1", b"Host: h:1", b"Connection: close",
                                   b"Content-Length: 4"]
    assert body == b"data"


def test_chunked_after_a_100_continue_and_an_answer_ended_by_the_close() -> None:
    with canned(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                b"\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n") as (port, _):
        answer, sock = _get(port)
        with sock:
            assert (answer.status, read_body(answer)) == (200, b"hello world")
    with canned(b"HTTP/1.0 200 OK\r\n\r\nuntil the end") as (port, _):
        answer, sock = _get(port)
        with sock:
            assert read_body(answer) == b"until the end"


def test_a_body_of_exactly_the_cap_is_read() -> None:
    with canned(b"HTTP/1.0 200 OK\r\n\r\n" + b"a" * 1000) as (port, _):
        answer, sock = _get(port, max_body=1000)
        with sock:
            assert read_body(answer) == b"a" * 1000


def test_a_body_cut_short_is_returned_as_far_as_it_came() -> None:
    with canned(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort") as (port, _):
        answer, sock = _get(port)
        with sock:
            assert read_body(answer) == b"short"
    with canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel") as (port, _):
        answer, sock = _get(port)
        with sock:
            assert read_body(answer) == b""  # http.client keeps whole chunks only


def test_an_endless_head_is_refused_at_its_cap() -> None:
    with canned(endless(b"HTTP/1.1 200 OK\r\n", b"X-Pad: " + b"a" * 2000 + b"\r\n")) as (port, _):
        with connected(port) as sock, pytest.raises(TooLarge, match="answer head larger than "
                                                    f"{MAX_HEAD} bytes"):
            exchange(sock, IP, port, "GET", "/", [])


def test_an_announced_body_over_the_cap_is_refused_unread() -> None:
    def announce(conn: socket.socket) -> None:  # then stalls: reading would time out
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode())
        conn.recv(1)

    with canned(announce) as (port, _):
        answer, sock = _get(port)
        with sock:
            start = time.monotonic()
            with pytest.raises(TooLarge, match=f"answer body of {MAX_BODY + 1} bytes is larger "
                                               f"than {MAX_BODY} bytes"):
                read_body(answer)
            assert time.monotonic() - start < 1


@pytest.mark.parametrize("head, piece", [
    (b"HTTP/1.0 200 OK\r\n\r\n", b"x" * 65536),  # ended by the close, which never comes
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"10000\r\n" + b"x" * 65536
     + b"\r\n"),
])
def test_an_endless_body_is_refused_after_the_cap_not_read_whole(head: bytes,
                                                                 piece: bytes) -> None:
    with canned(endless(head, piece)) as (port, _):
        answer, sock = _get(port)
        with sock:
            with pytest.raises(TooLarge, match=f"answer body larger than {MAX_BODY} bytes"):
                read_body(answer)
            assert answer.capped.received <= MAX_HEAD + MAX_BODY + MAX_FRAMING


def test_tiny_chunks_meet_the_framing_cap() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with canned(endless(chunked, b"1\r\nx\r\n" * 1000)) as (port, _):
        answer, sock = _get(port, max_body=100_000)  # 600 KB of framing before the body's cap
        with sock, pytest.raises(TooLarge, match="answer body and framing larger than "):
            read_body(answer)


def test_a_deadline_bounds_all_reads_together() -> None:
    slow = trickle(b"HTTP/1.1 200 OK\r\n", b"X: y\r\n", times=50, gap=0.05)
    with canned(slow) as (port, _), connected(port, timeout=1.0) as sock:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            exchange(sock, IP, port, "GET", "/", [], deadline=time.monotonic() + 0.3)
        assert time.monotonic() - start < 0.6


@pytest.mark.parametrize("path, fields", [
    ("/a b", []), ("/\r\nX: y", []), ("/", [("Bad:Name", "v")]), ("/", [("X", "a\r\nY: z")]),
])
def test_a_request_that_cannot_be_sent_is_a_value_error(path: str,
                                                        fields: list[tuple[str, str]]) -> None:
    with socket.socket() as sock, pytest.raises(ValueError):
        exchange(sock, IP, 1, "GET", path, fields)
