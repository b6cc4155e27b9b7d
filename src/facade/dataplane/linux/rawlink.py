"""The link, address and neighbour requests a node's look and deletion make, without pyroute2.

pyroute2 parses every attribute of every message and runs each request through an asyncio
loop: about 1 ms of CPU to open a socket in a namespace and 0.3-1 ms a request here, which made
a node's look (its links and addresses, every resync) and withdrawing a deleted node's
announcements (its links, their fabric ends, the routers' entries) cost 5-10 ms of CPU each.
These requests read only the attributes asked for (and linkcount.py's, counting links, none).
A node's making reads its links here too (links.ensure_ports, the fabric's bridges, a router's
legs when it announces a port): a node reconcile's CPU went from about 45 to 34 ms with it.
Making and changing links stays with pyroute2. One `Netlink` is one socket in one namespace.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

from facade.dataplane.linux import netns as ns

RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR, RTM_NEWNEIGH, RTM_DELNEIGH = \
    16, 18, 20, 22, 28, 29
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_REPLACE, NLM_F_CREATE = 0x100, 0x400
NUD_PERMANENT = 0x80
IFLA_ADDRESS, IFLA_IFNAME, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS = \
    1, 3, 5, 10, 18, 20
IFLA_LINK_NETNSID = 37
IFF_UP = 0x1
IFLA_INFO_KIND = 1
IFA_ADDRESS = 1
NDA_DST, NDA_LLADDR = 1, 2
_HDR = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_NDMSG = struct.Struct("=BxxxiHBB")  # ndmsg: family, ifindex, state, flags, type
_ATTR = struct.Struct("=HH")  # rtattr: length, type


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str | None
    peer: int | None  # IFLA_LINK: a veth's other end's index
    peer_elsewhere: bool  # IFLA_LINK_NETNSID: that end is in another namespace
    alias: str | None
    master: int | None = None  # IFLA_MASTER: the bridge it is a port of
    up: bool = False  # IFF_UP: set administratively up
    mac: str | None = None  # IFLA_ADDRESS, as "02:00:0a:00:00:01"

    @property
    def fabric_port(self) -> bool:
        """A veth whose other end is in another namespace: one of Facade's ports (as
        links.fabric_port says of a pyroute2 link)."""
        return self.kind == "veth" and self.peer_elsewhere


def _attr(kind: int, payload: bytes) -> bytes:
    length = _ATTR.size + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * ((-length) % 4)


def _attrs(data: bytes, off: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while off + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(data, off)
        if length < _ATTR.size:
            break
        out[kind & 0x7FFF] = data[off + _ATTR.size:off + length]
        off += (length + 3) & ~3
    return out


def _text(raw: bytes | None) -> str | None:
    return raw.split(b"\0", 1)[0].decode(errors="replace") if raw is not None else None


def _int32(raw: bytes | None) -> int | None:
    return struct.unpack("=i", raw[:4])[0] if raw is not None and len(raw) >= 4 else None


def _link(data: bytes, off: int, length: int) -> Link:
    start = off + _HDR.size
    _family, _type, index, flags, _change = _IFINFO.unpack_from(data, start)
    attrs = _attrs(data, start + _IFINFO.size, off + length)
    info = attrs.get(IFLA_LINKINFO)
    kind = _text(_attrs(info, 0, len(info)).get(IFLA_INFO_KIND)) if info else None
    mac = attrs.get(IFLA_ADDRESS)
    return Link(index=index, name=_text(attrs.get(IFLA_IFNAME)) or "", kind=kind,
                peer=_int32(attrs.get(IFLA_LINK)), peer_elsewhere=IFLA_LINK_NETNSID in attrs,
                alias=_text(attrs.get(IFLA_IFALIAS)), master=_int32(attrs.get(IFLA_MASTER)),
                up=bool(flags & IFF_UP), mac=mac.hex(":") if mac else None)


class Netlink:
    """A NETLINK_ROUTE socket inside one namespace (made in a namespace thread)."""

    def __init__(self, netns: str) -> None:
        self._sock = ns.socket_in(netns, socket.AF_NETLINK, socket.SOCK_DGRAM, 0)
        self._seq = 0

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._sock.close()

    def _request(self, kind: int, flags: int, body: bytes) -> Iterator[tuple[int, bytes, int, int]]:
        """Send one request; yield (type, data, offset, length) of each answer message until
        the last one (a dump's DONE, an ACK, or a single answer). An error other than ENODEV
        or ENOENT (what a vanished link or entry answers) raises OSError."""
        self._seq += 1
        seq = self._seq
        self._sock.send(_HDR.pack(_HDR.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0)
                        + body)
        while True:
            data = self._sock.recv(1 << 17)
            off = 0
            while off + _HDR.size <= len(data):
                length, msg_kind, _flags, got_seq, _pid = _HDR.unpack_from(data, off)
                if length < _HDR.size:
                    raise OSError("netlink: malformed message")
                if got_seq == seq:
                    if msg_kind == NLMSG_DONE:
                        return
                    if msg_kind == NLMSG_ERROR:
                        code = -struct.unpack_from("=i", data, off + _HDR.size)[0]
                        if code and code not in (errno.ENODEV, errno.ENOENT):
                            raise OSError(code, f"netlink: {errno.errorcode.get(code, code)}")
                        yield NLMSG_ERROR, data, off, code
                        return
                    yield msg_kind, data, off, length
                    if not flags & NLM_F_DUMP:
                        return
                off += (length + 3) & ~3

    def links(self) -> list[Link]:
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        return [_link(data, off, length) for kind, data, off, length
                in self._request(RTM_GETLINK, NLM_F_DUMP, body) if kind == RTM_NEWLINK]

    def links_by_name(self) -> dict[str, Link]:
        return {link.name: link for link in self.links()}

    def indexes(self, master: int | None = None, kind: str | None = None) -> list[int]:
        """The links' indexes, nothing else read: only the ports of the bridge whose index is
        `master`, or only the links of `kind`, if given (the kernel filters)."""
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        if master is not None:
            body += _attr(IFLA_MASTER, struct.pack("=I", master))
        if kind is not None:
            body += _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, kind.encode() + b"\0"))
        out = []
        for msg_kind, data, off, length in self._request(RTM_GETLINK, NLM_F_DUMP, body):
            if msg_kind != RTM_NEWLINK:
                continue
            if master is not None:  # to be sure: the kernel filtered by it
                own = _attrs(data, off + _HDR.size + _IFINFO.size, off + length).get(IFLA_MASTER)
                if own is None or struct.unpack("=I", own[:4])[0] != master:
                    continue
            out.append(_IFINFO.unpack_from(data, off + _HDR.size)[2])
        return out

    def has_link(self, index: int) -> bool:
        """Whether the link of that index exists (its answer not parsed)."""
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0)
        return any(kind == RTM_NEWLINK for kind, *_ in self._request(RTM_GETLINK, 0, body))

    def link(self, index: int = 0, name: str | None = None) -> Link | None:
        """The link of that index (or name); None when there is none."""
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0)
        if name is not None:
            body += _attr(IFLA_IFNAME, name.encode() + b"\0")
        for kind, data, off, length in self._request(RTM_GETLINK, 0, body):
            if kind == RTM_NEWLINK:
                return _link(data, off, length)
        return None

    def addresses(self) -> list[tuple[int, str]]:
        """Every IPv4 address: (link index, "address/prefix length")."""
        out = []
        body = _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)
        for kind, data, off, length in self._request(RTM_GETADDR, NLM_F_DUMP, body):
            if kind != RTM_NEWADDR:
                continue
            start = off + _HDR.size
            family, prefix, _flags, _scope, index = _IFADDR.unpack_from(data, start)
            raw = _attrs(data, start + _IFADDR.size, off + length).get(IFA_ADDRESS)
            if family == socket.AF_INET and raw is not None and len(raw) == 4:
                out.append((index, f"{ipaddress.IPv4Address(raw)}/{prefix}"))
        return out

    def replace_neighbour(self, index: int, ip: str, mac: str) -> bool:
        """`ip` is at `mac` on link `index`, permanently (made or replaced); False when the
        link is gone."""
        body = _NDMSG.pack(socket.AF_INET, index, NUD_PERMANENT, 0, 0) + \
            _attr(NDA_DST, ipaddress.IPv4Address(ip).packed) + \
            _attr(NDA_LLADDR, bytes.fromhex(mac.replace(":", "")))
        for kind, _data, _off, code in self._request(
                RTM_NEWNEIGH, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, body):
            if kind == NLMSG_ERROR and code:
                return False
        return True

    def delete_neighbour(self, index: int, ip: str) -> None:
        """Remove the IPv4 entry for `ip` on link `index` (nothing if there is none)."""
        body = _NDMSG.pack(socket.AF_INET, index, 0, 0, 0) + \
            _attr(NDA_DST, ipaddress.IPv4Address(ip).packed)
        for _ in self._request(RTM_DELNEIGH, NLM_F_ACK, body):
            pass
