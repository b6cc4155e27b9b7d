"""A small HTTP/1.1 client for the built-in workloads' calls to other nodes: `web` forwarding to
its upstream appliance, `search` replicating to and catching up from its peers.

One request per connection (`Connection: close`); `timeout` bounds every socket operation, as
http.client's does; answers framed by Content-Length, chunked, or the end of the connection,
and never larger than `limit`. It replaces http.client, which alone costs a workload about
4.5 MB of private memory (it imports email, ssl and more). Stdlib only: `socket`.
"""

from __future__ import annotations

import socket

from facade.workloads._http1 import head_end, parse_response_head

MAX_HEAD = 64 * 1024  # bytes of a response head
MAX_LINE = 4 * 1024  # bytes of a chunk-size or trailer line
CHUNK = 64 * 1024
BODYLESS_METHODS = frozenset({"HEAD"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # sent with Content-Length even if empty


class BadResponse(Exception):
    """The other side answered something that cannot be read as a bounded HTTP/1.x response."""


class _Reader:
    """Buffered reads from a socket; every wait is bounded by the socket's timeout."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(CHUNK)
        self.buf += data
        return bool(data)

    def head(self) -> bytes:
        scan = 0
        while (end := head_end(self.buf, scan)) < 0:
            if len(self.buf) > MAX_HEAD:
                raise BadResponse(f"response head larger than {MAX_HEAD} bytes")
            scan = max(0, len(self.buf) - 2)
            if not self._fill():
                raise BadResponse("the connection closed before a complete response head"
                                  if self.buf else "the connection closed without an answer")
        head = bytes(self.buf[:end])
        del self.buf[:end]
        return head

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise BadResponse("the connection closed in the middle of the body")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def line(self) -> bytes:
        while (end := self.buf.find(b"\n")) < 0:
            if len(self.buf) > MAX_LINE:
                raise BadResponse("chunked framing line too long")
            if not self._fill():
                raise BadResponse("the connection closed in the middle of a chunked body")
        line = bytes(self.buf[:end + 1])
        del self.buf[:end + 1]
        return line.rstrip(b"\r\n")

    def rest(self, limit: int) -> bytes:
        while len(self.buf) <= limit and self._fill():
            pass
        if len(self.buf) > limit:
            raise BadResponse(f"answer larger than {limit} bytes")
        data = bytes(self.buf)
        self.buf.clear()
        return data


def _chunked(reader: _Reader, limit: int) -> bytes:
    out = bytearray()
    while True:
        size_text = reader.line().split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadResponse(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0 or not size_text.isalnum():
            raise BadResponse(f"bad chunk size {size_text[:20]!r}")
        if size == 0:
            while reader.line():  # trailer fields, up to the empty line
                pass
            return bytes(out)
        if len(out) + size > limit:
            raise BadResponse(f"answer larger than {limit} bytes")
        out += reader.exact(size)
        if reader.line():
            raise BadResponse("chunk not followed by CRLF")


def request(host: str, port: int, method: str, target: str, body: bytes | None = None,
            fields: dict[str, str] | None = None, *, timeout: float,
            limit: int = 16 * 1024 * 1024) -> tuple[int, dict[str, str], bytes]:
    """Send one request to host:port (an IP address) and read the answer: (status, fields with
    lower-cased names, body). Raises OSError (TimeoutError included) for the network,
    BadResponse for what came back, ValueError for a field or target that cannot be sent."""
    fields = fields or {}
    for text in (method, target, *fields, *fields.values()):
        if "\r" in text or "\n" in text or "\0" in text:
            raise ValueError(f"cannot send {text[:40]!r} in a request head")
    if not method or not target or " " in method + target:
        raise ValueError(f"cannot send {method[:20]!r} {target[:40]!r} as a request line")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        authority = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in fields.items()]
        if body is not None or method in BODY_METHODS:
            lines.append(f"Content-Length: {len(body or b'')}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        reader = _Reader(sock)
        while True:
            try:
                status, answer = parse_response_head(reader.head())
            except ValueError as exc:
                raise BadResponse(str(exc)) from None
            if not (100 <= status < 200) or status == 101:
                break  # interim answers (100 Continue) come before the real one
        if method in BODYLESS_METHODS or status in (204, 304) or 100 <= status < 200:
            return status, answer, b""
        if "chunked" in answer.get("transfer-encoding", "").lower():
            return status, answer, _chunked(reader, limit)
        if "content-length" in answer:
            length_text = answer["content-length"]
            if not length_text.isascii() or not length_text.isdigit():
                raise BadResponse(f"bad Content-Length {length_text[:20]!r}")
            if int(length_text) > limit:
                raise BadResponse(f"answer larger than {limit} bytes")
            return status, answer, reader.exact(int(length_text))
        return status, answer, reader.rest(limit)
