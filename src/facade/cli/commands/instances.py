"""`facade instance ...`: customer instances (a namespace with one interface per subnet)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import (
    Account,
    CpuWeight,
    Json,
    Memory,
    Output,
    Pids,
    limits_body,
    names_of,
    owned,
    show_or_set_limits,
    split_subnet,
)

app = typer.Typer(help="Customer instances.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Instance name.",
                                      autocompletion=names_of("/v1/instances"))]


def parse_iface(spec: str) -> dict[str, Any]:
    """`acme-vpc/app=10.0.1.50` -> {"subnet": "acme-vpc/app", "ip": "10.0.1.50"}; IP optional."""
    subnet, sep, ip = spec.partition("=")
    split_subnet(subnet)
    if sep and not ip:
        raise typer.BadParameter(f"{spec!r}: give an address after '=' or leave '=' out")
    return {"subnet": subnet, "ip": ip} if ip else {"subnet": subnet}


@app.command("create")
def create(
    name: Name,
    account: Account,
    iface: Annotated[
        list[str],
        typer.Option(
            "--iface",
            "-i",
            metavar="NETWORK/SUBNET[=IP]",
            help="An interface in a subnet (repeat for more); the address is allocated unless given.",
        ),
    ],
    memory: Memory = None,
    pids: Pids = None,
    cpu_weight: CpuWeight = None,
    public_ip: Annotated[bool, typer.Option(
        "--public-ip", help="A standard public address for eth0 (its network needs a public "
        "gateway), released with the instance.")] = False,
    host: Annotated[str | None, typer.Option(
        "--host", metavar="HOST", help="The host it is placed on (a ready host's name, see "
        "`facade host list`; default: the scheduler's choice, local while no simulated host "
        "runs). The operator only.")] = None,
) -> None:
    """Create an instance; answers once its namespace and interfaces exist."""
    interfaces = [parse_iface(spec) for spec in iface]
    body: dict[str, Any] = {"name": name, "account": account, "interfaces": interfaces}
    if public_ip:
        body["public_ip"] = True
    if host is not None:
        body["host"] = host
    limits = limits_body(memory, pids, cpu_weight)
    if limits:
        body["limits"] = limits
    with connect() as cli:
        obj = cli.instances.create(body)
    addrs = ", ".join(f"{i.ip} in {i.subnet}" for i in obj.interfaces)
    public = ", public " + ", ".join(obj.public_ips) if obj.public_ips else ""
    typer.echo(f"created instance {name}" + (f" ({addrs}{public})" if addrs else ""))


@app.command("list")
def list_(as_json: Json = False, form: Output = None) -> None:
    """List customer instances."""
    with connect() as cli:
        rows = cli.instances.list()
    render.output(rows, as_json, render.nodes, form)


@app.command("show")
def show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show one instance and its interfaces."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.instances.get(bare, account=account)
    render.output(obj, as_json, render.node, form)


@app.command("delete")
def delete(name: Name) -> None:
    """Delete an instance; answers once its kernel objects are gone."""
    bare, account = owned(name)
    with connect() as cli:
        cli.instances.delete(bare, account=account)
    typer.echo(f"deleted instance {name}")


@app.command("limits")
def limits(name: Name, memory: Memory = None, pids: Pids = None, cpu_weight: CpuWeight = None,
           as_json: Json = False, form: Output = None) -> None:
    """Show or change an instance's sandbox limits (applied to it while it runs)."""
    obj = show_or_set_limits(lambda cli: cli.instances, name, memory, pids, cpu_weight)
    render.output(obj, as_json, render.limits, form)
