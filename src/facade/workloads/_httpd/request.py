"""A client connection (Conn) and one request on it as a handler sees it (Request): the body is
read only when the handler asks for it, within the body's time limit."""

from __future__ import annotations

import socket
import time

from facade.workloads._httpd.limits import CHUNK, MIN_RATE


class Conn:
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

    def __init__(self, method: str, target: str, fields: dict[str, str], conn: Conn,
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
