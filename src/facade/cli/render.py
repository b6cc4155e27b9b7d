"""How the `facade` command shows API answers to a person: rich tables and detail views (the
topology tree: render_topology.py).

Every function takes the API's JSON (docs/api.md) and prints it; `--json` bypasses this module
(`print_json`). Output that is not a terminal gets no colour and a wide page, so that a file or a
pipe holds plain, greppable lines. Strings from the API are never read as rich markup.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from facade.cli import formats
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus

# an appliance's status, a node's and a channel's (ChannelStatus.ACTIVE is NodeStatus.ACTIVE's
# string); an enum key finds the API's plain string
STATUS_STYLES: dict[str, str] = {
    ApplianceStatus.READY: "green",
    NodeStatus.ACTIVE: "green",
    ApplianceStatus.PROVISIONING: "yellow",
    NodeStatus.PENDING: "yellow",
    ApplianceStatus.DEGRADED: "magenta",
    ApplianceStatus.DELETING: "dim",
    ApplianceStatus.FAILED: "bold red",
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
    """The API's JSON exactly, indented."""
    print(json.dumps(data, indent=2, ensure_ascii=False))


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


def endpoint_str(appliance: Mapping[str, Any]) -> str:
    endpoint = appliance.get("endpoint") or {}
    if not endpoint.get("ip"):
        return "-"
    return f"{endpoint['ip']}:{endpoint.get('port', '?')}"


def iface_str(iface: dict[str, Any]) -> str:
    return f"{iface.get('name', '?')} {iface.get('subnet', '?')} {iface.get('ip') or '-'}"


# ---- lists -------------------------------------------------------------------------------------


def _print_list(table: Table, rows: Sequence[Any], empty: str) -> None:
    if not rows:
        emit(empty)
    else:
        emit(table)


def accounts(rows: list[dict[str, Any]]) -> None:
    table = _table("NAME", "OPERATOR")
    for row in rows:
        table.add_row(row.get("name"), dash(row.get("operator")))
    _print_list(table, rows, "no accounts")


def networks(rows: list[dict[str, Any]]) -> None:
    table = _table("NAME", "ACCOUNT", "CIDR", "SUBNETS")
    for row in rows:
        subnets = ", ".join(s.get("name", "?") for s in row.get("subnets") or [])
        table.add_row(row.get("name"), dash(row.get("account")), dash(row.get("cidr")), dash(subnets))
    _print_list(table, rows, "no networks")


def rules(rows: list[dict[str, Any]]) -> None:
    table = _table("DIRECTION", "PRIORITY", "ACTION", "PROTOCOL", "PORTS", "CIDR")
    for row in rows:
        table.add_row(dash(row.get("direction")), dash(row.get("priority")), dash(row.get("action")),
                      dash(row.get("protocol")), dash(row.get("ports") or "*"), dash(row.get("cidr")))
    _print_list(table, rows, "no rules")


def subnets(rows: list[dict[str, Any]]) -> None:
    table = _table("NAME", "ACCOUNT", "CIDR", "GATEWAY", "USED")
    for row in rows:
        table.add_row(
            row.get("name"),
            dash(row.get("account")),
            dash(row.get("cidr")),
            dash(row.get("gateway")),
            f"{dash(row.get('used'))}/{dash(row.get('capacity'))}",
        )
    _print_list(table, rows, "no subnets")


def grants(rows: list[dict[str, Any]]) -> None:
    table = _table("SUBNET", "ACCOUNT", "GRANTED", "USED BY")
    for row in rows:
        table.add_row(dash(row.get("subnet")), dash(row.get("account")), dash(row.get("created_at")),
                      ", ".join(row.get("used_by") or []) or "-")
    _print_list(table, rows, "no grants")


def nodes(rows: list[dict[str, Any]]) -> None:
    table = _table("NAME", "ACCOUNT", "STATUS", "INTERFACES", "NETNS")
    for row in rows:
        ifaces = "\n".join(iface_str(i) for i in row.get("interfaces") or [])
        table.add_row(
            row.get("name"),
            dash(row.get("account")),
            status_text(row.get("status")),
            dash(ifaces),
            dash(row.get("netns")),
        )
    _print_list(table, rows, "no instances")


