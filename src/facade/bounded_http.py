"""One HTTP/1.1 exchange over a socket the caller already made and connected (in a node's
namespace), on the standard library's `http.client`, with caps on what is read back.

Callers: the linux driver's `http_request` (the control plane's signed requests to management
agents, and readiness checks through an endpoint) and the management agent's probes of a
workload. Both make their socket inside a namespace, so `Connection.connect()` only takes it.
The agent's request reader uses `CappedReader` too.

Caps. Nothing beyond a cap is ever received: the socket is read through `CappedReader`, which
refuses to ask the kernel for more, so a huge or endless answer costs at most the cap.
- an answer's head (status line and fields, interim 1xx answers included): MAX_HEAD, 64 KiB
  (http.client's own limits hold as well: 64 KiB a line, 100 fields);
- its body: the caller's `max_body`, MAX_BODY (1 MiB) unless it asks for less; `read_body`
  refuses a longer one before reading it when a Content-Length announces it, and after
  `max_body` + 1 bytes otherwise;
- chunk framing and trailers: MAX_FRAMING (64 KiB) on top of the body.
A cap exceeded raises `TooLarge`, whose message names it. An optional deadline bounds every
read together (TimeoutError after it), not each read on its own.
"""

from __future__ import annotations

import http.client
import io
import socket
import time
from collections.abc import Iterable

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
MAX_FRAMING = 64 * 1024


class TooLarge(Exception):
    """The other side sent more than a cap allows; the message says which cap."""


class CappedReader(io.RawIOBase):
    """A connected socket's incoming bytes, at most `cap` of them until `allow` grants more.

    Asking for a byte beyond the cap raises TooLarge (what: `what` larger than the cap): a
    reader that needs more to finish what it reads (a line, a head) has met a thing too long.
    With a `deadline` (time.monotonic()), every read waits at most until then."""

    def __init__(self, sock: socket.socket, cap: int, what: str,
                 deadline: float | None = None) -> None:
        super().__init__()
        self.sock = sock
        self.received = 0
        self.limit = cap
        self.cap = cap
        self.what = what
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def allow(self, more: int, what: str) -> None:
        """From now on, up to `more` bytes beyond what was received so far."""
        self.cap, self.limit, self.what = self.received + more, more, what

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        room = self.cap - self.received
        if room <= 0:
            raise TooLarge(f"{self.what} larger than {self.limit} bytes")
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out")
            self.sock.settimeout(remaining)
        with memoryview(buffer) as view:
            count = self.sock.recv_into(view[:room])
        self.received += count
        return count


class Connection(http.client.HTTPConnection):
    """http.client's request side over a socket already connected: connect() takes it."""

    def __init__(self, sock: socket.socket, host: str, port: int) -> None:
        super().__init__(host, port, timeout=sock.gettimeout())
        self._made = sock

    def connect(self) -> None:
        self.sock = self._made


class Response(http.client.HTTPResponse):
    """http.client's answer, read through a CappedReader: MAX_HEAD for the head, then the
    body cap and MAX_FRAMING."""

    def __init__(self, sock: socket.socket, method: str, *, max_body: int = MAX_BODY,
                 deadline: float | None = None) -> None:
        super().__init__(sock, method=method)
        self.fp.close()  # the plain file http.client opened: ours reads with caps
        self.capped = CappedReader(sock, MAX_HEAD, "answer head", deadline)
        self.fp = io.BufferedReader(self.capped)
        self.max_body = max_body

    def begin(self) -> None:
        super().begin()
        self.capped.allow(self.max_body + MAX_FRAMING, "answer body and framing")


def exchange(sock: socket.socket, host: str, port: int, method: str, path: str,
             fields: Iterable[tuple[str, str]], body: bytes | None = None, *,
             max_body: int = MAX_BODY, deadline: float | None = None) -> Response:
    """Send one request on `sock` (connected to host:port) and read the answer's head.

    `fields` are sent as given, in order (Host included: none is added, nor Accept-Encoding);
    Content-Length is added when there is a body. Raises ValueError (http.client.InvalidURL
    included) for a request that cannot be sent, OSError (TimeoutError included) for the
    network, TooLarge, and http.client.HTTPException for an answer that is not HTTP/1.x."""
    conn = Connection(sock, host, port)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    except http.client.InvalidURL as exc:
        raise ValueError(str(exc)) from None
    for name, value in fields:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    answer = Response(sock, method, max_body=max_body, deadline=deadline)
    answer.begin()
    return answer


def read_body(answer: Response) -> bytes:
    """The whole body, at most the answer's `max_body` bytes; TooLarge if it is longer (not
    read at all when its Content-Length says so). A body cut short (the connection closed
    in the middle) is returned as far as it came."""
    cap = answer.max_body
    if answer.length is not None and answer.length > cap:
        raise TooLarge(f"answer body of {answer.length} bytes is larger than {cap} bytes")
    try:
        data = answer.read(cap + 1)
    except http.client.IncompleteRead as exc:
        data = exc.partial
    if len(data) > cap:
        raise TooLarge(f"answer body larger than {cap} bytes")
    return data
