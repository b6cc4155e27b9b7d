"""`facade network ...`: private networks (VPCs)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Account, Json, Output, names_of, owned

app = typer.Typer(help="Private networks (VPCs).", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Network name.",
                                      autocompletion=names_of("/v1/networks"))]
PublicGateway = Annotated[bool, typer.Option(
    "--public-gateway", help="Its router connects it to the intermediate network (docs/edge.md).")]
OutboundNat = Annotated[bool, typer.Option(
    "--outbound-nat", help="Instances without a public address reach out with the gateway's.")]


@app.command("create")
def create(
    name: Name,
    account: Account,
    cidr: Annotated[str, typer.Option("--cidr", help="The network's CIDR, e.g. 10.0.0.0/16.")],
    public_gateway: PublicGateway = False,
    outbound_nat: OutboundNat = False,
) -> None:
    """Create a network."""
    body: dict[str, Any] = {"name": name, "account": account, "cidr": cidr}
    if public_gateway or outbound_nat:
        body |= {"public_gateway": public_gateway, "outbound_nat": outbound_nat}
    with connect() as cli:
        obj = cli.networks.create(body)
    gateway = f" (public gateway {obj.gateway_ip})" if obj.public_gateway else ""
    typer.echo(f"created network {name}{gateway}")


@app.command("update")
def update(
    name: Name,
    public_gateway: Annotated[bool | None, typer.Option(
        "--public-gateway/--no-public-gateway",
        help="Connect the network to the intermediate network (or not).",
        show_default=False)] = None,
    outbound_nat: Annotated[bool | None, typer.Option(
        "--outbound-nat/--no-outbound-nat",
        help="Instances without a public address reach out with the gateway's.",
        show_default=False)] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Change a network's public gateway."""
    body: dict[str, bool] = {}
    if public_gateway is not None:
        body["public_gateway"] = public_gateway
    if outbound_nat is not None:
        body["outbound_nat"] = outbound_nat
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.networks.update(bare, body, account=account)
    render.output(obj, as_json, render.network, form)


@app.command("list")
def list_(as_json: Json = False, form: Output = None) -> None:
    """List networks."""
    with connect() as cli:
        rows = cli.networks.list()
    render.output(rows, as_json, render.networks, form)


@app.command("show")
def show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show one network and its subnets."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.networks.get(bare, account=account)
    render.output(obj, as_json, render.network, form)


@app.command("delete")
def delete(name: Name) -> None:
    """Delete a network."""
    bare, account = owned(name)
    with connect() as cli:
        cli.networks.delete(bare, account=account)
    typer.echo(f"deleted network {name}")
