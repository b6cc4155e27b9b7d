"""`facade subnet ...`: subnets, always named NETWORK/SUBNET."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Json, Output, owned, owned_subnet, split_subnet

app = typer.Typer(help="Subnets, named NETWORK/SUBNET.", no_args_is_help=True)

Ref = Annotated[str, typer.Argument(metavar="NETWORK/SUBNET", help="e.g. acme-vpc/app")]


def _ref(ref: str) -> tuple[str, str | None]:
    """[ACCOUNT/]NETWORK/SUBNET, checked (a usage error otherwise): (NETWORK/SUBNET, ACCOUNT or
    None), the account sent as `?account=` (docs/api.md "Names")."""
    return owned_subnet(ref)


@app.command("create")
def create(
    ref: Ref,
    cidr: Annotated[str, typer.Option("--cidr", help="CIDR inside the network's CIDR.")],
    private: Annotated[bool, typer.Option(
        "--private", help="No route to the Internet through the network's public gateway.")]
    = False,
    no_sites: Annotated[bool, typer.Option(
        "--no-sites", help="No route to the network's customer sites (its vpns).")] = False,
) -> None:
    """Create a subnet in a network."""
    network, subnet = split_subnet(ref)
    bare, account = owned(network)
    body: dict[str, Any] = {"name": subnet, "cidr": cidr}
    if private:
        body["internet"] = False
    if no_sites:
        body["sites"] = False
    with connect() as cli:
        cli.subnets.create_in(bare, body, account=account)
    typer.echo(f"created subnet {ref}" + (" (private)" if private else ""))


@app.command("update")
def update(
    ref: Ref,
    internet: Annotated[bool | None, typer.Option(
        "--internet/--private",
        help="Route it to the Internet through the network's public gateway, or not.")]
    = None,
    sites: Annotated[bool | None, typer.Option(
        "--sites/--no-sites",
        help="Route it to the network's customer sites through its private gateway, or "
             "not.")] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Change a subnet's routes: to the Internet, to the network's sites."""
    body = {k: v for k, v in (("internet", internet), ("sites", sites)) if v is not None}
    if not body:
        raise typer.BadParameter("give --internet/--private or --sites/--no-sites")
    name, account = _ref(ref)
    with connect() as cli:
        obj = cli.subnets.update(name, body, account=account)
    render.output(obj, as_json, render.subnet, form)


@app.command("list")
def list_(as_json: Json = False, form: Output = None) -> None:
    """List subnets."""
    with connect() as cli:
        rows = cli.subnets.list()
    render.output(rows, as_json, render.subnets, form)


@app.command("show")
def show(ref: Ref, as_json: Json = False, form: Output = None) -> None:
    """Show one subnet."""
    name, account = _ref(ref)
    with connect() as cli:
        obj = cli.subnets.get(name, account=account)
    render.output(obj, as_json, render.subnet, form)


@app.command("delete")
def delete(ref: Ref) -> None:
    """Delete a subnet."""
    name, account = _ref(ref)
    with connect() as cli:
        cli.subnets.delete(name, account=account)
    typer.echo(f"deleted subnet {ref}")


Account = Annotated[str, typer.Argument(metavar="ACCOUNT", help="the account granted")]


@app.command("grant")
def grant(ref: Ref, account: Account) -> None:
    """Let ACCOUNT give its instances interfaces in this subnet (owner or operator only)."""
    name, owner = _ref(ref)
    with connect() as cli:
        cli.subnets.grant(name, account, subnet_account=owner)
    typer.echo(f"granted {account} interfaces in {ref}")


@app.command("revoke")
def revoke(ref: Ref, account: Account) -> None:
    """Revoke ACCOUNT's grant: no new interfaces; existing ones keep working (listed)."""
    name, owner = _ref(ref)
    with connect() as cli:
        answer = cli.subnets.revoke(name, account, subnet_account=owner)
    typer.echo(answer.message)


@app.command("grants")
def grants(ref: Ref, as_json: Json = False, form: Output = None) -> None:
    """List the accounts granted interfaces in this subnet."""
    name, account = _ref(ref)
    with connect() as cli:
        rows = cli.subnets.grants(name, account=account)
    render.output(rows, as_json, render.grants, form)
