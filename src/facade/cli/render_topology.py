"""The topology tree of `facade topology`: networks, their subnets and nodes, the appliances
and the chains between them, drawn from GET /v1/topology (render.py holds the other views)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from rich.tree import Tree

from facade.cli.render import dash, emit, status_text
from facade.domain.states import NodeRole


def _role_text(row: dict[str, Any]) -> str:
    role = str(row.get("role") or NodeRole.INSTANCE)
    if row.get("appliance") and role in (NodeRole.FRONTEND, NodeRole.BACKEND):
        return f"{role} of {row['appliance']}"
    return role


def topology(data: dict[str, Any]) -> None:
    """network (account, cidr, router) -> subnet (cidr, gateway, bridge, what makes it provider
    internal, the accounts granted interfaces in it) -> one line per node. A node's owner is
    named (`owner X`) when it is not the network's account: another account's leg in this
    network, e.g. a provider's front-end in a customer's subnet or a grantee's interface."""
    nets = data.get("networks") or []
    if not nets:
        emit("no networks")
        return
    root = Tree(Text("facade", style="bold"), guide_style="dim")
    for net in nets:
        site = net.get("kind") == "site"
        public = net.get("gateway_ip") and net.get("public_gateway", True) and not site
        net_branch = root.add(
            Text.assemble(
                ("site " if site else "", "bold cyan"),
                (net.get("name", "?"), "bold cyan"),
                f" {dash(net.get('cidr'))}" if site else "",
                f"  account {dash(net.get('account'))}",
                "" if site else f"  {dash(net.get('cidr'))}",
                f"  router {dash(net.get('router'))}",
                "  the intermediate network (the Internet)" if net.get("kind") == "intermediate"
                else "",
                f"  public gateway {net['gateway_ip']}" if public else "",
                ", outbound NAT" if public and net.get("outbound_nat") else "",
                f"  site gateway {net['gateway_ip']}" if site and net.get("gateway_ip") else "",
            )
        )
        for chan in net.get("vpns") or []:
            net_branch.add(Text(
                f"vpn {chan['name']} ({chan.get('engine', '?')}) to "
                f"{'site' if chan.get('peer_kind') == 'site' else 'network'} {chan['peer']} "
                f"{dash(chan.get('peer_cidr'))}", style="magenta"))
        for sub in net.get("subnets") or []:
            sub_branch = net_branch.add(
                Text.assemble(
                    (sub.get("name", "?"), "bold"),
                    f"  {dash(sub.get('cidr'))}  gateway {dash(sub.get('gateway'))}",
                    f"  bridge {dash(sub.get('bridge'))}",
                    f"  internal: {', '.join(sub['internal'])}" if sub.get("internal") else "",
                    f"  granted to {', '.join(sub['granted_to'])}" if sub.get("granted_to")
                    else "",
                )
            )
            rows = sub.get("nodes") or []
            cells = [
                [
                    dash(r.get("name")),
                    _role_text(r),
                    f"owner {r['account']}" if r.get("account") not in (None, net.get("account"))
                    else "",
                    dash(r.get("ip")),
                    f"public {r['public_ip']}" if r.get("public_ip") else "",
                    dash(r.get("interface")),
                    dash(r.get("netns")),
                ]
                for r in rows
            ]
            # Pad columns by hand so the node lines align within a subnet, in a file as on screen;
            # a column empty on every line of the subnet (no foreign owner) is left out.
            widths = [max((len(c[i]) for c in cells), default=0) for i in range(7)]
            for r, c in zip(rows, cells, strict=True):
                line = "  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True) if w)
                line = line.rstrip()
                style = "green" if r.get("role") == NodeRole.INSTANCE else ""
                sub_branch.add(Text(line, style=style))
            if not rows:
                sub_branch.add(Text("no nodes", style="dim"))
    externals = data.get("externals") or []
    if externals:
        inet = root.add(Text("external hosts on the intermediate network", style="bold"))
        for r in externals:
            inet.add(f"{dash(r.get('name'))}  {dash(r.get('ip'))}  {dash(r.get('netns'))}")
    emit(root)
    chains_tree = _chains(data.get("appliances") or [])
    if chains_tree is not None:
        emit(chains_tree)


