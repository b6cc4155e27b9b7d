"""`control-plane-api`: the control plane's own API inside a customer's subnet (docs/workloads.md).

    python -m facade.workloads.api_relay --name NODE --ip IP --port PORT --api-socket PATH

The backend of a private API endpoint. It runs in its backend node's network namespace and
nowhere else, listens on IP:PORT there (IP_FREEBIND: the address need not exist yet) and
relays each TCP connection, bytes as they come, to the control plane's unix socket PATH (the
API as `facade up` serves it, token-authenticated as on its TCP port). That socket is its only
way out of the node: it is reached through the file system, which network namespaces do not
divide, while the host's network (its loopback, its other ports) is not in the node's
namespace at all. The target is fixed by the control plane at start; nothing a client sends
chooses it. Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import sys
import threading
from types import FrameType

MAX_CONNS = 256  # connections relayed at once; one more is closed at once
IDLE_S = 120.0  # a connection quiet this long in both directions is closed
CONNECT_S = 5.0  # to connect to the API's socket
CHUNK = 65536
_FREEBIND = 15  # IP_FREEBIND (linux/in.h)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m facade.workloads.api_relay",
                                     description="relay TCP connections to the API's socket")
    parser.add_argument("--name", required=True)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-socket", required=True)
    return parser.parse_args(argv)


def _pump(client: socket.socket, api: socket.socket) -> None:
    """Copy both ways until both sides finished sending or the pair stays idle IDLE_S; an EOF
    on one side is passed on as a half-close, so a client may send its request and close."""
    peer = {client: api, api: client}
    open_ = [client, api]
    while open_:
        ready, _, _ = select.select(open_, [], [], IDLE_S)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(CHUNK)
            if data:
                peer[sock].sendall(data)
                continue
            open_.remove(sock)
            try:
                peer[sock].shutdown(socket.SHUT_WR)
            except OSError:
                return


def _relay(client: socket.socket, path: str, slots: threading.BoundedSemaphore) -> None:
    try:
        with client, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as api:
            api.settimeout(CONNECT_S)
            try:
                api.connect(path)
            except OSError as exc:
                print(f"api_relay: cannot reach the API at {path}: {exc}", file=sys.stderr,
                      flush=True)
                return
            api.settimeout(None)
            try:
                _pump(client, api)
            except OSError:
                return  # a side reset: the pair is done
    finally:
        slots.release()


def _listen(ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, _FREEBIND, 1)
    sock.bind((ip, port))
    sock.listen(128)
    return sock


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    # the socket is connected to by its name in its folder: a state folder's path may be
    # longer than a unix socket address may be (108 bytes)
    folder, name = os.path.split(os.path.abspath(args.api_socket))
    os.chdir(folder)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    listener = _listen(args.ip, args.port)
    print(f"listening on {args.ip}:{args.port}", flush=True)
    slots = threading.BoundedSemaphore(MAX_CONNS)
    with listener:
        while True:
            conn, _addr = listener.accept()
            if not slots.acquire(blocking=False):
                conn.close()
                continue
            threading.Thread(target=_relay, args=(conn, name, slots), daemon=True,
                             name=f"relay-{args.name}").start()


if __name__ == "__main__":
    main()
