"""What a handler answers (Response) and how an answer goes on the wire.

Every answer carries `X-Backend: NODE` and a Content-Length, and `Connection: close` when the
connection ends after it. A small answer goes out in one write with its head.
"""

from __future__ import annotations

import socket
import time

from facade.workloads._http1 import HttpError, http_date, response_head
from facade.workloads._httpd.limits import CHUNK, LINGER, LINGER_BYTES, MIN_RATE, SEND_IN_ONE
from facade.workloads._httpd.request import Conn

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
    import json  # here: an echo, which answers JSON only to /whoami, boots without json and re

    return Response(status, (json.dumps(obj, ensure_ascii=False) + "\n").encode(), JSON, close)


def head(answer: Response, backend: str, *, close: bool) -> bytes:
    """The answer's status line and header fields, ending in the empty line."""
    fields = [("Server", "facade"), ("Date", http_date()), ("Content-Type", answer.ctype),
              ("Content-Length", str(len(answer.body)))]
    if close:
        fields.append(("Connection", "close"))
    fields.append(("X-Backend", backend))
    return response_head(answer.status, fields)


def encode(answer: Response, backend: str, *, close: bool, head_only: bool) -> bytes:
    """A small answer as one write: its head, and its body unless head_only."""
    first = head(answer, backend, close=close)
    return first if head_only else first + answer.body


def send(conn: Conn, answer: Response, backend: str, body_timeout: float, *, close: bool,
         head_only: bool) -> None:
    """Write an answer on a blocking socket, within body_timeout plus 1 s per MIN_RATE bytes."""
    body = answer.body
    conn.sock.settimeout(body_timeout + len(body) / MIN_RATE)
    if head_only or len(body) <= SEND_IN_ONE:
        conn.sock.sendall(encode(answer, backend, close=close, head_only=head_only))
    else:
        conn.sock.sendall(head(answer, backend, close=close))
        conn.sock.sendall(body)


def refuse(conn: Conn, error: HttpError, backend: str, body_timeout: float,
           head_only: bool = False) -> None:
    """Answer a request that will not be read to its end, and end the connection.

    The client may still be sending what will not be read; closing at once could reset
    the connection before it reads this answer (RFC 9112, 9.6). So stop writing, and read
    and drop what comes for a moment (LINGER seconds, at most LINGER_BYTES) first."""
    send(conn, json_response(error.status, {"error": error.message}), backend, body_timeout,
         close=True, head_only=head_only)
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
