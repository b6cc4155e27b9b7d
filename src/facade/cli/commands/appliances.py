"""`facade appliance ...`: a customer's appliances; create, scale and delete wait for the kernel."""

from __future__ import annotations

from typing import Annotated

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import (
    Account,
    Json,
    NoWait,
    Output,
    names_of,
    owned,
    split_subnet,
)
from facade.cli.wait import ready_line, wait_gone, wait_ready

app = typer.Typer(help="Appliances: a service's front-end in your subnet.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Appliance name.",
                                      autocompletion=names_of("/v1/appliances"))]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait.", min=0)]


@app.command("create")
def create(
    name: Name,
    account: Account,
    service: Annotated[str, typer.Option("--service", "-s", help="The service to consume.")],
    subnet: Annotated[
        str,
        typer.Option("--subnet", metavar="NETWORK/SUBNET", help="Where the endpoint appears."),
    ],
    backends: Annotated[int, typer.Option("--backends", help="Backend nodes.", min=0)] = 3,
    no_wait: NoWait = False,
    timeout: Timeout = 60.0,
    tenancy: Annotated[str | None, typer.Option(
        "--tenancy", metavar="TENANCY",
        help="shared (default) or dedicated: its nodes on hosts that hold no other account's "
             "nodes (a dedicated service's appliances are dedicated anyway). See "
             "docs/multi-host.md.")] = None,
) -> None:
    """Create an appliance and wait until it is ready."""
    split_subnet(subnet)
    body: dict[str, object] = {
        "name": name,
        "account": account,
        "service": service,
        "subnet": subnet,
        "backends": backends,
    }
    if tenancy is not None:
        body["tenancy"] = tenancy
    with connect() as cli:
        obj = cli.appliances.create(body)
        if no_wait:
            typer.echo(f"appliance {name}: {obj.status}")
            return
        ready = wait_ready(cli, [name], timeout)
    typer.echo(ready_line(ready[name]))


@app.command("list")
def list_(as_json: Json = False, form: Output = None,
          account: str | None = typer.Option(None, help="only this customer account's"),
          status: str | None = typer.Option(
              None, help="only those in this status (provisioning, ready, degraded, failed, "
                         "deleting)"),
          service: str | None = typer.Option(None, help="only this service's")) -> None:
    """List appliances (those you see as their customer or provider), filtered by the API."""
    params = {k: v for k, v in (("account", account), ("status", status),
                                ("service", service)) if v is not None}
    with connect() as cli:
        rows = cli.appliances.list(**params)
    render.output(rows, as_json, render.appliances, form)


@app.command("show")
def show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show an appliance: status, endpoint, front-end and backends with their interfaces."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.appliances.get(bare, account=account)
    render.output(obj, as_json, render.appliance, form)


@app.command("scale")
def scale(
    name: Name,
    backends: Annotated[int, typer.Argument(help="The number of backends wanted.", min=0)],
    no_wait: NoWait = False,
    timeout: Timeout = 60.0,
) -> None:
    """Change the number of backends and wait until the appliance has them and is ready."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.appliances.update(bare, {"backends": backends}, account=account)
        if no_wait:
            typer.echo(f"appliance {name}: {obj.status}")
            return
        ready = wait_ready(cli, [name], timeout, backends=backends)
    typer.echo(f"{ready_line(ready[name])} with {backends} backends")


@app.command("delete")
def delete(
    name: Name,
    force: Annotated[
        bool,
        typer.Option("--force", help="While other appliances' backends call it, delete them "
                                     "too (and their users): a cascade."),
    ] = False,
    detach: Annotated[
        bool,
        typer.Option("--detach", help="While other appliances' backends call it, delete it "
                                      "alone: they stay, failing only requests that need it."),
    ] = False,
    no_wait: NoWait = False,
    timeout: Timeout = 60.0,
) -> None:
    """Delete an appliance and wait until its kernel objects are gone. Refused while other
    appliances use it (chains), unless --force (cascade) or --detach (alone)."""
    if force and detach:
        raise typer.BadParameter("give --force or --detach, not both")
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.appliances.remove(bare, force=force, detach=detach, account=account)
        gone = [name, *(obj.deleted_with if obj is not None else [])]
        if no_wait:
            typer.echo(f"appliance {', '.join(gone)}: deleting")
            return
        wait_gone(cli, gone, timeout)
    typer.echo(f"deleted appliance {name}" + (f" and its users {', '.join(gone[1:])}"
                                              if gone[1:] else ""))
