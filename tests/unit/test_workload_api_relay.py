"""The private API's relay (workloads/api_relay.py), run as a real subprocess on loopback: what
a client sends reaches the unix socket it was given and the answer comes back, a half-close
passes, and with nothing at the socket a client's connection is closed (the relay goes
nowhere else)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.workload_procs import HTTP_TIMEOUT, IP, Workloads, free_port

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _recv_all(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


class Upper:
    """A unix-socket server standing in for the API: reads a connection to its end, answers
    it in capitals with the count of connections so far, and closes."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.count = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.count += 1
                conn.sendall(_recv_all(conn).upper() + f" #{self.count}".encode())


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    w = Workloads(tmp_path)
    try:
        port = free_port()
        path = tmp_path / "api.sock"
        w.start("facade.workloads.api_relay", "--name", "api-b1", "--ip", IP, "--port",
                str(port), "--api-socket", str(path))
        yield port, path
    finally:
        w.stop_all()


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection((IP, port), timeout=HTTP_TIMEOUT) as c:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)  # the half-close reaches the API's side
        return _recv_all(c)


def test_relays_to_the_socket_both_ways(relay: tuple[int, Path]) -> None:
    port, path = relay
    api = Upper(path)
    big = b"get /v1/networks " * 10000  # several chunks each way
    assert _exchange(port, big) == big.upper() + b" #1"
    assert _exchange(port, b"again") == b"AGAIN #2"
    assert api.count == 2


def test_no_socket_closes_the_client(relay: tuple[int, Path]) -> None:
    port, path = relay
    assert not path.exists()
    try:  # closed, nothing answered (reset: the relay never read what was sent)
        assert _exchange(port, b"GET / HTTP/1.1\r\n\r\n") == b""
    except ConnectionResetError:
        pass
    Upper(path)  # the API back: the same relay reaches it, with no restart
    assert _exchange(port, b"x") == b"X #1"