def _service_program(row: dict[str, Any]) -> str:
    return dash(row.get("workload") or row.get("command"))


def services(rows: list[dict[str, Any]]) -> None:
    table = _table("NAME", "ACCOUNT", "WORKLOAD", "PORT", "BACKEND SUBNET", "MANAGEMENT SUBNET")
    for row in rows:
        table.add_row(
            row.get("name"),
            dash(row.get("account")),
            _service_program(row),
            dash(row.get("port")),
            dash(row.get("backend_subnet")),
            dash(row.get("management_subnet")),
        )
    _print_list(table, rows, "no services")


def load_balancers(rows: list[dict[str, Any]]) -> None:
    table = _table("NAME", "ACCOUNT", "MANAGEMENT SUBNET", "SERVICES", "FRONT-ENDS")
    for row in rows:
        table.add_row(row.get("name"), dash(row.get("account")),
                      dash(row.get("management_subnet")), dash(", ".join(row.get("services") or [])),
                      dash(len(row.get("frontends") or [])))
    _print_list(table, rows, "no load-balancer offers")


def load_balancer(obj: dict[str, Any]) -> None:
    pairs: list[tuple[str, RenderableType | str]] = [
        ("load balancer", dash(obj.get("name"))), ("account", dash(obj.get("account"))),
        ("management subnet", dash(obj.get("management_subnet"))),
        ("services", dash(", ".join(obj.get("services") or [])))]
    for fe in obj.get("frontends") or []:
        legs = ", ".join(f"{i.get('subnet')} {i.get('ip')}" for i in fe.get("interfaces") or [])
        pairs.append(("front-end", f"{fe.get('name')} ({fe.get('appliance')}, "
                                   f"{fe.get('status')}): {legs}"))
    _show(_fields(pairs))


def appliances(rows: list[dict[str, Any]]) -> None:
    table = _table("NAME", "ACCOUNT", "SERVICE", "SUBNET", "STATUS", "ENDPOINT", "BACKENDS")
    for row in rows:
        table.add_row(
            row.get("name"),
            dash(row.get("account")),
            dash(row.get("service")),
            dash(row.get("subnet")),
            status_text(row.get("status")),
            endpoint_str(row),
            f"{backend_count(row)}/{dash(row.get('desired_backends'))}",
        )
    _print_list(table, rows, "no appliances")


def events(rows: list[dict[str, Any]]) -> None:
    table = _table("TIME", "KIND", "OBJECT", "MESSAGE")
    for row in rows:
        table.add_row(
            dash(row.get("time")), dash(row.get("kind")), dash(row.get("object")), dash(row.get("message"))
        )
    _print_list(table, rows, "no events")


def _node_hours(seconds: object) -> str:
    try:
        return f"{Decimal(str(seconds)) / 3600:.4f}"
    except (ArithmeticError, ValueError):
        return dash(seconds)


def usage(rows: list[dict[str, Any]]) -> None:
    """Usage per appliance (or node): node-hours, exact byte counts, connections, requests."""
    by_node = any("node" in r for r in rows)
    head = ["APPLIANCE", "CUSTOMER", "PROVIDER"] + (["NODE", "ROLE"] if by_node else [])
    table = _table(*head, "FE NODE-H", "BE NODE-H", "BYTES IN", "BYTES OUT", "CONNS", "REQUESTS")
    for r in rows:
        cells = [dash(r.get("appliance")), dash(r.get("customer")), dash(r.get("provider"))]
        if by_node:
            cells += [dash(r.get("node")), dash(r.get("role"))]
        cells += [_node_hours(r.get("frontend_node_seconds")),
                  _node_hours(r.get("backend_node_seconds"))]
        cells += [f"{r.get(k, 0):,}" for k in ("bytes_in", "bytes_out", "connections",
                                                "requests")]
        table.add_row(*cells)
    _print_list(table, rows, "no usage recorded")


def public_ip_usage(rows: list[dict[str, Any]]) -> None:
    """Usage per public address: hours held, exact bytes through its gateway."""
    table = _table("ADDRESS", "ACCOUNT", "KIND", "IP-H", "BYTES IN", "BYTES OUT")
    for r in rows:
        table.add_row(dash(r.get("address")), dash(r.get("account")), dash(r.get("kind")),
                      dash(r.get("ip_hours")), f"{r.get('bytes_in', 0):,}",
                      f"{r.get('bytes_out', 0):,}")
    _print_list(table, rows, "no public address held")


