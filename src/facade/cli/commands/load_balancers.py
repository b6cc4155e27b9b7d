"""`facade lb ...`: load-balancer offers of front-end providers (third-party front-ends,
docs/composition.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Account, Json, Output, names_of, owned, split_subnet

app = typer.Typer(help="Load-balancer offers (a front-end provider's).", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Load-balancer offer name.",
                                      autocompletion=names_of("/v1/load-balancers"))]


@app.command("create")
def create(
    name: Name,
    management_subnet: Annotated[
        str, typer.Option("--management-subnet", metavar="NETWORK/SUBNET",
                          help="Your subnet the front-ends are managed from.")],
    account: Account,
) -> None:
    """Offer front-ends: services that name this offer (--frontend) get theirs from you."""
    split_subnet(management_subnet)
    with connect() as cli:
        cli.load_balancers.create({"name": name, "account": account,
                                        "management_subnet": management_subnet})
    typer.echo(f"created load-balancer offer {name}")


@app.command("list")
def list_(as_json: Json = False, form: Output = None) -> None:
    """List load-balancer offers."""
    with connect() as cli:
        rows = cli.load_balancers.list()
    render.output(rows, as_json, render.load_balancers, form)


@app.command("show")
def show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show one offer (its owner sees its front-end nodes)."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.load_balancers.get(bare, account=account)
    render.output(obj, as_json, render.load_balancer, form)


@app.command("delete")
def delete(name: Name) -> None:
    """Withdraw an offer (refused while a service names it)."""
    bare, account = owned(name)
    with connect() as cli:
        cli.load_balancers.delete(bare, account=account)
    typer.echo(f"deleted load-balancer offer {name}")
