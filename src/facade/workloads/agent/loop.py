"""The agent's process: it polls its config (every POLL_S; sources.py), converges its listeners
to it, serves every listener with one selector, and hands each accepted connection to a thread of its
own (`routes.serve_connection`, at most MAX_CONNS_PER_NODE per node: listeners.py). The same
selector serves the hub (`hub`: the agent's own listener on 127.0.0.1, for many nodes in one
request). `main` is what `python -m facade.workloads.agent --config FOLDER` runs.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import threading
import time
from types import FrameType

from facade.workloads.agent.config import Config, Node
from facade.workloads.agent.diagnostics import error_detail, log
from facade.workloads.agent.hub import HOST, Hub
from facade.workloads.agent.listeners import NETNS_DIR, Listener, accepted
from facade.workloads.agent.routes import serve_connection
from facade.workloads.agent.sources import source

POLL_S = 0.1
# a node the config names before its namespace exists (the control plane writes it when the node
# is created, a few tenths of a second before it is made) or has its address: what keeps it from
# being served is logged only once it lasted this long
GRACE_S = 5.0


class Agent:
    def __init__(self, config_path: str) -> None:
        self.source = source(config_path)
        self.config: Config | None = None
        self.listeners: dict[str, Listener] = {}
        self.failures: dict[str, str] = {}  # node -> last failure logged (log each once)
        self.waiting: dict[str, float] = {}  # node -> since when it is named but not served
        self.hub: Hub | None = None
        self.hub_failure = ""  # the last failure to open the hub, logged once
        self.netns_stamp: tuple[int, int] | None = None  # of NETNS_DIR when last looked at
        self.sel = selectors.DefaultSelector()
        self.stopping = False
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)

    # config

    def _reload(self) -> bool:
        """Re-read what changed of the config; True if the desired state changed."""
        changed, config = self.source.read()
        if not changed or config == self.config:
            return False
        self.config = config
        return True

    def _fail(self, node: Node, message: str) -> None:
        """Log why `node` is not served (each message once), once it lasted GRACE_S."""
        since = self.waiting.setdefault(node.name, time.monotonic())
        if time.monotonic() - since < GRACE_S:
            return
        if self.failures.get(node.name) != message:
            self.failures[node.name] = message
            log(f"node {node.name}: {message}; retrying")

    def _drop(self, name: str, why: str) -> None:
        listener = self.listeners.pop(name)
        self.sel.unregister(listener.sock)
        listener.close()
        log(f"node {name}: stopped listening on {listener.node.mgmt_ip}:{listener.port} ({why})")

    def converge(self) -> bool:
        """Bring the listeners to the config; True if anything changed."""
        changed = self._reload()
        config = self.config
        desired = config.nodes if config else {}
        port = config.port if config else 0
        # a namespace removed (or replaced) changes its directory: only then is each
        # listener's namespace looked at (1,000 stats every POLL_S cost the agent 14 % of a
        # core at 500 appliances); read before the looks, so a change meanwhile is seen next
        stamp = _stamp(NETNS_DIR)
        moved, self.netns_stamp = stamp != self.netns_stamp, stamp
        for name, listener in list(self.listeners.items()):
            want = desired.get(name)
            if want is None:
                self._drop(name, "removed")
            elif (want.netns, want.mgmt_ip, port) != (listener.node.netns, listener.node.mgmt_ip,
                                                      listener.port):
                self._drop(name, "moved")
            elif moved and not listener.namespace_current():
                self._drop(name, f"namespace {want.netns} is gone")
            else:
                listener.node = want
                continue
            changed = True
        for name in list(self.failures):
            if name not in desired:
                del self.failures[name]
        for name in list(self.waiting):
            if name not in desired or name in self.listeners:
                del self.waiting[name]
        for name, node in desired.items():
            if name in self.listeners:
                continue
            if not os.path.exists(os.path.join(NETNS_DIR, node.netns)):
                self._fail(node, f"namespace {node.netns} does not exist")
                continue
            try:
                listener = Listener.open(node, port)
            except OSError as exc:
                self._fail(node, f"cannot listen on {node.mgmt_ip}:{port} in {node.netns}: "
                                 f"{error_detail(exc)}")
                continue
            self.failures.pop(name, None)
            self.listeners[name] = listener
            self.sel.register(listener.sock, selectors.EVENT_READ, listener)
            log(f"node {name}: listening on {node.mgmt_ip}:{port} in {node.netns}")
            changed = True
        if config is not None:
            self._converge_hub(port)
        return changed

    def _converge_hub(self, port: int) -> None:
        """The hub listening on the config's port (it does not count as a node)."""
        if self.hub is not None and self.hub.port == port:
            return
        if self.hub is not None:
            self.sel.unregister(self.hub.sock)
            self.hub.close()
            self.hub = None
        try:
            self.hub = Hub.open(port)
        except OSError as exc:
            failure = f"hub: cannot listen on {HOST}:{port}: {error_detail(exc)}; retrying"
            if failure != self.hub_failure:
                self.hub_failure = failure
                log(failure)
            return
        self.hub_failure = ""
        self.sel.register(self.hub.sock, selectors.EVENT_READ, self.hub)
        log(f"hub: listening on {HOST}:{port}")

    # serving

    def _accept(self, listener: Listener) -> None:
        assert self.config is not None
        for conn in accepted(listener.sock, listener.slots, f"node {listener.node.name}", 64):
            try:
                ns_fd = os.dup(listener.ns_fd)  # the connection's own: the listener may close first
            except OSError:
                listener.release()
                conn.close()
                continue
            try:
                threading.Thread(
                    target=serve_connection, name=f"agent-conn-{listener.node.name}", daemon=True,
                    args=(conn, listener, listener.node, self.config.secret, ns_fd)).start()
            except RuntimeError:  # cannot start a thread: shed this connection, keep serving
                os.close(ns_fd)
                listener.release()
                conn.close()

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        try:
            first = True
            next_poll = 0.0
            while not self.stopping:
                now = time.monotonic()
                if now >= next_poll:
                    if self.converge() or first:
                        print(f"agent serving {len(self.listeners)} nodes", flush=True)
                    first = False
                    next_poll = time.monotonic() + POLL_S
                for key, _events in self.sel.select(max(0.0, next_poll - time.monotonic())):
                    if key.data is None:
                        try:
                            self.wake_r.recv(4096)
                        except OSError:
                            pass
                    elif self.stopping:
                        continue
                    elif isinstance(key.data, Hub):
                        assert self.config is not None
                        key.data.accept(dict(self.listeners), self.config.secret)
                    else:
                        self._accept(key.data)
        finally:
            signal.set_wakeup_fd(-1)
            for name in list(self.listeners):
                listener = self.listeners.pop(name)
                listener.close()
            if self.hub is not None:
                self.hub.close()
            self.sel.close()
            self.wake_r.close()
            self.wake_w.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facade.workloads.agent")
    parser.add_argument("--config", required=True,
                        help="the config folder the control plane writes (or one JSON file)")
    args = parser.parse_args(argv)
    Agent(args.config).run()
    log("stopped")


def _stamp(path: str) -> tuple[int, int] | None:
    """A directory's modification time and inode: either changes when an entry of it is
    added, removed or replaced."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ino
