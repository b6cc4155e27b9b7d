"""The sysctls of the fabric and of a node, as the driver writes them (netns.write_sysctls): IPv6
off everywhere, forwarding, reverse-path filtering and ARP for front-ends and routers. Called by
links.py (the fabric, when it is made) and nodes.py (every node, inside its namespace).
"""

from __future__ import annotations

from facade.domain.specs import NodeSpec
from facade.domain.states import NodeRole


def base_sysctls() -> dict[str, str]:
    return {"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"}


def fabric_sysctls() -> dict[str, str]:
    """Bridged frames must not climb into the fabric's IP and ARP hooks (br_netfilter, where the
    kernel has it, defaults to that in every namespace): it costs about 6 % of the throughput
    through a front-end, which crosses two bridges. Only bridges carrying a port with security
    rules turn it on, per bridge (`nf_call_iptables`), for conntrack (see set_port_rules).
    Per namespace since Linux 5.3; the host's own setting is not touched."""
    values = base_sysctls()
    for key in ("iptables", "ip6tables", "arptables"):
        values[f"net/bridge/bridge-nf-call-{key}"] = "0"
    return values


def node_sysctls(spec: NodeSpec) -> dict[str, str]:
    values = base_sysctls()
    if spec.role == NodeRole.FRONTEND:
        values["net/ipv4/ip_forward"] = "1"
        for conf in ("all", "default", *(p.ifname for p in spec.ports)):
            values[f"net/ipv4/conf/{conf}/rp_filter"] = "0"
            # a client may use the front-end's backend-side address (and a backend the
            # endpoint's): such sources are not martians here
            values[f"net/ipv4/conf/{conf}/accept_local"] = "1"
        for conf in ("all", "default"):
            values[f"net/ipv4/conf/{conf}/arp_ignore"] = "1"
            values[f"net/ipv4/conf/{conf}/arp_announce"] = "2"
    elif spec.role == NodeRole.ROUTER:
        values["net/ipv4/ip_forward"] = "1"
        # the Internet core forwards back out of the leg a packet came in by: it must not
        # teach external hosts a shortcut (a remapped address would keep the old one)
        for conf in ("all", "default", *(p.ifname for p in spec.ports)):
            values[f"net/ipv4/conf/{conf}/send_redirects"] = "0"
    else:
        values["net/ipv4/ip_forward"] = "0"
    return values
