"""`facade quota ...`: an account's limits (networks, subnets, instances, appliances, backends,
public IPs) and how much of each it uses. Setting them is the operator's."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Json, Output, names_of

app = typer.Typer(help="Per-account quotas: limits and usage.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Account name.",
                                      autocompletion=names_of("/v1/accounts"))]
RESOURCES = ("networks", "subnets", "instances", "appliances", "backends", "public_ips")


def _limit(resource: str) -> Any:
    flag = resource.replace("_", "-")
    return typer.Option(f"--{flag}", metavar="N", show_default=False,
                        help=f"Most {resource.replace('_', ' ')} the account may hold "
                             "(0-100000).")


@app.command("show")
def show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show an account's limits and usage."""
    with connect() as cli:
        obj = cli.accounts.quotas(name)
    render.output(obj, as_json, render.quotas, form)


@app.command("set")
def set_(
    name: Name,
    networks: Annotated[int | None, _limit("networks")] = None,
    subnets: Annotated[int | None, _limit("subnets")] = None,
    instances: Annotated[int | None, _limit("instances")] = None,
    appliances: Annotated[int | None, _limit("appliances")] = None,
    backends: Annotated[int | None, _limit("backends")] = None,
    public_ips: Annotated[int | None, _limit("public_ips")] = None,
    default: Annotated[list[str] | None, typer.Option(
        "--default", metavar="RESOURCE", show_default=False,
        help="Bring back the default limit of RESOURCE (repeatable).")] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Set some limits of an account (operator only); the others keep theirs. A limit under
    current usage removes nothing, but new ones are refused until usage is under it."""
    given = {"networks": networks, "subnets": subnets, "instances": instances,
             "appliances": appliances, "backends": backends, "public_ips": public_ips}
    body: dict[str, int | None] = {r: v for r, v in given.items() if v is not None}
    for resource in default or []:
        if resource not in RESOURCES:
            raise typer.BadParameter(f"{resource!r} is not one of {', '.join(RESOURCES)}",
                                     param_hint="--default")
        if resource in body:
            raise typer.BadParameter(f"--{resource} and --default {resource} contradict",
                                     param_hint="--default")
        body[resource] = None
    if not body:
        raise typer.BadParameter("nothing to set: give --networks N, ... or --default RESOURCE")
    with connect() as cli:
        obj = cli.accounts.set_quotas(name, body)
    render.output(obj, as_json, render.quotas, form)
