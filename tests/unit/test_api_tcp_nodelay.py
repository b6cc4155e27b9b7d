"""The API's TCP connections are NODELAY (api/server.py `tcp_socket`): an answer written in two
parts must not wait for the client's delayed ACK (40 ms a request on a kept-alive connection,
seen as bench/scale.py's reads going from 8-17 ms to 52 ms). Checked on connections asyncio
accepts on the socket, as uvicorn serves them, against the socket uvicorn binds by itself."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn

from facade.api.server import tcp_socket

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _nodelay_of_accepted(listener: socket.socket) -> int:
    """TCP_NODELAY of a connection asyncio accepted on `listener` (1 or 0)."""
    async def run() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()

    return asyncio.run(run())


def _config() -> uvicorn.Config:
    return uvicorn.Config(app=None, host="127.0.0.1", port=0)


def test_the_apis_connections_are_nodelay() -> None:
    listener = tcp_socket(_config())
    assert listener.proto == socket.IPPROTO_TCP
    assert _nodelay_of_accepted(listener) == 1


def test_uvicorns_own_socket_would_not_be() -> None:
    """Why tcp_socket exists (the pinned uvicorn): should this fail, a uvicorn that sets
    NODELAY itself came, and tcp_socket may go."""
    assert _nodelay_of_accepted(_config().bind_socket()) == 0
