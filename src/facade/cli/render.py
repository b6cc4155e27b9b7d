"""How the `facade` command shows API answers to a person: rich tables and detail views (the
topology tree: render_topology.py).

Every function takes an API answer as the client parsed it (its read model, client/models.py)
and prints it; `--json` bypasses this module (formats.py). Output that is not a terminal gets no colour and a wide page, so that a file or a
pipe holds plain, greppable lines. Strings from the API are never read as rich markup.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from facade.cli import formats
from facade.client.models import (
    Account,
    Appliance,
    Autoscale,
    ChannelUsage,
    Event,
    Grant,
    HealthCheck,
    Host,
    Interface,
    Limits,
    LoadBalancer,
    Network,
    Node,
    PublicIpUsage,
    Quota,
    Rule,
    Service,
    Subnet,
    Usage,
)
from facade.domain.states import ApplianceStatus, HostState, NodeRole, NodeStatus

# an appliance's status, a node's and a channel's (ChannelStatus.ACTIVE is NodeStatus.ACTIVE's
# string); an enum key finds the API's plain string
STATUS_STYLES: dict[str, str] = {
    ApplianceStatus.READY: "green",
    NodeStatus.ACTIVE: "green",
    ApplianceStatus.PROVISIONING: "yellow",
    ApplianceStatus.SCALING: "yellow",
    NodeStatus.PENDING: "yellow",
    ApplianceStatus.DEGRADED: "magenta",
    ApplianceStatus.DELETING: "dim",
    ApplianceStatus.FAILED: "bold red",
    HostState.DRAINING: "yellow",
    HostState.LOST: "bold red",
    HostState.REMOVED: "dim",
}


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr); plain and wide when it is not a terminal."""
    con = Console(stderr=stderr, markup=False, highlight=False, emoji=False)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con = Console(stderr=stderr, markup=False, highlight=False, emoji=False, width=200)
    return con


def emit(renderable: RenderableType | str) -> None:
    """Print to stdout; off a terminal, without the padding rich leaves at the end of lines."""
    con = console()
    if con.is_terminal:
        con.print(renderable)
        return
    with con.capture() as captured:
        con.print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def print_json(data: Any) -> None:
    """The API's JSON exactly (a read model: the fields the API sent), indented."""
    print(json.dumps(formats.plain(data), indent=2, ensure_ascii=False))


def output(data: Any, as_json: bool, view: Callable[[Any], None],
           form: formats.Format | None = None) -> None:
    """`--json` or `-o json`: the API's answer as it came; `-o yaml`, `-o name` (formats.py);
    otherwise the person's view of it."""
    formats.emit(data, formats.choose(as_json, form), view)


def status_text(status: str | None) -> Text:
    status = status or "-"
    return Text(status, style=STATUS_STYLES.get(status, ""))


