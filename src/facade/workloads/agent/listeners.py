"""A node's listening socket: made on mgmt_ip:port inside the node's namespace by a short-lived
thread (`facade.nsenter`), kept with a descriptor of that namespace, which the agent's work
for the node enters later. Made and dropped by the loop; a connection holds one of its slots,
and the hub (`hub`) borrows a descriptor of its namespace for each read. `accepted` takes the
waiting connections of a listening socket within its slots (a node's here, the hub's).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

from facade import nsenter
from facade.workloads.agent.config import Node
from facade.workloads.agent.diagnostics import log

NETNS_DIR = "/run/netns"
MAX_CONNS_PER_NODE = 32  # connections served at once on a node's listener


def family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


class Listener:
    """A node's listening socket, made inside its namespace, and an fd of that namespace."""

    def __init__(self, node: Node, port: int, sock: socket.socket, ns_fd: int) -> None:
        self.node = node
        self.port = port
        self.sock = sock
        self.ns_fd = ns_fd
        st = os.fstat(ns_fd)
        self.ns_id = (st.st_dev, st.st_ino)
        self.started = time.monotonic()
        self.slots = Slots(MAX_CONNS_PER_NODE)
        self.closed = False
        self.lock = threading.Lock()

    @classmethod
    def open(cls, node: Node, port: int) -> Listener:
        path = os.path.join(NETNS_DIR, node.netns)

        def inside() -> tuple[socket.socket, int]:
            ns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                nsenter.setns(ns_fd)
                sock = socket.socket(family(node.mgmt_ip), socket.SOCK_STREAM)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind((node.mgmt_ip, port))
                    sock.listen(64)
                    sock.setblocking(False)
                except BaseException:
                    sock.close()
                    raise
                return sock, ns_fd
            except BaseException:
                os.close(ns_fd)
                raise

        sock, ns_fd = nsenter.in_new_thread(inside, "agent-listen")
        return cls(node, port, sock, ns_fd)

    def namespace_current(self) -> bool:
        """True while /run/netns/NAME still names the namespace this listener lives in."""
        try:
            st = os.stat(os.path.join(NETNS_DIR, self.node.netns))
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.ns_id

    def borrow(self) -> int | None:
        """A descriptor of the listener's namespace of the caller's own (to close), None once
        the listener is closed. Under the lock: the loop may close the listener meanwhile, and
        a number closed there could name another file by the time it is duplicated."""
        with self.lock:
            return None if self.closed else os.dup(self.ns_fd)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.sock.close()
            os.close(self.ns_fd)

    def release(self) -> None:
        self.slots.release()


class Slots:
    """How many connections of one listening socket are being served, at most `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.active >= self.limit:
                return False
            self.active += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.active -= 1


def accepted(sock: socket.socket, slots: Slots, what: str,
             burst: int) -> Iterator[socket.socket]:
    """The connections waiting on `sock` (at most `burst` at a time), blocking, each holding
    one of `slots` (the caller releases it); one beyond the limit is closed at once."""
    for _ in range(burst):
        try:
            conn, _addr = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log(f"{what}: accept: {exc}")
            return
        if not slots.take():
            conn.close()
            continue
        conn.setblocking(True)
        yield conn

