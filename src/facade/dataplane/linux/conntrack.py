"""Connection tracking in a public gateway: forgetting translations that no longer hold.

A remap (a public address moved to another instance) or a disassociation changes a gateway's
NAT rules, but the kernel keeps translating the connections it already tracks as it did when
they began: the old target would keep its connections over an address that is no longer its.
After its NAT rules change, a gateway deletes every tracked connection whose translation is not
one of the wanted pairs; the next packet of such a connection is tracked anew, translated as
the rules say now, and the new target (which has no such connection) resets it: the old
connections end cleanly with a RST, new ones reach the new target (docs/edge.md).

Runs inside the gateway's namespace (a thread that entered it): netlink's conntrack socket
is the namespace's.
"""

from __future__ import annotations

from pyroute2 import Conntrack  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from facade.domain.specs import GatewaySpec

IPS_SRC_NAT = 0x10
IPS_DST_NAT = 0x20


def forget_stale(gateway: GatewaySpec | None, leg_ip: str | None) -> int:
    """Delete the tracked connections translated otherwise than `gateway` says (all translated
    ones when it is None); returns how many went. `leg_ip`: the gateway's own address on the
    intermediate network (outbound NAT's source, kept while `outbound`)."""
    pairs = set(gateway.nat) if gateway is not None else set()
    public_of = {private: public for public, private in pairs}
    outbound = gateway is not None and gateway.outbound
    gone = 0
    with Conntrack() as ct:
        stale = []
        for entry in ct.dump_entries():
            orig, reply = entry.tuple_orig, entry.tuple_reply
            if entry.status & IPS_DST_NAT and (orig.daddr, reply.saddr) not in pairs:
                stale.append(entry)
            elif entry.status & IPS_SRC_NAT and public_of.get(orig.saddr) != reply.daddr \
                    and not (outbound and reply.daddr == leg_ip):
                stale.append(entry)
        for entry in stale:
            try:
                ct.delete(entry)
                gone += 1
            except NetlinkError:  # gone meanwhile (it ended): nothing to forget
                continue
    return gone
