"""`facade rule ...`: security rules of a subnet (--subnet NET/SUB) or of one interface of an
instance (--interface INSTANCE/eth0). See docs/security.md."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facade.cli import render
from facade.cli.client import Client, connect
from facade.cli.commands.options import Json, Output, owned, split_subnet
from facade.client.models import Rule
from facade.client.resources import RuleSet

app = typer.Typer(help="Security rules of subnets and interfaces.", no_args_is_help=True)

Where = tuple[str, str, str, str | None]  # ("subnet"|"interface", owner, name, account)

Subnet = Annotated[str | None, typer.Option("--subnet", metavar="NETWORK/SUBNET",
                                            help="Rules of a subnet (its owner's instances).")]
Interface = Annotated[str | None, typer.Option("--interface", metavar="INSTANCE/IFNAME",
                                               help="Rules of one interface, e.g. web/eth0.")]
Direction = Annotated[str, typer.Option("--direction", help="ingress or egress.")]
Priority = Annotated[int, typer.Option("--priority", help="1..1000, lower first.")]


def _checked(subnet: str | None, interface: str | None) -> Where:
    """("subnet", NETWORK, SUBNET, ACCOUNT) or ("interface", INSTANCE, IFNAME, ACCOUNT), the
    account None unless given as ACCOUNT/NETWORK/SUBNET or ACCOUNT/INSTANCE/IFNAME; a usage
    error else."""
    if (subnet is None) == (interface is None):
        raise typer.BadParameter("give exactly one of --subnet NETWORK/SUBNET and "
                                 "--interface INSTANCE/IFNAME")
    if subnet is not None:
        network, name = split_subnet(subnet)
        bare, account = owned(network)
        return "subnet", bare, name, account
    assert interface is not None
    instance, sep, ifname = interface.rpartition("/")
    if not sep or not instance or not ifname:
        raise typer.BadParameter(f"{interface!r} is not INSTANCE/IFNAME or "
                                 "ACCOUNT/INSTANCE/IFNAME (e.g. web/eth0)")
    bare, account = owned(instance)
    return "interface", bare, ifname, account


def _rules(cli: Client, where: Where) -> RuleSet:
    kind, owner, name, account = where
    of = cli.rules.of_subnet if kind == "subnet" else cli.rules.of_interface
    return of(owner, name, account=account)


def _show(rows: list[Rule]) -> None:
    render.rules(rows)


@app.command("add")
def add(
    direction: Direction,
    action: Annotated[str, typer.Option("--action", help="allow or deny.")],
    priority: Priority,
    subnet: Subnet = None,
    interface: Interface = None,
    protocol: Annotated[str, typer.Option("--protocol", help="tcp, udp, icmp or any.")] = "any",
    ports: Annotated[str | None, typer.Option("--ports", help="80 or 8000-8100 (tcp/udp).")]
    = None,
    cidr: Annotated[str, typer.Option("--cidr", help="The remote side (IPv4).")] = "0.0.0.0/0",
) -> None:
    """Add a rule (first match wins by priority; no match: allowed; replies always pass)."""
    where = _checked(subnet, interface)
    body: dict[str, Any] = {"direction": direction, "action": action, "protocol": protocol,
                            "cidr": cidr, "priority": priority}
    if ports is not None:
        body["ports"] = ports
    with connect() as cli:
        _rules(cli, where).add(body)
    typer.echo(f"added {direction} rule at priority {priority} to {subnet or interface}")


@app.command("list")
def list_(subnet: Subnet = None, interface: Interface = None, as_json: Json = False, form: Output = None) -> None:
    """List the rules of a subnet or an interface."""
    where = _checked(subnet, interface)
    with connect() as cli:
        rows = _rules(cli, where).list()
    render.output(rows, as_json, _show, form)


@app.command("delete")
def delete(direction: Direction, priority: Priority, subnet: Subnet = None,
           interface: Interface = None) -> None:
    """Delete the rule at a priority in one direction."""
    where = _checked(subnet, interface)
    with connect() as cli:
        _rules(cli, where).delete(priority, direction)
    typer.echo(f"deleted {direction} rule at priority {priority} of {subnet or interface}")
