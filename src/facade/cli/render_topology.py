"""The topology tree of `facade topology`: networks, their subnets and nodes, the appliances
and the chains between them, drawn from GET /v1/topology (render.py holds the other views)."""

from __future__ import annotations

from rich.text import Text
from rich.tree import Tree

from facade.cli.render import dash, emit, status_text
from facade.client.models import Topology, TopologyAppliance, TopologyNode
from facade.domain.names import LOCAL_HOST
from facade.domain.states import NodeRole


def _role_text(row: TopologyNode) -> str:
    role = row.role or NodeRole.INSTANCE
    if row.appliance and role in (NodeRole.FRONTEND, NodeRole.BACKEND):
        return f"{role} of {row.appliance}"
    return role


def topology(data: Topology) -> None:
    """network (account, cidr, router) -> subnet (cidr, gateway, bridge, what makes it provider
    internal, the accounts granted interfaces in it) -> one line per node. A node's owner is
    named (`owner X`) when it is not the network's account: another account's leg in this
    network, e.g. a provider's front-end in a customer's subnet or a grantee's interface."""
    nets = data.networks
    if not nets:
        emit("no networks")
        return
    root = Tree(Text("facade", style="bold"), guide_style="dim")
    for net in nets:
        site = net.kind == "site"
        public = net.gateway_ip and net.public_gateway and not site
        net_branch = root.add(
            Text.assemble(
                ("site " if site else "", "bold cyan"),
                (net.name, "bold cyan"),
                f" {dash(net.cidr)}" if site else "",
                f"  account {dash(net.account)}",
                "" if site else f"  {dash(net.cidr)}",
                f"  router {dash(net.router)}",
                "  the intermediate network (the Internet)" if net.kind == "intermediate"
                else "",
                f"  public gateway {net.gateway_ip}" if public else "",
                ", outbound NAT" if public and net.outbound_nat else "",
                f"  site gateway {net.gateway_ip}" if site and net.gateway_ip else "",
            )
        )
        for chan in net.vpns:
            net_branch.add(Text(
                f"vpn {chan.name} ({chan.engine}) to "
                f"{'site' if chan.peer_kind == 'site' else 'network'} {chan.peer} "
                f"{dash(chan.peer_cidr)}", style="magenta"))
        for sub in net.subnets:
            sub_branch = net_branch.add(
                Text.assemble(
                    (sub.name, "bold"),
                    f"  {dash(sub.cidr)}  gateway {dash(sub.gateway)}",
                    f"  bridge {dash(sub.bridge)}",
                    f"  internal: {', '.join(sub.internal)}" if sub.internal else "",
                    f"  granted to {', '.join(sub.granted_to)}" if sub.granted_to else "",
                )
            )
            rows = sub.nodes
            cells = [
                [
                    dash(r.name),
                    _role_text(r),
                    f"owner {r.account}" if r.account != net.account else "",
                    dash(r.ip),
                    f"public {r.public_ip}" if r.public_ip else "",
                    dash(r.interface),
                    dash(r.netns),
                ]
                for r in rows
            ]
            # Pad columns by hand so the node lines align within a subnet, in a file as on screen;
            # a column empty on every line of the subnet (no foreign owner) is left out.
            widths = [max((len(c[i]) for c in cells), default=0) for i in range(7)]
            for r, c in zip(rows, cells, strict=True):
                line = "  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True) if w)
                line = line.rstrip()
                style = "green" if r.role == NodeRole.INSTANCE else ""
                sub_branch.add(Text(line, style=style))
            if not rows:
                sub_branch.add(Text("no nodes", style="dim"))
    if data.externals:
        inet = root.add(Text("external hosts on the intermediate network", style="bold"))
        for r in data.externals:
            inet.add(f"{dash(r.name)}  {dash(r.ip)}  {dash(r.netns)}")
    emit(root)
    chains_tree = _chains(data.appliances)
    if chains_tree is not None:
        emit(chains_tree)


def by_host(data: Topology) -> None:
    """host -> node (its role, owner and namespace) -> one line per leg (interface,
    NETWORK/SUBNET, address): the same nodes as `topology`, grouped by the host each is on
    (a node's `host`). Only hosts holding a node the caller sees appear (the hosts
    themselves: `facade host list`)."""
    legs: dict[str, dict[str, list[tuple[TopologyNode, str]]]] = {}
    for net in data.networks:
        for sub in net.subnets:
            for r in sub.nodes:
                legs.setdefault(r.host, {}).setdefault(r.netns, []).append(
                    (r, f"{net.name}/{sub.name}"))
    for r in data.externals:
        legs.setdefault(r.host, {}).setdefault(r.netns, []).append(
            (r, "the intermediate network"))
    if not legs:
        emit("no nodes")
        return
    root = Tree(Text("facade hosts", style="bold"), guide_style="dim")
    for host in sorted(legs, key=lambda h: (h != LOCAL_HOST, h)):
        nodes = legs[host]
        host_branch = root.add(Text.assemble((f"host {host}", "bold cyan"),
                                             f"  {len(nodes)} node{'' if len(nodes) == 1 else 's'}"))
        for netns, node_legs in nodes.items():
            first = node_legs[0][0]
            node_branch = host_branch.add(Text.assemble(
                (dash(first.name), "bold"), f"  {_role_text(first)}",
                f"  owner {first.account}", f"  {netns}"))
            for r, subnet in node_legs:
                node_branch.add(f"{dash(r.interface):<6} {subnet:<28} {dash(r.ip)}"
                                + (f"  public {r.public_ip}" if r.public_ip else ""))
    emit(root)


def _chain_label(app: TopologyAppliance) -> Text:
    return Text.assemble(
        (app.name, "bold"),
        f"  {dash(app.service)} by {dash(app.provider)}",
        f"  {dash(app.endpoint)} in {dash(app.subnet)}  ",
        status_text(app.status),
    )


def _chains(apps: list[TopologyAppliance]) -> Tree | None:
    """Appliances that use or are used by another, as trees from the customer's end: each
    appliance, its backends, and under them the appliance they call, whose front-end sits in
    their backend subnet."""
    by_name = {a.name: a for a in apps}
    linked = [a for a in apps if a.uses or a.used_by or a.upstream]
    if not linked:
        return None
    root = Tree(Text("chains", style="bold"), guide_style="dim")
    for app in linked:
        if any(u in by_name for u in app.used_by):
            continue  # drawn under the appliance that uses it
        branch, seen = root.add(_chain_label(app)), set()
        current: TopologyAppliance | None = app
        while current is not None and current.name not in seen:
            seen.add(current.name)
            legs = [dash(current.backend_subnet), *current.extra_subnets]
            backends = f"backends {', '.join(current.backends) or '-'} ({', '.join(legs)})"
            uses = [u for u in current.uses if u in by_name]
            if uses:
                branch = branch.add(f"{backends} call").add(_chain_label(by_name[uses[0]]))
                current = by_name[uses[0]]
                continue
            if current.upstream:
                branch.add(Text(f"{backends} call {current.upstream} (missing)",
                                style="yellow"))
            elif current.backends:
                branch.add(backends)
            current = None
    return root