def dash(value: Any) -> str:
    """A value as a cell shows it: `-` for nothing."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _fields(pairs: Iterable[tuple[str, RenderableType | str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in pairs:
        grid.add_row(key, value)
    return grid


def _show(*parts: RenderableType) -> None:
    emit(Group(*parts))


def endpoint_str(appliance: Appliance) -> str:
    endpoint = appliance.endpoint
    if not endpoint.ip:
        return "-"
    return f"{endpoint.ip}:{endpoint.port}"


def iface_str(iface: Interface) -> str:
    return f"{iface.name} {iface.subnet} {iface.ip or '-'}"


# ---- lists -------------------------------------------------------------------------------------


def _print_list(table: Table, rows: Sequence[Any], empty: str) -> None:
    if not rows:
        emit(empty)
    else:
        emit(table)


def accounts(rows: list[Account]) -> None:
    table = _table("NAME", "OPERATOR")
    for row in rows:
        table.add_row(row.name, dash(row.operator))
    _print_list(table, rows, "no accounts")


def networks(rows: list[Network]) -> None:
    table = _table("NAME", "ACCOUNT", "CIDR", "SUBNETS")
    for row in rows:
        subnets = ", ".join(s.name for s in row.subnets)
        table.add_row(row.name, dash(row.account), dash(row.cidr), dash(subnets))
    _print_list(table, rows, "no networks")


def rules(rows: list[Rule]) -> None:
    table = _table("DIRECTION", "PRIORITY", "ACTION", "PROTOCOL", "PORTS", "CIDR")
    for row in rows:
        table.add_row(dash(row.direction), dash(row.priority), dash(row.action),
                      dash(row.protocol), dash(row.ports or "*"), dash(row.cidr))
    _print_list(table, rows, "no rules")


def subnets(rows: list[Subnet]) -> None:
    table = _table("NAME", "ACCOUNT", "CIDR", "GATEWAY", "USED")
    for row in rows:
        table.add_row(row.name, dash(row.account), dash(row.cidr), dash(row.gateway),
                      f"{dash(row.used)}/{dash(row.capacity)}")
    _print_list(table, rows, "no subnets")


def grants(rows: list[Grant]) -> None:
    table = _table("SUBNET", "ACCOUNT", "GRANTED", "USED BY")
    for row in rows:
        table.add_row(dash(row.subnet), dash(row.account), dash(row.created_at),
                      ", ".join(row.used_by) or "-")
    _print_list(table, rows, "no grants")


def nodes(rows: Sequence[Node]) -> None:
    table = _table("NAME", "ACCOUNT", "STATUS", "INTERFACES", "NETNS")
    for row in rows:
        ifaces = "\n".join(iface_str(i) for i in row.interfaces)
        table.add_row(row.name, dash(row.account), status_text(row.status), dash(ifaces),
                      dash(row.netns))
    _print_list(table, rows, "no instances")


def _service_program(row: Service) -> str:
    return dash(row.workload or row.command)


def services(rows: list[Service]) -> None:
    table = _table("NAME", "ACCOUNT", "WORKLOAD", "PORT", "BACKEND SUBNET", "MANAGEMENT SUBNET")
    for row in rows:
        table.add_row(row.name, dash(row.account), _service_program(row), dash(row.port),
                      dash(row.backend_subnet), dash(row.management_subnet))
    _print_list(table, rows, "no services")


def load_balancers(rows: list[LoadBalancer]) -> None:
    table = _table("NAME", "ACCOUNT", "MANAGEMENT SUBNET", "SERVICES", "FRONT-ENDS")
    for row in rows:
        table.add_row(row.name, dash(row.account), dash(row.management_subnet),
                      dash(", ".join(row.services)), dash(len(row.frontends)))
    _print_list(table, rows, "no load-balancer offers")


def load_balancer(obj: LoadBalancer) -> None:
    pairs: list[tuple[str, RenderableType | str]] = [
        ("load balancer", dash(obj.name)), ("account", dash(obj.account)),
        ("management subnet", dash(obj.management_subnet)),
        ("services", dash(", ".join(obj.services)))]
    for fe in obj.frontends:
        legs = ", ".join(f"{i.subnet} {i.ip}" for i in fe.interfaces)
        pairs.append(("front-end", f"{fe.name} ({fe.appliance}, {fe.status}): {legs}"))
    _show(_fields(pairs))


def appliances(rows: list[Appliance]) -> None:
    table = _table("NAME", "ACCOUNT", "SERVICE", "SUBNET", "STATUS", "ENDPOINT", "BACKENDS")
    for row in rows:
        table.add_row(row.name, dash(row.account), dash(row.service), dash(row.subnet),
                      status_text(row.status), endpoint_str(row),
                      f"{backend_count(row)}/{dash(row.desired_backends)}")
    _print_list(table, rows, "no appliances")


def hosts(rows: list[Host]) -> None:
    table = _table("NAME", "STATE", "ADDRESS", "NODES", "CAPACITY", "HEARTBEAT", "SIMULATED")
    for row in rows:
        table.add_row(row.name, status_text(row.state),
                      "local" if row.local else dash(row.address), str(row.nodes),
                      str(row.capacity), dash(row.heartbeat), dash(row.simulated))
    _print_list(table, rows, "no hosts")


def host(obj: Host) -> None:
    _show(_fields([
        ("host", obj.name),
        ("state", status_text(obj.state)),
        ("address", "none: the control plane's own machine" if obj.local
         else dash(obj.address)),
        ("nodes", f"{obj.nodes} of {obj.capacity}"),
        ("heartbeat", "none: the control plane runs on it" if obj.local and obj.heartbeat is None
         else dash(obj.heartbeat)),
        ("simulated", dash(obj.simulated)),
        *([("claimed by", f"{obj.claimed_by} (its dedicated nodes: no other account's "
                          "node goes on it)")] if obj.claimed_by else []),
        *([("detail", obj.detail)] if obj.detail and not obj.local else []),
    ]))


def events(rows: list[Event]) -> None:
    table = _table("TIME", "KIND", "OBJECT", "MESSAGE")
    for row in rows:
        table.add_row(dash(row.time), dash(row.kind), dash(row.object), dash(row.message))
    _print_list(table, rows, "no events")


def _node_hours(seconds: object) -> str:
    try:
        return f"{Decimal(str(seconds)) / 3600:.4f}"
    except (ArithmeticError, ValueError):
        return dash(seconds)


def usage(rows: list[Usage]) -> None:
    """Usage per appliance (or node): node-hours, exact byte counts, connections, requests."""
    by_node = any("node" in r.model_fields_set for r in rows)
    head = ["APPLIANCE", "CUSTOMER", "PROVIDER"] + (["NODE", "ROLE"] if by_node else [])
    table = _table(*head, "FE NODE-H", "BE NODE-H", "BYTES IN", "BYTES OUT", "CONNS", "REQUESTS")
    for r in rows:
        cells = [dash(r.appliance), dash(r.customer), dash(r.provider)]
        if by_node:
            cells += [dash(r.node), dash(r.role)]
        cells += [_node_hours(r.frontend_node_seconds), _node_hours(r.backend_node_seconds)]
        cells += [f"{n:,}" for n in (r.bytes_in, r.bytes_out, r.connections, r.requests)]
        table.add_row(*cells)
    _print_list(table, rows, "no usage recorded")


def public_ip_usage(rows: list[PublicIpUsage]) -> None:
    """Usage per public address: hours held, exact bytes through its gateway."""
    table = _table("ADDRESS", "ACCOUNT", "KIND", "IP-H", "BYTES IN", "BYTES OUT")
    for r in rows:
        table.add_row(dash(r.address), dash(r.account), dash(r.kind), dash(r.ip_hours),
                      f"{r.bytes_in:,}", f"{r.bytes_out:,}")
    _print_list(table, rows, "no public address held")


def channel_usage(rows: list[ChannelUsage]) -> None:
    """Usage per private channel (VPN): hours held, from its creation to its deletion."""
    table = _table("CHANNEL", "ACCOUNT", "FROM", "UNTIL", "CHANNEL-H")
    for r in rows:
        table.add_row(dash(r.channel), dash(r.account), dash(r.held_from),
                      dash(r.held_until), dash(r.channel_hours))
    _print_list(table, rows, "no private channel held")


def autoscale(obj: Autoscale) -> None:
    if not obj.enabled:
        _show(_fields([("service", dash(obj.service)), ("autoscaling", "off")]))
        return
    _show(_fields([("service", dash(obj.service)),
                   ("backends", f"{obj.min}..{obj.max}"),
                   ("target", f"{obj.target} {obj.metric}/s per backend"),
                   ("cool-down", f"{obj.cooldown} s")]))


# ---- one object --------------------------------------------------------------------------------


def account(obj: Account) -> None:
    _show(_fields([("account", dash(obj.name)), ("operator", dash(obj.operator))]))


def quotas(obj: Quota) -> None:
    """An account's limits and usage; `over` where a lowered limit is under current usage."""
    head = _fields([("account", dash(obj.account))])
    table = _table("RESOURCE", "USED", "LIMIT", "")
    for resource, line in obj.quotas.items():
        limit, used = line.limit, line.used
        note = "default" if line.default else "set"
        if limit is None:
            note = "operator: not limited"
        elif used > limit:
            note += ", over: new ones refused"
        table.add_row(resource, dash(used), "-" if limit is None else str(limit), note)
    _show(head, Text(""), table)