def channel_usage(rows: list[dict[str, Any]]) -> None:
    """Usage per private channel (VPN): hours held, from its creation to its deletion."""
    table = _table("CHANNEL", "ACCOUNT", "FROM", "UNTIL", "CHANNEL-H")
    for r in rows:
        table.add_row(dash(r.get("channel")), dash(r.get("account")), dash(r.get("held_from")),
                      dash(r.get("held_until")) if r.get("held_until") else "-",
                      dash(r.get("channel_hours")))
    _print_list(table, rows, "no private channel held")


def autoscale(obj: dict[str, Any]) -> None:
    if not obj.get("enabled"):
        _show(_fields([("service", dash(obj.get("service"))), ("autoscaling", "off")]))
        return
    _show(_fields([("service", dash(obj.get("service"))),
                   ("backends", f"{obj.get('min')}..{obj.get('max')}"),
                   ("target", f"{obj.get('target')} {obj.get('metric')}/s per backend"),
                   ("cool-down", f"{obj.get('cooldown')} s")]))


# ---- one object --------------------------------------------------------------------------------


def account(obj: dict[str, Any]) -> None:
    _show(_fields([("account", dash(obj.get("name"))), ("operator", dash(obj.get("operator")))]))


def quotas(obj: dict[str, Any]) -> None:
    """An account's limits and usage; `over` where a lowered limit is under current usage."""
    head = _fields([("account", dash(obj.get("account")))])
    table = _table("RESOURCE", "USED", "LIMIT", "")
    for resource, line in (obj.get("quotas") or {}).items():
        limit, used = line.get("limit"), line.get("used")
        note = "default" if line.get("default") else "set"
        if limit is None:
            note = "operator: not limited"
        elif isinstance(used, int) and used > limit:
            note += ", over: new ones refused"
        table.add_row(resource, dash(used), "-" if limit is None else str(limit), note)
    _show(head, Text(""), table)


def network(obj: dict[str, Any]) -> None:
    head = _fields(
        [
            ("network", dash(obj.get("name"))),
            ("account", dash(obj.get("account"))),
            ("cidr", dash(obj.get("cidr"))),
            *([("public gateway", dash(obj.get("gateway_ip")) + (
                ", outbound NAT" if obj.get("outbound_nat") else ""))]
              if obj.get("public_gateway") else []),
        ]
    )
    rows = obj.get("subnets") or []
    if not rows:
        _show(head, Text("no subnets"))
        return
    table = _table("SUBNET", "CIDR", "GATEWAY", "USED")
    for row in rows:
        used = f"{dash(row.get('used'))}/{dash(row.get('capacity'))}"
        table.add_row(row.get("name"), dash(row.get("cidr")), dash(row.get("gateway")), used)
    _show(head, Text(""), table)


def subnet(obj: dict[str, Any]) -> None:
    _show(
        _fields(
            [
                ("subnet", dash(obj.get("name"))),
                ("network", dash(obj.get("network"))),
                ("account", dash(obj.get("account"))),
                ("cidr", dash(obj.get("cidr"))),
                ("gateway", dash(obj.get("gateway"))),
                ("used", f"{dash(obj.get('used'))} of {dash(obj.get('capacity'))} addresses"),
                *([("routes", "private: no route to the Internet")]
                  if obj.get("internet") is False else []),
                *([("sites", "kept off the network's sites (vpns)")]
                  if obj.get("sites") is False else []),
            ]
        )
    )


def _iface_table(ifaces: list[dict[str, Any]]) -> Table:
    table = _table("INTERFACE", "SUBNET", "IP")
    for iface in ifaces:
        table.add_row(dash(iface.get("name")), dash(iface.get("subnet")), dash(iface.get("ip")))
    return table


