"""`facade site ...` and `facade vpn ...`: customer sites (a customer's own network, with hosts
where `facade exec` runs commands) and the private channels that join a site to a network
(docs/edge.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Json, Output, owned
from facade.client.models import Site as SiteRead
from facade.client.models import Vpn as VpnRead

sites = typer.Typer(help="Customer sites: a customer's own network and hosts.",
                    no_args_is_help=True)
hosts = typer.Typer(help="Hosts of a site.", no_args_is_help=True)
sites.add_typer(hosts, name="host")
vpns = typer.Typer(help="Private channels (WireGuard) between a network and a site.",
                   no_args_is_help=True)

Site = Annotated[str, typer.Argument(help="Site name.")]
Vpn = Annotated[str, typer.Argument(help="Channel name.")]


def _lines(lines: Iterable[str]) -> None:
    for line in lines:
        typer.echo(line)


def _site(o: SiteRead) -> str:
    joined = f"vpn {o.vpn} to {o.network}" if o.vpn else "no vpn"
    return (f"{o.name}  {o.account}  {o.cidr}  gateway {o.gateway_ip}  {joined}  "
            f"{len(o.hosts)} host(s)")


def _site_detail(o: SiteRead) -> None:
    typer.echo(_site(o))
    for h in o.hosts:
        typer.echo(f"  {h.name}  {h.ip}  {h.status}")


def _vpn(o: VpnRead) -> str:
    return (f"{o.name}  {o.account}  {o.network} ({o.network_gateway}) <-> "
            f"{o.site} ({o.site_gateway})  {o.engine} udp/{o.port}  {o.status}")


def _vpn_detail(o: VpnRead) -> None:
    typer.echo(_vpn(o))
    typer.echo(f"  network side: {o.interfaces.network} key {o.network_public_key} "
               f"routes {', '.join(o.network_routes)}")
    typer.echo(f"  site side:    {o.interfaces.site} key {o.site_public_key} "
               f"routes {', '.join(o.site_routes)}")


@sites.command("create")
def site_create(
    name: Site,
    cidr: Annotated[str, typer.Option("--cidr", help="The site's range, e.g. 192.168.0.0/16.")],
    account: Annotated[str | None, typer.Option("--account", "-a", help="The owning account "
                                                "(default: the caller's).")] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Create a customer site: its gateway on the intermediate network, its own range."""
    body: dict[str, Any] = {"name": name, "cidr": cidr}
    if account:
        body["account"] = account
    with connect() as cli:
        obj = cli.sites.create(body)
    render.output(obj, as_json, lambda o: typer.echo(f"created site {_site(o)}"), form)


@sites.command("list")
def site_list(as_json: Json = False, form: Output = None) -> None:
    """List the sites the caller sees."""
    with connect() as cli:
        rows = cli.sites.list()
    render.output(rows, as_json, lambda rs: _lines(_site(r) for r in rs), form)


@sites.command("show")
def site_show(name: Site, as_json: Json = False, form: Output = None) -> None:
    """Show a site, its channel and its hosts."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.sites.get(bare, account=account)
    render.output(obj, as_json, _site_detail, form)


@sites.command("delete")
def site_delete(name: Site) -> None:
    """Delete a site (once it has no host, channel or public address)."""
    bare, account = owned(name)
    with connect() as cli:
        cli.sites.delete(bare, account=account)
    typer.echo(f"deleted site {name}")


@hosts.command("add")
def host_add(
    site: Site,
    name: Annotated[str, typer.Argument(help="Host name (unique among instances).")],
    ip: Annotated[str | None, typer.Option("--ip", help="Its address in the site (the next "
                                           "free one unless given).")] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Add a host to a site (`facade exec NAME -- CMD` runs commands in it)."""
    body: dict[str, Any] = {"name": name}
    if ip:
        body["ip"] = ip
    bare, account = owned(site)
    with connect() as cli:
        obj = cli.sites.add_host(bare, body, account=account)
    render.output(obj, as_json, lambda o: typer.echo(f"added host {name} ({o.ip}) to "
                                                     f"site {site}"), form)


@hosts.command("delete")
def host_delete(site: Site, name: Annotated[str, typer.Argument(help="Host name.")]) -> None:
    """Delete a site's host."""
    bare, account = owned(site)
    with connect() as cli:
        cli.sites.remove_host(bare, name, account=account)
    typer.echo(f"deleted host {name} of site {site}")


@vpns.command("create")
def vpn_create(
    name: Vpn,
    network: Annotated[str, typer.Option("--network", help="The network (its private "
                                         "gateway).")],
    site: Annotated[str, typer.Option("--site", help="The site (its gateway).")],
    as_json: Json = False, form: Output = None,
) -> None:
    """Join a site to a network by an encrypted, authenticated channel (own keys)."""
    with connect() as cli:
        obj = cli.vpns.create({"name": name, "network": network, "site": site})
    render.output(obj, as_json, lambda o: typer.echo(f"created vpn {_vpn(o)}"), form)


@vpns.command("list")
def vpn_list(as_json: Json = False, form: Output = None) -> None:
    """List the channels the caller sees."""
    with connect() as cli:
        rows = cli.vpns.list()
    render.output(rows, as_json, lambda rs: _lines(_vpn(r) for r in rs), form)


@vpns.command("show")
def vpn_show(name: Vpn, as_json: Json = False, form: Output = None) -> None:
    """Show a channel: its ends, public keys and routes."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.vpns.get(bare, account=account)
    render.output(obj, as_json, _vpn_detail, form)


@vpns.command("delete")
def vpn_delete(name: Vpn) -> None:
    """Delete a channel (both ends' tunnels go)."""
    bare, account = owned(name)
    with connect() as cli:
        cli.vpns.delete(bare, account=account)
    typer.echo(f"deleted vpn {name}")
