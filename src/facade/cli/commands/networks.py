"""`facade network ...`: private networks (VPCs)."""

from __future__ import annotations

from typing import Annotated

import typer

from facade.cli import render
from facade.cli.client import connect, seg
from facade.cli.commands.options import Account, Json

app = typer.Typer(help="Private networks (VPCs).", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Network name.")]


@app.command("create")
def create(
    name: Name,
    account: Account,
    cidr: Annotated[str, typer.Option("--cidr", help="The network's CIDR, e.g. 10.0.0.0/16.")],
) -> None:
    """Create a network."""
    with connect() as cli:
        cli.post("/v1/networks", {"name": name, "account": account, "cidr": cidr})
    typer.echo(f"created network {name}")


@app.command("list")
def list_(as_json: Json = False) -> None:
    """List networks."""
    with connect() as cli:
        rows = cli.list_all("/v1/networks")
    render.output(rows, as_json, render.networks)


@app.command("show")
def show(name: Name, as_json: Json = False) -> None:
    """Show one network and its subnets."""
    with connect() as cli:
        obj = cli.get(f"/v1/networks/{seg(name)}")
    render.output(obj, as_json, render.network)


@app.command("delete")
def delete(name: Name) -> None:
    """Delete a network."""
    with connect() as cli:
        cli.delete(f"/v1/networks/{seg(name)}")
    typer.echo(f"deleted network {name}")