def network(obj: Network) -> None:
    head = _fields([
        ("network", dash(obj.name)),
        ("account", dash(obj.account)),
        ("cidr", dash(obj.cidr)),
        *([("public gateway", dash(obj.gateway_ip) + (
            ", outbound NAT" if obj.outbound_nat else ""))] if obj.public_gateway else []),
    ])
    if not obj.subnets:
        _show(head, Text("no subnets"))
        return
    table = _table("SUBNET", "CIDR", "GATEWAY", "USED")
    for row in obj.subnets:
        table.add_row(row.name, dash(row.cidr), dash(row.gateway),
                      f"{dash(row.used)}/{dash(row.capacity)}")
    _show(head, Text(""), table)


def subnet(obj: Subnet) -> None:
    _show(_fields([
        ("subnet", dash(obj.name)),
        ("network", dash(obj.network)),
        ("account", dash(obj.account)),
        ("cidr", dash(obj.cidr)),
        ("gateway", dash(obj.gateway)),
        ("used", f"{dash(obj.used)} of {dash(obj.capacity)} addresses"),
        *([("routes", "private: no route to the Internet")] if not obj.internet else []),
        *([("sites", "kept off the network's sites (vpns)")] if not obj.sites else []),
    ]))


def _iface_table(ifaces: list[Interface]) -> Table:
    table = _table("INTERFACE", "SUBNET", "IP")
    for iface in ifaces:
        table.add_row(dash(iface.name), dash(iface.subnet), dash(iface.ip))
    return table


