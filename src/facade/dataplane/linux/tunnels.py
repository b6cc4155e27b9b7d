"""A router's ends of private channels (docs/edge.md): WireGuard interfaces, made and configured
as `NodeSpec.tunnels` says. nodes.py calls these inside the router after its ports exist
(links.ensure_ports keeps these interfaces, and deletes those of channels no longer wanted:
a userspace engine exits with its interface): `make` before the routes, `configure` after
the filter.

The engine is the kernel's WireGuard where the host has it (`ip link add ... type wireguard`),
else wireguard-go, the reference userspace implementation, started inside the router's
namespace (its control socket is /run/wireguard/NAME.sock: names.tunnel makes NAME unique on
the host). Both are configured the same way, by `wg syncconf` (only what differs changes, so a
live session survives an unrelated change of the router). Routes into the tunnels are
routes.py's (`TunnelSpec.allowed`), their filter router_rules.py's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from pathlib import Path

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from facade.dataplane.linux import netns as ns
from facade.dataplane.linux import rawlink
from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.links import ipr_in
from facade.domain import names
from facade.domain.specs import NodeSpec, TunnelSpec

USERSPACE = "wireguard-go"
# wireguard-go refuses to start on a kernel that has the module unless told so; it is only
# started here when making the kernel's interface failed
USERSPACE_ENV = {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}
START_TIMEOUT = 5.0


def config(t: TunnelSpec) -> str:
    """The `wg` configuration of one end (keys never reach a command line). No persistent
    keepalive: it would start a handshake as soon as one end is configured, which is lost
    while the other end is still being made, and WireGuard waits 5 s before trying again
    (the first packets with it). Without it the first packet starts the handshake, once both
    ends exist (a write returns once both routers were reconciled); nothing between the two
    gateways forgets an idle flow (their filters admit the peer's port, not a connection)."""
    return (f"[Interface]\nPrivateKey = {t.private_key}\nListenPort = {t.listen_port}\n\n"
            f"[Peer]\nPublicKey = {t.peer_key}\nPresharedKey = {t.preshared_key}\n"
            f"Endpoint = {t.endpoint}\nAllowedIPs = {', '.join(t.allowed)}\n")


def _run(netns: str, argv: list[str], *, stdin: str | None = None,
         env: dict[str, str] | None = None) -> None:
    try:
        done = subprocess.run(["ip", "netns", "exec", netns, *argv], input=stdin, text=True,
                              capture_output=True, timeout=START_TIMEOUT,
                              env={**os.environ, **(env or {})}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataPlaneError(f"tunnel in {netns}: {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise DataPlaneError(f"tunnel in {netns}: {' '.join(argv[:3])}: "
                             f"{(done.stderr or done.stdout).strip()[-300:]}")


def _make(netns: str, ifname: str, node: IPRoute) -> str:
    """The interface, by the kernel's module or else by wireguard-go; returns the engine."""
    try:
        node.link("add", ifname=ifname, kind="wireguard")
        return "kernel"
    except NetlinkError as exc:
        if exc.code not in (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENODEV,
                            errno.ENOENT):
            raise
    _run(netns, [USERSPACE, ifname], env=USERSPACE_ENV)
    ns.SCAN.spawned()
    deadline = time.monotonic() + START_TIMEOUT
    while not node.link_lookup(ifname=ifname):
        if time.monotonic() > deadline:
            raise DataPlaneError(f"tunnel {ifname} in {netns}: {USERSPACE} made no interface")
        time.sleep(0.01)
    return USERSPACE


def make(spec: NodeSpec, node: IPRoute, links: dict[str, rawlink.Link]
         ) -> dict[str, rawlink.Link]:
    """Every tunnel of `spec` made and up (routes need the interface); returns the node's
    links (read again when one was made). No key yet: nothing passes."""
    made = False
    for t in spec.tunnels:
        if t.ifname not in links:
            _make(spec.netns, t.ifname, node)
            made = True
    if made:
        with rawlink.Netlink(spec.netns) as nl:
            links = nl.links_by_name()
    for t in spec.tunnels:
        if not links[t.ifname].up:
            node.link("set", index=links[t.ifname].index, state="up")
    return links


def configure(spec: NodeSpec) -> None:
    """Keys, port and peer of every tunnel: after the router's filter admits the peer, so a
    handshake the peer starts meanwhile is answered at once, not 5 s later."""
    for t in spec.tunnels:
        _run(spec.netns, ["wg", "syncconf", t.ifname, "/dev/stdin"], stdin=config(t))


SOCKETS = Path("/run/wireguard")  # wireguard-go's control sockets, one per interface


def forget(netns: str) -> list[str]:
    """The control sockets of the namespace's tunnels, once their engines were killed with
    the router (a killed wireguard-go leaves its socket behind); returns what was removed."""
    removed: list[str] = []
    if names.router_id(netns) is None:
        return removed  # only a router has tunnels (its links are not listed for any other)
    with contextlib.suppress(ns.NamespaceMissing, FileNotFoundError), ipr_in(netns) as ipr:
        for link in ipr.get_links():
            name = link.get("ifname") or ""
            if names.TUNNEL.fullmatch(name):
                with contextlib.suppress(FileNotFoundError):
                    (SOCKETS / f"{name}.sock").unlink()
                    removed.append(f"socket {name}.sock")
    return removed
