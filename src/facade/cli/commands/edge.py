"""`facade ip ...` and `facade external ...`: the provider network's edge (docs/edge.md).

Public addresses: the operator's pools, a customer's addresses (allocate, associate or remap,
disassociate, release); external hosts on the intermediate network (the stand-in for the
Internet), where `facade exec` runs commands as in an instance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Json, Output, owned
from facade.client.models import PublicIp

app = typer.Typer(help="Public addresses: pools, allocation, association.", no_args_is_help=True)
pools = typer.Typer(help="The operator's pools of public addresses.", no_args_is_help=True)
app.add_typer(pools, name="pool")
externals = typer.Typer(help="External hosts on the intermediate network (the Internet).",
                        no_args_is_help=True)

Address = Annotated[str, typer.Argument(help="A public address, e.g. 203.0.113.5.")]
Account = Annotated[str | None, typer.Option("--account", "-a", help="The owning account "
                                             "(default: the caller's).")]


def _lines(lines: Iterable[str]) -> None:
    for line in lines:
        typer.echo(line)


def _line(obj: PublicIp) -> str:
    target = obj.associated
    where = "not associated"
    if target and target.appliance:
        where = f"appliance {target.appliance} ({target.private_ip})"
    elif target and target.site:
        where = f"site {target.site} host {target.private_ip} (over its vpn)"
    elif target:
        where = f"{target.instance}/{target.interface} ({target.private_ip})"
    return f"{obj.address}  {obj.account}  {obj.kind}  {where}"


@pools.command("add")
def pool_add(cidr: Annotated[str, typer.Argument(help="e.g. 198.51.100.0/24")]) -> None:
    """Add a pool of public addresses (the operator)."""
    with connect() as cli:
        obj = cli.ip_pools.create({"cidr": cidr})
    typer.echo(f"added pool {obj.cidr} ({obj.capacity} addresses)")


@pools.command("list")
def pool_list(as_json: Json = False, form: Output = None) -> None:
    """List the pools and how many of their addresses are in use."""
    with connect() as cli:
        rows = cli.ip_pools.list()
    render.output(rows, as_json, lambda rs: _lines(f"{r.cidr}  {r.used}/{r.capacity}"
                                                   for r in rs), form)


@app.command("allocate")
def allocate(account: Account = None, as_json: Json = False, form: Output = None) -> None:
    """Allocate a customer public address to an account; prints it."""
    with connect() as cli:
        obj = cli.public_ips.create({"account": account} if account else {})
    render.output(obj, as_json, lambda o: typer.echo(o.address), form)


@app.command("associate")
def associate(
    address: Address,
    instance: Annotated[str | None, typer.Option("--instance", help="An instance of the "
                                                 "address's account.")] = None,
    iface: Annotated[str, typer.Option("--iface", help="Its interface.")] = "eth0",
    appliance: Annotated[str | None, typer.Option("--appliance", help="Or an appliance of the "
                                                  "account: its endpoint.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Or a site of the account, "
                                             "reached over its vpn...")] = None,
    site_address: Annotated[str | None, typer.Option("--address", help="...and the address "
                                                     "of its host there.")] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Associate an address with an instance's interface, an appliance's endpoint or a site's
    host; an associated one moves (remap)."""
    body: dict[str, Any] = {"iface": iface}
    if instance is not None:
        body["instance"] = instance
    if appliance is not None:
        body["appliance"] = appliance
    if site is not None:
        body["site"] = site
    if site_address is not None:
        body["site_address"] = site_address
    with connect() as cli:
        obj = cli.public_ips.associate(address, body)
    render.output(obj, as_json, lambda o: typer.echo(_line(o)), form)


@app.command("disassociate")
def disassociate(address: Address) -> None:
    """Take an address off its instance (it stays the account's)."""
    with connect() as cli:
        cli.public_ips.disassociate(address)
    typer.echo(f"disassociated {address}")


@app.command("release")
def release(address: Address) -> None:
    """Give an unassociated address back to the pool."""
    with connect() as cli:
        cli.public_ips.delete(address)
    typer.echo(f"released {address}")


@app.command("list")
def list_(as_json: Json = False, form: Output = None) -> None:
    """List the public addresses the caller sees."""
    with connect() as cli:
        rows = cli.public_ips.list()
    render.output(rows, as_json, lambda rs: _lines(_line(r) for r in rs), form)


@app.command("show")
def show(address: Address, as_json: Json = False, form: Output = None) -> None:
    """Show one public address."""
    with connect() as cli:
        obj = cli.public_ips.get(address)
    render.output(obj, as_json, lambda o: typer.echo(_line(o)), form)


Name = Annotated[str, typer.Argument(help="External host name.")]


@externals.command("create")
def external_create(
    name: Name,
    account: Account = None,
    ip: Annotated[str | None, typer.Option("--ip", help="Its address on the intermediate "
                                           "network (allocated unless given).")] = None,
) -> None:
    """Create an external host on the intermediate network."""
    body: dict[str, Any] = {"name": name}
    if account:
        body["account"] = account
    if ip:
        body["ip"] = ip
    with connect() as cli:
        obj = cli.externals.create(body)
    typer.echo(f"created external host {name} ({obj.ip})")


@externals.command("list")
def external_list(as_json: Json = False, form: Output = None) -> None:
    """List external hosts."""
    with connect() as cli:
        rows = cli.externals.list()
    render.output(rows, as_json, lambda rs: _lines(
        f"{r.name}  {r.account}  {r.ip}  {r.status}" for r in rs), form)


@externals.command("show")
def external_show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show one external host."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.externals.get(bare, account=account)
    render.output(obj, as_json, render.node, form)


@externals.command("delete")
def external_delete(name: Name) -> None:
    """Delete an external host."""
    bare, account = owned(name)
    with connect() as cli:
        cli.externals.delete(bare, account=account)
    typer.echo(f"deleted external host {name}")
