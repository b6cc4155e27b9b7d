"""`facade apply` and `facade destroy`: send a YAML file to the control plane and wait for it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from facade.cli.client import Client, connect, fail
from facade.cli.commands.options import NoWait
from facade.cli.wait import ready_line, wait_gone, wait_ready
from facade.client.models import Scenario

File = Annotated[Path, typer.Option("--file", "-f", help=(
    "The YAML file describing what to build; - reads it from standard input."))]
DryRun = Annotated[bool, typer.Option("--dry-run", help=(
    "Print what would change (create, update, unchanged) and change nothing."))]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait.", min=0)]


WOULD = {"created": "create", "updated": "update", "deleted": "delete"}


def _read(path: Path) -> tuple[str, str]:
    """The file's text and the name errors cite; `-` is standard input."""
    if str(path) == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        fail(f"cannot read {path}: {reason}")


def _send(route: str, path: Path, dry_run: bool = False) -> tuple[Client, Scenario]:
    text, name = _read(path)
    cli = connect()
    if route == "/v1/destroy":
        return cli, cli.system.destroy(text, name)
    return cli, cli.system.apply(text, name, dry_run=dry_run)


def apply(file: File, no_wait: NoWait = False, timeout: Timeout = 120.0,
          dry_run: DryRun = False) -> None:
    """Make what FILE describes exist, then wait until its appliances are ready."""
    cli, answer = _send("/v1/apply", file, dry_run)
    with cli:
        changes = answer.get("changes") or []
        if all(c.get("action") == "unchanged" for c in changes):
            typer.echo("nothing to change")
        else:
            for c in changes:
                action = str(c.get("action"))
                if dry_run:  # what would be done: create, update, unchanged
                    action = WOULD.get(action, action)
                typer.echo(f"{action} {c.get('kind')} {c.get('name')}")
        names = list(answer.get("appliances") or [])
        if no_wait or dry_run or not names:
            return
        ready = wait_ready(cli, names, timeout)
    for name in names:
        typer.echo(ready_line(ready[name]))


def destroy(file: File, no_wait: NoWait = False, timeout: Timeout = 120.0) -> None:
    """Remove what FILE describes, then wait until its appliances are gone."""
    cli, answer = _send("/v1/destroy", file)
    with cli:
        changes = answer.get("changes") or []
        if all(c.get("action") == "absent" for c in changes):
            typer.echo("nothing to destroy")
        else:
            for c in changes:
                typer.echo(f"{c.get('action')} {c.get('kind')} {c.get('name')}")
        names = list(answer.get("appliances") or [])
        if no_wait or not names:
            return
        wait_gone(cli, names, timeout)
    typer.echo("appliance" + ("s " if len(names) > 1 else " ") + ", ".join(names) + " gone")