def by_host(data: dict[str, Any]) -> None:
    """host -> node (its role, owner and namespace) -> one line per leg (interface,
    NETWORK/SUBNET, address): the same nodes as `topology`, grouped by the host each is on
    (a node's `host`; none given is the local host, as an older control plane means). Only
    hosts holding a node the caller sees appear (the hosts themselves: `facade host list`)."""
    legs: dict[str, dict[str, list[tuple[dict[str, Any], str]]]] = {}
    for net in data.get("networks") or []:
        for sub in net.get("subnets") or []:
            for r in sub.get("nodes") or []:
                node = legs.setdefault(str(r.get("host") or "local"), {}).setdefault(
                    str(r.get("netns") or r.get("name")), [])
                node.append((r, f"{net.get('name', '?')}/{sub.get('name', '?')}"))
    for r in data.get("externals") or []:
        legs.setdefault(str(r.get("host") or "local"), {}).setdefault(
            str(r.get("netns") or r.get("name")), []).append((r, "the intermediate network"))
    if not legs:
        emit("no nodes")
        return
    root = Tree(Text("facade hosts", style="bold"), guide_style="dim")
    for host in sorted(legs, key=lambda h: (h != "local", h)):
        nodes = legs[host]
        host_branch = root.add(Text.assemble((f"host {host}", "bold cyan"),
                                             f"  {len(nodes)} node{'' if len(nodes) == 1 else 's'}"))
        for netns, node_legs in nodes.items():
            first = node_legs[0][0]
            node_branch = host_branch.add(Text.assemble(
                (dash(first.get("name")), "bold"), f"  {_role_text(first)}",
                f"  owner {first['account']}" if first.get("account") else "", f"  {netns}"))
            for r, subnet in node_legs:
                node_branch.add(f"{dash(r.get('interface')):<6} {subnet:<28} {dash(r.get('ip'))}"
                                + (f"  public {r['public_ip']}" if r.get("public_ip") else ""))
    emit(root)


def _chain_label(app: dict[str, Any]) -> Text:
    return Text.assemble(
        (app.get("name", "?"), "bold"),
        f"  {dash(app.get('service'))} by {dash(app.get('provider'))}",
        f"  {dash(app.get('endpoint'))} in {dash(app.get('subnet'))}  ",
        status_text(app.get("status")),
    )


def _chains(apps: list[dict[str, Any]]) -> Tree | None:
    """Appliances that use or are used by another, as trees from the customer's end: each
    appliance, its backends, and under them the appliance they call, whose front-end sits in
    their backend subnet."""
    by_name = {a.get("name"): a for a in apps}
    linked = [a for a in apps if a.get("uses") or a.get("used_by") or a.get("upstream")]
    if not linked:
        return None
    root = Tree(Text("chains", style="bold"), guide_style="dim")
    for app in linked:
        if any(u in by_name for u in app.get("used_by") or []):
            continue  # drawn under the appliance that uses it
        branch, seen = root.add(_chain_label(app)), set()
        current: dict[str, Any] | None = app
        while current is not None and current.get("name") not in seen:
            seen.add(current.get("name"))
            legs = [dash(current.get("backend_subnet")), *(current.get("extra_subnets") or [])]
            backends = f"backends {', '.join(current.get('backends') or []) or '-'} " \
                       f"({', '.join(legs)})"
            uses = [u for u in current.get("uses") or [] if u in by_name]
            if uses:
                branch = branch.add(f"{backends} call").add(_chain_label(by_name[uses[0]]))
                current = by_name[uses[0]]
                continue
            if current.get("upstream"):
                branch.add(Text(f"{backends} call {current['upstream']} (missing)",
                                style="yellow"))
            elif current.get("backends"):
                branch.add(backends)
            current = None
    return root
