"""A one-connection HTTP peer on loopback for tests of HTTP clients: it reads a request head
(and the body its Content-Length announces), then writes a canned answer or runs a function
on the connection (to stream without end, or to stall); afterwards, what it received."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

IP = "127.0.0.1"
TIMEOUT = 5.0

Answer = bytes | Callable[[socket.socket], None]


def endless(head: bytes, piece: bytes) -> Callable[[socket.socket], None]:
    """An answer that sends `head`, then `piece` again and again until the client goes."""

    def send(conn: socket.socket) -> None:
        conn.sendall(head)
        try:
            while True:
                conn.sendall(piece)
        except OSError:
            pass

    return send


def trickle(head: bytes, piece: bytes, times: int, gap: float) -> Callable[[socket.socket], None]:
    """An answer that sends `head`, then `piece` every `gap` seconds, `times` times (a workload
    that answers too slowly), until the client goes."""

    def send(conn: socket.socket) -> None:
        conn.sendall(head)
        try:
            for _ in range(times):
                time.sleep(gap)
                conn.sendall(piece)
        except OSError:
            pass

    return send


@contextmanager
def canned(answer: Answer) -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []
    with socket.socket() as listener:
        listener.bind((IP, 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head = data.partition(b"\r\n\r\n")[0].lower()
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name == b"content-length":
                        length = int(value)
                while len(data.partition(b"\r\n\r\n")[2]) < length:
                    data += conn.recv(65536)
                received.append(data)
                if callable(answer):
                    answer(conn)
                else:
                    conn.sendall(answer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield listener.getsockname()[1], received
        finally:
            thread.join(TIMEOUT)


def connected(port: int, timeout: float = TIMEOUT) -> socket.socket:
    """A socket connected to the canned peer, as a namespace's socket would be."""
    sock = socket.create_connection((IP, port), timeout=timeout)
    return sock
