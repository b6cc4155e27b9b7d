"""`facade apply` and `facade destroy`: send a YAML file to the control plane and wait for it.
`apply --prune` also deletes what the file's set declared before and no longer does
(applied.py says which, and why only those)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from facade.cli import applied
from facade.cli.client import Client, connect, fail
from facade.cli.commands.options import NoWait
from facade.cli.wait import ready_line, wait_gone, wait_ready
from facade.client.models import Change

File = Annotated[Path, typer.Option("--file", "-f", help=(
    "The YAML file describing what to build; - reads it from standard input."))]
DryRun = Annotated[bool, typer.Option("--dry-run", help=(
    "Print what would change (create, update, unchanged; delete with --prune) and change "
    "nothing."))]
PruneOpt = Annotated[bool, typer.Option("--prune", help=(
    "Also delete what earlier applies of this file (its set) declared and it no longer does; "
    "never anything the file did not declare."))]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Prune without asking.")]
SetName = Annotated[str | None, typer.Option("--set", metavar="NAME", help=(
    "The name of the file's set (default: the file's absolute path; required to prune a file "
    "read with -f -)."))]
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


@dataclass
class _Set:
    """The file's set: its name, what it declares now, what it declared before (applied.py)."""

    name: str | None  # None: a file read from stdin without --set, recorded nowhere
    current: applied.Declarations | None
    previous: applied.Declarations
    prune: applied.Prune


def _set_of(file: Path, text: str, name: str | None, url: str, prune: bool) -> _Set:
    if name is None and str(file) == "-":
        if prune:
            raise typer.BadParameter("a file read from standard input has no path to name "
                                     "its set: give --set NAME", param_hint="--set")
        return _Set(None, None, {}, applied.Prune())
    name = name or str(file.resolve())
    current = applied.load(text)
    previous = applied.recorded(url, name)
    plan = applied.plan(previous, current) if current is not None else applied.Prune()
    return _Set(name, current, previous, plan)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _confirm(labels: list[str], yes: bool) -> None:
    """Ask before deleting (refuse without a terminal to ask on, unless --yes)."""
    if yes or not labels:
        return
    if not _interactive():
        fail(f"--prune would delete {len(labels)} object(s) ({', '.join(labels)}); no "
             "terminal to ask on: give --yes to delete them", 2)
    typer.echo("--prune will delete: " + ", ".join(labels))
    if not typer.confirm("Delete them?", default=False):
        fail("nothing applied, nothing deleted", 1)


def _print(changes: list[Change], dry_run: bool, nothing: str) -> None:
    if all(c.action in ("unchanged", "absent") for c in changes):
        if nothing:
            typer.echo(nothing)
        return
    for c in changes:
        action = c.action
        if dry_run:  # what would be done: create, update, unchanged
            action = WOULD.get(action, action)
        typer.echo(f"{action} {c.kind} {c.name}")


def apply(file: File, no_wait: NoWait = False, timeout: Timeout = 120.0,
          dry_run: DryRun = False, prune: PruneOpt = False, yes: Yes = False,
          set_name: SetName = None) -> None:
    """Make what FILE describes exist, then wait until its appliances are ready; with
    --prune, delete what earlier applies of FILE declared and it no longer does."""
    text, source = _read(file)
    with connect() as cli:
        fileset = _set_of(file, text, set_name, cli.url, prune)
        if prune and not dry_run:
            _confirm(fileset.prune.labels(), yes)
        answer = cli.system.apply(text, source, dry_run=dry_run)
        deletes = fileset.prune.labels() if prune and dry_run else []
        _print(answer.changes, dry_run, "" if deletes else "nothing to change")
        for label in deletes:
            typer.echo(f"delete {label}")
        if dry_run:
            return
        if fileset.current is not None:
            _record(cli, fileset, prune, source, no_wait, timeout)
        names = [] if no_wait else list(answer.appliances)
        ready = wait_ready(cli, names, timeout) if names else {}
    for name in names:
        typer.echo(ready_line(ready[name]))
    for what in fileset.prune.kept if prune else []:
        typer.echo(f"not pruned: {what} (its parent is still in the file; delete it by hand)",
                   err=True)


def _record(cli: Client, fileset: _Set, prune: bool, source: str, no_wait: bool,
            timeout: float) -> None:
    """After an apply: prune (when asked), then record what the set still declares."""
    assert fileset.name is not None and fileset.current is not None
    pending = fileset.prune.removed
    applied.record(cli.url, fileset.name, applied.merged(fileset.current, pending))
    if not prune or not pending:
        return
    answer = cli.system.destroy(fileset.prune.text(), f"{source} (pruned)")
    _print(answer.changes, False, "nothing to prune")
    applied.record(cli.url, fileset.name, fileset.current)
    if answer.appliances and not no_wait:
        wait_gone(cli, answer.appliances, timeout)


def destroy(file: File, no_wait: NoWait = False, timeout: Timeout = 120.0) -> None:
    """Remove what FILE describes, then wait until its appliances are gone."""
    text, source = _read(file)
    with connect() as cli:
        answer = cli.system.destroy(text, source)
        _print(answer.changes, False, "nothing to destroy")
        names = list(answer.appliances)
        if no_wait or not names:
            return
        wait_gone(cli, names, timeout)
    typer.echo("appliance" + ("s " if len(names) > 1 else " ") + ", ".join(names) + " gone")
