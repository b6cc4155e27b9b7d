"""The http_echo workload, run as a real subprocess on loopback and spoken to over real HTTP."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.unit.workload_procs import (
    HTTP_TIMEOUT,
    IP,
    Workloads,
    free_port,
    request,
)

pytestmark = pytest.mark.no_store  # tests/conftest.py


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    w = Workloads(tmp_path_factory.mktemp("echo"))
    try:
        port = free_port()
        w.start("facade.workloads.http_echo", "--name", "echo-1", "--ip", IP, "--port", str(port))
        yield port
    finally:
        w.stop_all()


@pytest.fixture
def conn(echo: int) -> Iterator[http.client.HTTPConnection]:
    c = http.client.HTTPConnection(IP, echo, timeout=HTTP_TIMEOUT)
    try:
        yield c
    finally:
        c.close()


def test_any_path_and_method_answers_the_node_name(conn: http.client.HTTPConnection) -> None:
    for method, path, body in [("GET", "/", None), ("GET", "/a/b?x=1", None),
                               ("POST", "/submit", b"payload" * 1000), ("POST", "/health", b"")]:
        status, headers, data = request(conn, method, path, body)
        assert (status, data) == (200, b"echo-1\n"), (method, path)
        assert headers["Content-Type"].startswith("text/plain")
        assert headers["X-Backend"] == "echo-1"


def test_health_and_whoami(conn: http.client.HTTPConnection, echo: int) -> None:
    status, headers, data = request(conn, "GET", "/health")
    assert (status, data, headers["X-Backend"]) == (200, b"ok\n", "echo-1")
    status, headers, data = request(conn, "GET", "/whoami")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert conn.sock is not None
    client_ip, client_port = conn.sock.getsockname()[:2]
    assert json.loads(data) == {
        "node": "echo-1", "client": f"{client_ip}:{client_port}", "server": f"{IP}:{echo}",
    }


def test_head_has_length_but_no_body(conn: http.client.HTTPConnection) -> None:
    status, headers, data = request(conn, "HEAD", "/anything")
    assert (status, data, headers["Content-Length"]) == (200, b"", "7")
    assert headers["X-Backend"] == "echo-1"
    assert request(conn, "GET", "/health")[2] == b"ok\n"  # the connection is still usable


def test_keep_alive_serves_several_requests_on_one_connection(
    conn: http.client.HTTPConnection,
) -> None:
    clients = set()
    request(conn, "GET", "/")
    first_sock = conn.sock
    for i in range(5):
        request(conn, "POST", "/p", b"x" * i)
        request(conn, "HEAD", "/h")
        status, _, data = request(conn, "GET", "/whoami")
        assert status == 200
        clients.add(json.loads(data)["client"])
        assert conn.sock is first_sock, "the server closed a keep-alive connection"
    assert len(clients) == 1


def test_binds_exactly_the_given_ip(echo: int) -> None:
    with socket.socket() as s:
        s.settimeout(HTTP_TIMEOUT)
        with pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.2", echo))  # also loopback, but not the bound address


def test_error_responses_carry_x_backend(conn: http.client.HTTPConnection) -> None:
    status, headers, _ = request(conn, "PUT", "/x", b"")
    assert status == 501 and headers["X-Backend"] == "echo-1"


def test_sigterm_exits_promptly_with_an_idle_keep_alive_connection(
    workloads: Workloads,
) -> None:
    port = free_port()
    proc = workloads.start(
        "facade.workloads.http_echo", "--name", "echo-2", "--ip", IP, "--port", str(port)
    )
    idle = http.client.HTTPConnection(IP, port, timeout=HTTP_TIMEOUT)
    try:
        assert request(idle, "GET", "/")[2] == b"echo-2\n"
        started = time.monotonic()
        proc.terminate()
        assert proc.wait(10) == 0
        elapsed = time.monotonic() - started
    finally:
        idle.close()
    assert elapsed < 2.0, f"took {elapsed:.2f}s to exit on SIGTERM"
