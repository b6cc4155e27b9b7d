"""Which links a namespace holds (or a bridge has as ports, or of one kind), and whether some are
gone yet, without parsing them.

pyroute2 parses every attribute of every link it dumps, about 0.2-2 ms a link here, and filters
a dump by master or kind on its side: a dump of the fabric, which holds one port per node leg,
costs a second at a few hundred appliances. Asking only "how many ports does this bridge have"
or "which links are bridges" must not cost that much. This asks the kernel for the dump itself
(RTM_GETLINK with IFLA_MASTER or IFLA_LINKINFO/IFLA_INFO_KIND: the kernel leaves out the other
links) and reads only the header of each RTM_NEWLINK message (and its master, to be sure),
through rawlink.py's socket.
"""

from __future__ import annotations

import time

from facade.dataplane.linux.rawlink import Netlink


def indexes(netns: str, master: int | None = None, kind: str | None = None) -> list[int]:
    """The indexes of the links of `netns`; only the ports of the bridge whose index is
    `master`, or only the links of `kind` ("bridge"), if given (the kernel filters)."""
    with Netlink(netns) as nl:
        return nl.indexes(master=master, kind=kind)


def count(netns: str, master: int | None = None) -> int:
    """How many links `netns` has, or how many ports the bridge whose index is `master`."""
    return len(indexes(netns, master))


def outliving(netns: str, wanted: list[int], timeout: float) -> list[int]:
    """Wait up to `timeout` seconds for the links `wanted` (indexes) of `netns` to be gone
    (checked every few milliseconds, one RTM_GETLINK each); returns those still there."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    left = list(wanted)
    with Netlink(netns) as nl:
        while True:
            left = [index for index in left if nl.has_link(index)]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
