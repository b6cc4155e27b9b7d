"""The topology a person (or the dashboard) reads: networks, their subnets, and every node
with its interface on each subnet, routers included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from facade.domain import names
from facade.domain.ipam import SubnetRange
from facade.service.context import Caller, Context
from facade.store.models import Instance, Interface, Network


def topology(ctx: Context, caller: Caller) -> dict[str, Any]:
    with ctx.read() as session:
        by_subnet: dict[int, list[dict[str, Any]]] = {}
        for iface in session.scalars(select(Interface).join(Instance).order_by(Interface.id)):
            inst = iface.instance
            if not caller.may_see(inst.account_id, iface.subnet.network.account_id):
                continue
            by_subnet.setdefault(iface.subnet_id, []).append({
                "name": inst.name, "role": inst.role,
                "appliance": inst.appliance.name if inst.appliance else None,
                "netns": names.node_netns(inst.id, inst.name), "status": inst.status,
                "interface": names.inner_ifname(iface.index), "ip": iface.ip})
        networks = []
        for net in session.scalars(select(Network).order_by(Network.id)):
            if not caller.may_see(net.account_id):
                continue
            subnets = []
            for sub in net.subnets:
                rng = SubnetRange.of(sub.cidr)
                subnets.append({"name": sub.name, "cidr": sub.cidr, "gateway": str(rng.gateway),
                                "bridge": names.bridge(sub.id),
                                "nodes": by_subnet.get(sub.id, [])})
            networks.append({"name": net.name, "account": net.account.name, "cidr": net.cidr,
                             "router": names.router_netns(net.id), "subnets": subnets})
        return {"networks": networks}
