"""The linux driver's HTTP client (`http_request` once its socket is connected in the
namespace: probes.http_exchange) against canned answers on loopback: normal and chunked
answers parse as before, an oversized one is refused with a clear error, not read whole, and
every failure is a ProbeResult."""

from __future__ import annotations

import socket

import pytest

from facade.bounded_http import MAX_BODY, MAX_HEAD
from facade.dataplane.linux.probes import http_exchange
from facade.domain.specs import ProbeResult
from tests.unit.canned_http import IP, canned, connected, endless

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _ask(answer: bytes | object, *, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 5.0,
         method: str = "GET") -> tuple[ProbeResult, list[bytes]]:
    with canned(answer) as (port, received):  # type: ignore[arg-type]
        with connected(port, timeout) as sock:
            res = http_exchange(sock, IP, port, "/v1/health", method, body, headers or {})
    return res, received


def test_a_normal_answer_and_the_request_sent() -> None:
    res, received = _ask(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A:  b \r\n"
                         b"Content-Length: 12\r\n\r\n{\"ok\": true}", body=b"{}",
                         headers={"Authorization": "Facade-HMAC 1:ab"}, method="POST")
    assert res == ProbeResult(ok=True, detail="HTTP 200", status=200, body='{"ok": true}',
                              headers={"content-type": "application/json", "x-a": "b",
                                       "content-length": "12"})
    head, _, sent = received[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/health HTTP/1.1" and lines[1].startswith(f"Host: {IP}:".encode())
    assert lines[2:] == [b"Connection: close", b"User-Agent: facade-probe",
                         b"Authorization: Facade-HMAC 1:ab", b"Content-Length: 2"]
    assert sent == b"{}"


def test_a_chunked_answer_and_one_ended_by_the_close() -> None:
    res, _ = _ask(b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"4\r\ndown\r\n0\r\n\r\n")
    assert (res.ok, res.detail, res.status, res.body) == (False, "HTTP 503", 503, "down")
    res, _ = _ask(b"HTTP/1.0 204 No Content\r\n\r\n")
    assert (res.ok, res.status, res.body) == (True, 204, "")
    res, _ = _ask(b"HTTP/1.0 200 OK\r\n\r\nto the end")
    assert res.body == "to the end"


def test_an_oversized_answer_is_refused_with_a_clear_error_not_read_whole() -> None:
    res, _ = _ask(endless(b"HTTP/1.0 200 OK\r\n\r\n", b"x" * 65536))
    assert res == ProbeResult(ok=False, status=200,
                              detail=f"HTTP 200, answer body larger than {MAX_BODY} bytes")
    res, _ = _ask(endless(b"HTTP/1.1 200 OK\r\n", b"X-Pad: " + b"p" * 4000 + b"\r\n"))
    assert res == ProbeResult(ok=False, detail=f"answer head larger than {MAX_HEAD} bytes")


@pytest.mark.parametrize("answer, detail", [
    (b"", "empty response"),
    (b"garbage\r\n\r\n", "bad HTTP response"),
    (b"HTTP/1.1 abc OK\r\n\r\n", "bad status line 'HTTP/1.1 abc OK'"),
])
def test_what_is_not_an_answer(answer: bytes, detail: str) -> None:
    res, _ = _ask(answer)
    assert (res.ok, res.detail, res.status) == (False, detail, None)


def test_a_silent_peer_times_out_and_a_bad_header_is_not_sent() -> None:
    def stall(conn: socket.socket) -> None:
        conn.recv(1)

    res, _ = _ask(stall, timeout=0.2)
    assert res == ProbeResult(ok=False, detail="timed out")
    res, _ = _ask(b"", headers={"X": "a\r\nInjected: 1"})
    assert res == ProbeResult(ok=False, detail="bad header 'X'")
