"""A node's addresses, routes and policy rules, made exactly as its spec says (nodes.py calls these
with the node's netlink socket, after its ports exist).

The first port is primary (main table); port k>0 gets `noprefixroute`, table 100+k and a rule
`from IP lookup 100+k` (priority 1000+k); routers keep every subnet in the main table;
front-ends get `fwmark 0x1 lookup <backend table>` (priority 100), the replies' mark rule and
the local table after them. In a tenant's own network only Facade's own routes and rules are
managed; the tenant's are its business.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

from pyroute2 import IPRoute  # type: ignore[import-untyped]

from facade.dataplane.linux import nft_rules
from facade.dataplane.linux.links import ip_of, tenant_network
from facade.dataplane.linux.rawlink import Link
from facade.domain.specs import NodeSpec, PortSpec
from facade.domain.states import NodeRole

IFA_F_NOPREFIXROUTE = 0x200
RT_TABLE_MAIN = 254
RT_SCOPE_LINK = 253
RTPROT_KERNEL = 2
RTPROT_STATIC = 4
RTPROT_FACADE = 252  # the routes Facade adds in a tenant's own network (its own are others)
RTN_UNICAST = 1
TABLE_BASE = 100
RULE_FROM_BASE = 1000
RULE_FWMARK = 100
RULE_REPLY_MARK = 101
RULE_LOCAL = 200  # front-ends: the local table moves after the mark rules
RT_TABLE_LOCAL = 255
MANAGED_RULES = range(1, 32000)  # 0, 32766, 32767 are the kernel's
# in a tenant's own network, the rule priorities Facade keeps for itself (the per-leg rules)
TENANT_RESERVED = range(RULE_FROM_BASE, RULE_FROM_BASE + 100)


def ensure_addresses(spec: NodeSpec, node: IPRoute, links: Mapping[str, Link]) -> None:
    existing: dict[int, list[Any]] = {}
    for a in node.get_addr(family=socket.AF_INET):
        existing.setdefault(a["index"], []).append(a)
    for k, port in enumerate(spec.ports):
        iface = ipaddress.ip_interface(port.address)
        # a secondary port's subnet route lives in its own table only, unless `connected`
        noprefix = k > 0 and spec.role != NodeRole.ROUTER and not port.connected
        index = links[port.ifname].index
        present = False
        for a in existing.get(index, []):
            flags = a.get("IFA_FLAGS") or a["flags"]
            same = (a.get("address") == str(iface.ip) and a["prefixlen"] ==
                    iface.network.prefixlen
                    and bool(flags & IFA_F_NOPREFIXROUTE) == noprefix)
            if same and not present:
                present = True
            elif not tenant_network(spec) or a.get("address") == str(iface.ip):
                # in a tenant's own network only a wrong copy of Facade's address goes
                node.addr("del", index=index, address=a.get("address"),
                          prefixlen=a["prefixlen"])
        if not present:
            kwargs: dict[str, Any] = {}
            if noprefix:
                kwargs["flags"] = IFA_F_NOPREFIXROUTE
            node.addr("add", index=index, address=str(iface.ip),
                      prefixlen=iface.network.prefixlen, **kwargs)

def _router_routes(spec: NodeSpec, port: PortSpec, oif: int
                   ) -> list[tuple[int, str | None, int, int, str | None, str | None, int]]:
    """A router's routes by one of its legs: a public gateway's default route (by its leg on
    the intermediate network) and the static routes whose next hop is on the leg's segment
    (the Internet core's public addresses, docs/edge.md)."""
    out: list[tuple[int, str | None, int, int, str | None, str | None, int]] = []
    gw = spec.gateway
    if gw is not None and gw.ifname == port.ifname and gw.public:
        out.append((RT_TABLE_MAIN, None, 0, oif, gw.via, None, 0))
    segment = ipaddress.ip_interface(port.address).network
    for prefix, via in spec.routes:
        if ipaddress.ip_address(via) in segment:
            net = ipaddress.ip_network(prefix)
            out.append((RT_TABLE_MAIN, str(net.network_address), net.prefixlen, oif, via, None,
                        0))
    return out


def ensure_routes(spec: NodeSpec, node: IPRoute, links: Mapping[str, Link]) -> None:
    desired: list[tuple[int, str | None, int, int, str | None, str | None, int]] = []
    for k, port in enumerate(spec.ports):
        oif = links[port.ifname].index
        iface = ipaddress.ip_interface(port.address)
        if spec.role == NodeRole.ROUTER:
            desired += _router_routes(spec, port, oif)
            continue
        if k == 0:
            if port.gateway:
                desired.append((RT_TABLE_MAIN, None, 0, oif, port.gateway, None, 0))
            if spec.frontend is None:
                continue
        table = TABLE_BASE + k
        desired.append((table, str(iface.network.network_address), iface.network.prefixlen,
                        oif, None, str(iface.ip), RT_SCOPE_LINK))
        if port.gateway:
            desired.append((table, None, 0, oif, port.gateway, None, 0))
    for t in spec.tunnels:  # a private channel's prefixes, into its tunnel (docs/edge.md)
        if t.ifname in links:
            for prefix in t.allowed:
                net = ipaddress.ip_network(prefix)
                desired.append((RT_TABLE_MAIN, str(net.network_address), net.prefixlen,
                                links[t.ifname].index, None, None, RT_SCOPE_LINK))
    existing = []
    tenant = tenant_network(spec)
    proto = RTPROT_FACADE if tenant else RTPROT_STATIC
    for r in node.route("dump", family=socket.AF_INET):
        table = r.get("table")
        managed = (table == RT_TABLE_MAIN and r["proto"] != RTPROT_KERNEL) or (
            table is not None and TABLE_BASE <= table < TABLE_BASE + 100)
        if tenant:  # the tenant's own routes are its business
            managed = r["proto"] == RTPROT_FACADE
        if not managed:
            continue
        existing.append((table, r.get("dst"), r["dst_len"], r.get("oif"), r.get("gateway"),
                         r.get("prefsrc"), r["scope"]))
    for key in existing:
        if key not in desired:
            node.route("del", **_route_args(key))
    for key in desired:  # connected routes come before the gateways that need them
        if key not in existing:
            node.route("add", proto=proto, **_route_args(key))

def ensure_rules(spec: NodeSpec, node: IPRoute) -> None:
    desired: list[tuple[int, str | None, int, int | None, str | None, int]] = []
    tables: dict[str, int] = {}
    for k, port in enumerate(spec.ports):
        tables[port.ifname] = RT_TABLE_MAIN if (k == 0 or spec.role == NodeRole.ROUTER) \
            else TABLE_BASE + k
        if k > 0 and spec.role != NodeRole.ROUTER:
            desired.append((RULE_FROM_BASE + k, ip_of(port.address), 32, None, None,
                            TABLE_BASE + k))
    fe = spec.frontend
    if fe is not None:
        # Marked traffic is routed before the local table is consulted: with overlapping
        # subnets a backend may have the endpoint's address, or a client the front-end's
        # backend-side one, and such packets must still be forwarded, not delivered here.
        customer = next(k for k, p in enumerate(spec.ports) if p.ifname == fe.customer_if)
        desired.append((RULE_FWMARK, None, 0, nft_rules.MARK, None, tables[fe.backend_if]))
        desired.append((RULE_REPLY_MARK, None, 0, nft_rules.REPLY_MARK, None,
                        TABLE_BASE + customer))
        desired.append((RULE_LOCAL, None, 0, None, None, RT_TABLE_LOCAL))
    existing = []
    ours = {key[0] for key in desired}
    for r in node.get_rules(family=socket.AF_INET):
        prio = r.get("priority") or 0
        if prio not in MANAGED_RULES:
            continue
        if tenant_network(spec) and prio not in ours and prio not in TENANT_RESERVED:
            continue  # a rule the tenant added to its own network
        existing.append((prio, r.get("src"), r["src_len"], r.get("fwmark"), r.get("iifname"),
                         r.get("table")))
    for key in existing:
        if key not in desired:
            node.rule("del", **_rule_args(key))
    for key in desired:
        if key not in existing:
            node.rule("add", **_rule_args(key))
    if fe is not None:
        for r in node.get_rules(family=socket.AF_INET):
            if (r.get("priority") or 0) == 0 and r.get("table") == RT_TABLE_LOCAL:
                node.rule("del", priority=0, table=RT_TABLE_LOCAL, family=socket.AF_INET)


def _route_args(key: tuple[int, str | None, int, int, str | None, str | None, int]
                ) -> dict[str, Any]:
    table, dst, dst_len, oif, gateway, prefsrc, scope = key
    args: dict[str, Any] = {"table": table, "dst_len": dst_len, "oif": oif, "scope": scope}
    args["dst"] = dst if dst is not None else "0.0.0.0"
    if gateway:
        args["gateway"] = gateway
    if prefsrc:
        args["prefsrc"] = prefsrc
    return args


def _rule_args(key: tuple[int, str | None, int, int | None, str | None, int]) -> dict[str, Any]:
    prio, src, src_len, fwmark, iifname, table = key
    args: dict[str, Any] = {"priority": prio, "table": table, "family": socket.AF_INET}
    if src:
        args["src"] = src
        args["src_len"] = src_len
    if fwmark is not None:
        args["fwmark"] = fwmark
    if iifname:
        args["iifname"] = iifname
    return args
