"""`facade topology` and `facade events`: read-only views of the whole provider network."""

from __future__ import annotations

from typing import Annotated

import typer

from facade.cli import render, render_topology
from facade.cli.client import connect
from facade.cli.commands.options import Json, Output


def topology(
    by_host: Annotated[bool, typer.Option(
        "--by-host", help="Group the nodes by the host each is on (host -> node -> legs).")
    ] = False,
    as_json: Json = False, form: Output = None,
) -> None:
    """Draw networks -> subnets -> nodes, with addresses and kernel names."""
    with connect() as cli:
        data = cli.system.topology()
    render.output(data, as_json, render_topology.by_host if by_host else render_topology.topology,
                  form)


def events(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest last.", min=1)] = 50,
    request_id: Annotated[str | None, typer.Option(
        "--request-id", help="Only those this API request caused (its X-Request-ID).")] = None,
    account: Annotated[str | None, typer.Option(
        "--account", help="Only those this account is shown (the operator's filter).")] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Show the latest events."""
    with connect() as cli:
        newest_first = cli.system.events(most=limit, request_id=request_id, account=account)
    render.output(newest_first[::-1], as_json, render.events, form)


def usage(
    period: Annotated[str | None, typer.Option(
        "--period", "-p", help="2026-11 (month), 2026-11-28 (day) or START/END; all time if "
                               "omitted.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Only this account's "
                                                                  "appliances.")] = None,
    appliance: Annotated[str | None, typer.Option("--appliance", help="Only this "
                                                                      "appliance.")] = None,
    by_node: Annotated[bool, typer.Option("--by-node", help="One line per node (providers "
                                                            "and the operator).")] = False,
    public_ips: Annotated[bool, typer.Option(
        "--public-ips", help="One line per public address: hours held, bytes through its "
                             "public gateway.")] = False,
    channels: Annotated[bool, typer.Option(
        "--channels", help="One line per private channel (VPN): hours held.")] = False,
    as_json: Json = False, form: Output = None,
) -> None:
    """Show metered usage: node-hours by role, bytes in/out, connections, requests; with
    --public-ips, each public address's hours and bytes through its gateway; with --channels,
    each private channel's hours."""
    if channels:
        if appliance is not None or by_node or public_ips:
            raise typer.BadParameter("--channels takes --period and --account only",
                                     param_hint="--channels")
        with connect() as cli:
            channel_rows = cli.usage.channels(period=period, account=account)
        render.output(channel_rows, as_json, render.channel_usage, form)
        return
    if public_ips:
        if appliance is not None or by_node:
            raise typer.BadParameter("--public-ips takes --period and --account only",
                                     param_hint="--public-ips")
        with connect() as cli:
            address_rows = cli.usage.public_ips(period=period, account=account)
        render.output(address_rows, as_json, render.public_ip_usage, form)
        return
    with connect() as cli:
        rows = cli.usage.list(period=period, account=account, appliance=appliance,
                              by="node" if by_node else "appliance")
    render.output(rows, as_json, render.usage, form)