def node(obj: dict[str, Any]) -> None:
    pairs: list[tuple[str, RenderableType | str]] = [
        (obj.get("role") or NodeRole.INSTANCE, dash(obj.get("name"))),
        ("account", dash(obj.get("account"))),
        ("status", status_text(obj.get("status"))),
        ("netns", dash(obj.get("netns"))),
    ]
    if obj.get("appliance"):
        pairs.append(("appliance", obj["appliance"]))
    lim = obj.get("limits")
    if isinstance(lim, dict):
        pairs.append(("limits", f"{lim.get('memory_mb')} MiB, {lim.get('pids')} processes, "
                                f"CPU weight {lim.get('cpu_weight')}"))
    _show(_fields(pairs), Text(""), _iface_table(obj.get("interfaces") or []))


def limits(obj: dict[str, Any]) -> None:
    _show(_fields([("memory", f"{obj.get('memory_mb')} MiB"),
                   ("processes", dash(obj.get("pids"))),
                   ("cpu weight", dash(obj.get("cpu_weight")))]))


def health_check(obj: dict[str, Any]) -> None:
    what = f"GET {obj.get('path')}, expects {obj.get('codes')}" if obj.get("type") == "http" \
        else dash(obj.get("type"))
    _show(_fields([("check", what), ("interval", f"{obj.get('interval')} s"),
                   ("timeout", f"{obj.get('timeout')} s"), ("rise", dash(obj.get("rise"))),
                   ("fall", dash(obj.get("fall")))]))


def service(obj: dict[str, Any]) -> None:
    # The contract does not list a Service's fields; show the known ones first, then the rest.
    known = ["name", "account", "workload", "command", "port", "health_path"]
    known += ["backend_subnet", "management_subnet"]
    pairs: list[tuple[str, RenderableType | str]] = [
        ("service" if k == "name" else k.replace("_", " "), dash(obj.get(k)))
        for k in known
        if obj.get(k) is not None
    ]
    pairs += [
        (k.replace("_", " "), dash(v if not isinstance(v, (dict, list)) else json.dumps(v)))
        for k, v in obj.items()
        if k not in known
    ]
    _show(_fields(pairs))


def _node_branch(tree: Tree, label: str, obj: dict[str, Any] | None) -> None:
    if not obj:
        tree.add(Text(f"{label}: -"))
        return
    head = Text.assemble(
        (f"{label} ", "bold"),
        f"{obj.get('name', '?')}  ",
        status_text(obj.get("status")),
        f"  {dash(obj.get('netns'))}",
    )
    branch = tree.add(head)
    for iface in obj.get("interfaces") or []:
        branch.add(
            f"{dash(iface.get('name')):<6} {dash(iface.get('subnet')):<24} {dash(iface.get('ip'))}"
        )


def backend_count(obj: Mapping[str, Any]) -> int:
    """Backends that exist and are not leaving; a customer sees the count, not the nodes."""
    count = obj.get("backend_count")
    return int(count) if isinstance(count, int) else len(obj.get("backends") or [])


def appliance(obj: dict[str, Any]) -> None:
    status = status_text(obj.get("status"))
    if obj.get("status_detail"):
        status.append(f"  {obj['status_detail']}")
    backends = obj.get("backends") or []
    head = _fields(
        [
            ("appliance", dash(obj.get("name"))),
            ("account", dash(obj.get("account"))),
            ("service", dash(obj.get("service"))),
            ("status", status),
            ("endpoint", f"{endpoint_str(obj)} in {dash(obj.get('subnet'))}"),
            ("backends",
             f"{backend_count(obj)} running, {dash(obj.get('desired_backends'))} desired"),
            *_chain_fields(obj),
        ]
    )
    tree = Tree(Text("nodes", style="bold"))
    _node_branch(tree, "front-end", obj.get("frontend"))
    for backend in backends:
        _node_branch(tree, "backend", backend)
    _show(head, Text(""), tree)


def _chain_fields(obj: dict[str, Any]) -> list[tuple[str, RenderableType | str]]:
    """`uses` / `used by` lines of an appliance (chains); an upstream the service names but
    that does not exist (yet, or any more) is shown as missing."""
    pairs: list[tuple[str, RenderableType | str]] = []
    upstream, uses = obj.get("upstream"), obj.get("uses") or []
    if uses:
        pairs.append(("uses", ", ".join(uses)))
    elif upstream:
        pairs.append(("uses", Text(f"{upstream} (missing: requests that need it fail)",
                                   style="yellow")))
    if obj.get("used_by"):
        pairs.append(("used by", ", ".join(obj["used_by"])))
    return pairs
