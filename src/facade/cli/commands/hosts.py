"""`facade host ...`: the machines that hold nodes (docs/multi-host.md); operator only."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Json, Output, names_of

app = typer.Typer(help="Hosts: the machines that hold nodes (operator only).",
                  no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Host name (the control plane's own: local).",
                                      autocompletion=names_of("/v1/hosts"))]
State = Annotated[str | None, typer.Option(
    "--state", help="Only hosts in this state (ready, draining, lost, removed); removed "
                    "hosts are listed only when asked for.")]


@app.command("list")
def list_(state: State = None, as_json: Json = False, form: Output = None) -> None:
    """List hosts: state, address, nodes held and capacity, last heartbeat."""
    with connect() as cli:
        rows = cli.hosts.list(state=state)
    render.output(rows, as_json, render.hosts, form)


@app.command("add")
def add(name: Annotated[str, typer.Argument(help="Host name (1-11 characters).")],
        simulated: Annotated[bool, typer.Option(
            "--simulated", help="A simulated host (the only kind that may be added yet).")
        ] = False,
        address: Annotated[str | None, typer.Option(
            "--address", help="Its underlay address (default: the next free one).")] = None,
        capacity: Annotated[int | None, typer.Option(
            "--capacity", help="Nodes it may hold (default 100).")] = None,
        as_json: Json = False, form: Output = None) -> None:
    """Record a simulated host. Recorded only: nothing makes its namespace or FRR, nor places
    nodes on it, yet."""
    body = {"name": name, "simulated": simulated, "address": address, "capacity": capacity}
    with connect() as cli:
        obj = cli.hosts.create({k: v for k, v in body.items() if v is not None})
    render.output(obj, as_json, render.host, form)


@app.command("show")
def show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show one host."""
    with connect() as cli:
        obj = cli.hosts.get(name)
    render.output(obj, as_json, render.host, form)


@app.command("drain")
def drain(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Place nothing new on a host (state draining) and move its appliances' backends away,
    each appliance serving throughout; instances stay. The local host cannot be drained."""
    with connect() as cli:
        obj = cli.hosts.drain(name)
    render.output(obj, as_json, render.host, form)


@app.command("resume")
def resume(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Let a draining host take new nodes again (what moved away stays where it went)."""
    with connect() as cli:
        obj = cli.hosts.resume(name)
    render.output(obj, as_json, render.host, form)


@app.command("remove")
def remove(name: Name) -> None:
    """Remove a host that holds no nodes (the local host never)."""
    with connect() as cli:
        cli.hosts.delete(name)
    typer.echo(f"removed host {name}")


token = typer.Typer(help="Host agents' tokens (operator only).", no_args_is_help=True)
app.add_typer(token, name="token")


@token.command("create")
def token_create(name: Annotated[str, typer.Argument(
        help="The host whose agent presents it (it need not exist yet: a machine's agent "
             "makes it when it registers).")],
        as_json: Json = False, form: Output = None) -> None:
    """Make a token for a host's agent (`facade host-agent --token`); shown once."""
    with connect() as cli:
        obj = cli.hosts.create_token(name)
    render.output(obj, as_json, lambda t: typer.echo(t.token), form)


@token.command("revoke")
def token_revoke(name: Name) -> None:
    """Revoke every token of a host's agent: its next request is refused, and the host goes
    lost once its heartbeats stop."""
    with connect() as cli:
        cli.hosts.revoke_tokens(name)
    typer.echo(f"revoked the tokens of host {name}")


def host_agent(
        control_plane: Annotated[str, typer.Option(
            "--control-plane", help="The control plane's URL.")],
        underlay: Annotated[str, typer.Option(
            "--underlay", help="This host's underlay address (what other hosts reach it at).")],
        token_: Annotated[str | None, typer.Option(
            "--token", envvar="FACADE_HOST_TOKEN",
            help="Its host's token (facade host token create NAME).")] = None,
        cacert: Annotated[str | None, typer.Option(
            "--cacert", help="The CA file to trust for an https control plane.")] = None,
        apply: Annotated[bool, typer.Option(
            "--apply", help="Apply the host's kernel work the control plane sends (a "
            "simulated host's layout: docs/multi-host.md).")] = False,
        state: Annotated[str | None, typer.Option(
            "--state", help="The agent's state folder (pidfiles, logs, FRR's files), with "
            "--apply.")] = None,
) -> None:
    """Run this host's agent: register the host with the control plane, then heartbeat, and
    with --apply run the kernel work the control plane sends for the host
    (docs/multi-host.md). Exit 2: the token is wrong or revoked; 3: refused otherwise
    (another agent holds the host)."""
    if not token_:
        raise typer.BadParameter("a host token is needed: --token or $FACADE_HOST_TOKEN",
                                 param_hint="--token")
    argv = [sys.executable, "-m", "facade.workloads.host_agent", "--control-plane",
            control_plane, "--underlay", underlay, *(["--cacert", cacert] if cacert else []),
            *(["--apply"] if apply else []), *(["--state", state] if state else [])]
    os.environ["FACADE_HOST_TOKEN"] = token_  # not on the command line, where ps shows it
    os.execv(sys.executable, argv)