def node(obj: Node) -> None:
    pairs: list[tuple[str, RenderableType | str]] = [
        (obj.role or NodeRole.INSTANCE, dash(obj.name)),
        ("account", dash(obj.account)),
        ("status", status_text(obj.status)),
        ("netns", dash(obj.netns)),
        ("host", dash(obj.host)),
    ]
    if obj.appliance:
        pairs.append(("appliance", obj.appliance))
    lim = obj.limits
    pairs.append(("limits", f"{lim.memory_mb} MiB, {lim.pids} processes, "
                            f"CPU weight {lim.cpu_weight}"))
    _show(_fields(pairs), Text(""), _iface_table(obj.interfaces))


def limits(obj: Limits) -> None:
    _show(_fields([("memory", f"{obj.memory_mb} MiB"),
                   ("processes", dash(obj.pids)),
                   ("cpu weight", dash(obj.cpu_weight))]))


def health_check(obj: HealthCheck) -> None:
    what = f"GET {obj.path}, expects {obj.codes}" if obj.type == "http" else dash(obj.type)
    _show(_fields([("check", what), ("interval", f"{obj.interval} s"),
                   ("timeout", f"{obj.timeout} s"), ("rise", dash(obj.rise)),
                   ("fall", dash(obj.fall))]))


def service(obj: Service) -> None:
    # the known fields first, then the rest as the answer gave them
    fields = obj.model_dump(mode="json", exclude_unset=True)
    known = ["name", "account", "workload", "command", "port", "health_path"]
    known += ["backend_subnet", "management_subnet"]
    pairs: list[tuple[str, RenderableType | str]] = [
        ("service" if k == "name" else k.replace("_", " "), dash(fields.get(k)))
        for k in known
        if fields.get(k) is not None
    ]
    pairs += [
        (k.replace("_", " "), dash(v if not isinstance(v, (dict, list)) else json.dumps(v)))
        for k, v in fields.items()
        if k not in known
    ]
    _show(_fields(pairs))


def _node_branch(tree: Tree, label: str, obj: Node | None) -> None:
    if obj is None:
        tree.add(Text(f"{label}: -"))
        return
    head = Text.assemble((f"{label} ", "bold"), f"{obj.name}  ", status_text(obj.status),
                         f"  {dash(obj.netns)}  on {dash(obj.host)}")
    branch = tree.add(head)
    for iface in obj.interfaces:
        branch.add(f"{dash(iface.name):<6} {dash(iface.subnet):<24} {dash(iface.ip)}")


def backend_count(obj: Appliance) -> int:
    """Backends that exist and are not leaving; a customer sees the count, not the nodes."""
    return obj.backend_count


def appliance(obj: Appliance) -> None:
    status = status_text(obj.status)
    if obj.status_detail:
        status.append(f"  {obj.status_detail}")
    head = _fields([
        ("appliance", dash(obj.name)),
        ("account", dash(obj.account)),
        ("service", dash(obj.service)),
        ("status", status),
        ("endpoint", f"{endpoint_str(obj)} in {dash(obj.subnet)}"),
        ("backends", f"{backend_count(obj)} running, {dash(obj.desired_backends)} desired"),
        ("tenancy", dash(obj.tenancy)),
        *_chain_fields(obj),
    ])
    tree = Tree(Text("nodes", style="bold"))
    _node_branch(tree, "front-end", obj.frontend)
    for backend in obj.backends:
        _node_branch(tree, "backend", backend)
    _show(head, Text(""), tree)


def _chain_fields(obj: Appliance) -> list[tuple[str, RenderableType | str]]:
    """`uses` / `used by` lines of an appliance (chains); an upstream the service names but
    that does not exist (yet, or any more) is shown as missing."""
    pairs: list[tuple[str, RenderableType | str]] = []
    if obj.uses:
        pairs.append(("uses", ", ".join(obj.uses)))
    elif obj.upstream:
        pairs.append(("uses", Text(f"{obj.upstream} (missing: requests that need it fail)",
                                   style="yellow")))
    if obj.used_by:
        pairs.append(("used by", ", ".join(obj.used_by)))
    return pairs
