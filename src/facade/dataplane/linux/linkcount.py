"""Which links a namespace holds (or a bridge has as ports, or of one kind), and whether some are
gone yet, without parsing them.

pyroute2 parses every attribute of every link it dumps, about 0.2-2 ms a link here, and filters
a dump by master or kind on its side: a dump of the fabric, which holds one port per node leg,
costs a second at a few hundred appliances. Asking only "how many ports does this bridge have"
or "which links are bridges" must not cost that much. This asks the kernel for the dump itself
(RTM_GETLINK with IFLA_MASTER or IFLA_LINKINFO/IFLA_INFO_KIND: the kernel leaves out the other
links) and reads only the header of each RTM_NEWLINK message (and its master, to be sure).
"""

from __future__ import annotations

import errno
import socket
import struct
import time

from facade.dataplane.linux import netns as ns

RTM_NEWLINK = 16
RTM_GETLINK = 18
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_INFO_KIND = 1
_HDR = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_ATTR = struct.Struct("=HH")  # rtattr: length, type


def _master_of(msg: bytes, start: int, end: int) -> int | None:
    off = start + _HDR.size + _IFINFO.size
    while off + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(msg, off)
        if length < _ATTR.size:
            return None
        if kind == IFLA_MASTER and length >= _ATTR.size + 4:
            value: int = struct.unpack_from("=I", msg, off + _ATTR.size)[0]
            return value
        off += (length + 3) & ~3
    return None


def _attr(kind: int, payload: bytes) -> bytes:
    length = _ATTR.size + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * ((-length) % 4)


def indexes(netns: str, master: int | None = None, kind: str | None = None) -> list[int]:
    """The indexes of the links of `netns`; only the ports of the bridge whose index is
    `master`, or only the links of `kind` ("bridge"), if given (the kernel filters)."""
    sock = ns.socket_in(netns, socket.AF_NETLINK, socket.SOCK_DGRAM, 0)
    try:
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        if master is not None:
            body += _attr(IFLA_MASTER, struct.pack("=I", master))
        if kind is not None:
            body += _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, kind.encode() + b"\0"))
        seq = 1
        sock.send(_HDR.pack(_HDR.size + len(body), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP,
                            seq, 0) + body)
        found: list[int] = []
        while True:
            data = sock.recv(1 << 17)
            off = 0
            while off + _HDR.size <= len(data):
                length, msg_kind, _flags, got_seq, _pid = _HDR.unpack_from(data, off)
                if length < _HDR.size:
                    raise OSError("netlink: malformed message in a link dump")
                if got_seq == seq:
                    if msg_kind == NLMSG_DONE:
                        return found
                    if msg_kind == NLMSG_ERROR:
                        code = -struct.unpack_from("=i", data, off + _HDR.size)[0]
                        raise OSError(code, f"netlink link dump: error {code}")
                    if msg_kind == RTM_NEWLINK and (
                            master is None or _master_of(data, off, off + length) == master):
                        found.append(_IFINFO.unpack_from(data, off + _HDR.size)[2])
                off += (length + 3) & ~3
    finally:
        sock.close()


def count(netns: str, master: int | None = None) -> int:
    """How many links `netns` has, or how many ports the bridge whose index is `master`."""
    return len(indexes(netns, master))


def outliving(netns: str, wanted: list[int], timeout: float) -> list[int]:
    """Wait up to `timeout` seconds for the links `wanted` (indexes) of `netns` to be gone
    (checked every few milliseconds, one RTM_GETLINK each, nothing parsed); returns those
    still there."""
    sock = ns.socket_in(netns, socket.AF_NETLINK, socket.SOCK_DGRAM, 0)
    try:
        deadline = time.monotonic() + timeout
        pause = 0.005
        left = list(wanted)
        seq = 0
        while True:
            still = []
            for index in left:
                seq += 1
                if _present(sock, index, seq):
                    still.append(index)
            left = still
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
    finally:
        sock.close()


def _present(sock: socket.socket, index: int, seq: int) -> bool:
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0)
    sock.send(_HDR.pack(_HDR.size + len(body), RTM_GETLINK, NLM_F_REQUEST, seq, 0) + body)
    while True:
        data = sock.recv(1 << 16)
        off = 0
        while off + _HDR.size <= len(data):
            length, msg_kind, _flags, got_seq, _pid = _HDR.unpack_from(data, off)
            if length < _HDR.size:
                raise OSError("netlink: malformed message in a link answer")
            if got_seq == seq:
                if msg_kind == RTM_NEWLINK:
                    return True
                if msg_kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, off + _HDR.size)[0]
                    if code == errno.ENODEV:
                        return False
                    raise OSError(code, f"netlink link get: error {code}")
            off += (length + 3) & ~3
