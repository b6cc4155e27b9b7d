"""`facade account ...`: tenants and their API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Json, Output, names_of

app = typer.Typer(help="Accounts (tenants) and their tokens.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Account name.",
                                      autocompletion=names_of("/v1/accounts"))]


@app.command("create")
def create(name: Name) -> None:
    """Create an account."""
    with connect() as cli:
        cli.accounts.create({"name": name})
    typer.echo(f"created account {name}")


@app.command("list")
def list_(as_json: Json = False, form: Output = None) -> None:
    """List accounts."""
    with connect() as cli:
        rows = cli.accounts.list()
    render.output(rows, as_json, render.accounts, form)


@app.command("show")
def show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show one account."""
    with connect() as cli:
        obj = cli.accounts.get(name)
    render.output(obj, as_json, render.account, form)


@app.command("delete")
def delete(name: Name) -> None:
    """Delete an account."""
    with connect() as cli:
        cli.accounts.delete(name)
    typer.echo(f"deleted account {name}")


@app.command("token")
def token(name: Name, rotate: bool = typer.Option(
        False, "--rotate", help="Revoke every existing token of the account first.")) -> None:
    """Make a new API token for an account and print it (alone, on stdout; it is shown once)."""
    with connect() as cli:
        answer = cli.accounts.token(name, rotate=rotate)
    typer.echo(answer.token)
