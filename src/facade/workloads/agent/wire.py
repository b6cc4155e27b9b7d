"""HTTP on the wire for the agent: one request read under limits, one JSON answer written.

Called by `routes.serve_connection` for each accepted connection. The request is read through
`facade.bounded_http.CappedReader`, so nothing past the limits is ever received, and its head
is parsed by the standard library (`http.client.parse_headers`, the parser `http.server`
uses; `http.server` itself would add about 20 ms to the agent's start for nothing it needs).
Limits: the whole request (line, fields, body) MAX_REQUEST, 8 KiB (more: 431 while in the
head, 413 in the body); at most 100 header fields (431); by the connection's deadline (408);
a malformed request line or field 400; a chunked body 411.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
from dataclasses import dataclass

from facade.bounded_http import CappedReader, TooLarge

MAX_REQUEST = 8 * 1024

REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
    413: "Content Too Large", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]


class _Lines:
    """The reader http.client.parse_headers reads lines from, remembering the last one: an
    empty last line means the client left before the end of the head."""

    def __init__(self, fp: io.BufferedIOBase) -> None:
        self.fp = fp
        self.last = b""

    def readline(self, limit: int = -1) -> bytes:
        self.last = self.fp.readline(limit)
        return self.last


def _head(rfile: io.BufferedIOBase) -> tuple[str, str, dict[str, str]] | None:
    """(method, target, fields with lower-cased names), None if the client left first."""
    line = rfile.readline(MAX_REQUEST + 1)
    if not line.endswith(b"\n"):
        return None
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise HttpError(400, "malformed request line")
    lines = _Lines(rfile)
    try:
        message = http.client.parse_headers(lines)
    except http.client.HTTPException as exc:  # more than 100 fields
        raise HttpError(431, f"request head: {exc}") from None
    if lines.last not in (b"\r\n", b"\n"):
        return None
    fields = message.items()
    if message.defects or any("\n" in value for _, value in fields):  # bad or folded lines
        raise HttpError(400, "malformed header")
    return parts[0], parts[1], {name.lower(): value.strip() for name, value in fields}


def read_request(conn: socket.socket, deadline: float) -> Request | None:
    """One request (head and any Content-Length body, MAX_REQUEST bytes in all, received by
    `deadline`); None if the client left before sending it whole."""
    rfile = io.BufferedReader(CappedReader(conn, MAX_REQUEST, "request", deadline))
    try:
        try:
            head = _head(rfile)
        except TooLarge as exc:
            raise HttpError(431, str(exc)) from None
        if head is None:
            return None
        method, target, headers = head
        if "transfer-encoding" in headers:
            raise HttpError(411, "chunked bodies are not supported; send Content-Length")
        try:
            length = int(headers.get("content-length", "0"))
            if length < 0:
                raise ValueError
        except ValueError:
            raise HttpError(400, "invalid Content-Length") from None
        if length > MAX_REQUEST:
            raise HttpError(413, f"request larger than {MAX_REQUEST} bytes")
        try:  # read (and ignore) the body so closing does not reset the reply
            if len(rfile.read(length)) < length:
                return None
        except TooLarge as exc:
            raise HttpError(413, str(exc)) from None
    except TimeoutError:
        raise HttpError(408, "request timed out") from None
    return Request(method, target, headers)


def respond(conn: socket.socket, status: int, obj: object,
            extra: dict[str, str] | None = None) -> None:
    body = (json.dumps(obj) + "\n").encode()
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
            "Content-Type: application/json", f"Content-Length: {len(body)}",
            "Cache-Control: no-store", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (extra or {}).items()]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
