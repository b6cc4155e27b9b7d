"""`facade apply` and `facade destroy`: send a YAML file to the control plane and wait for it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from facade.cli.client import Client, connect, fail
from facade.cli.commands.options import NoWait
from facade.cli.wait import ready_line, wait_gone, wait_ready

File = Annotated[Path, typer.Option("--file", "-f", help="The YAML file describing what to build.")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait.", min=0)]


def _send(route: str, path: Path) -> tuple[Client, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        fail(f"cannot read {path}: {reason}")
    cli = connect()
    return cli, cli.post(route, {"yaml": text, "filename": str(path)})


def apply(file: File, no_wait: NoWait = False, timeout: Timeout = 120.0) -> None:
    """Make what FILE describes exist, then wait until its appliances are ready."""
    cli, answer = _send("/v1/apply", file)
    with cli:
        changes = answer.get("changes") or []
        if all(c.get("action") == "unchanged" for c in changes):
            typer.echo("nothing to change")
        else:
            for c in changes:
                typer.echo(f"{c.get('action')} {c.get('kind')} {c.get('name')}")
        names = list(answer.get("appliances") or [])
        if no_wait or not names:
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
