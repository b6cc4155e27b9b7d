"""`facade exec INSTANCE -- CMD ...`: run a program inside an instance or node namespace."""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from facade.cli.client import connect, fail
from facade.cli.commands.options import owned

TIMED_OUT_EXIT = 124  # what timeout(1) answers


def exec_(
    instance: Annotated[str, typer.Argument(help="Instance (or appliance node) name.")],
    argv: Annotated[
        list[str],
        typer.Argument(metavar="CMD", help="The program and its arguments, after --."),
    ],
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds before the program is killed.", min=0)
    ] = 30.0,
    host: Annotated[
        bool, typer.Option("--host", help="Operator only: run as the host's root, outside the "
                                          "node's sandbox (only the network is the node's).")
    ] = False,
) -> None:
    """Run CMD in INSTANCE's sandbox, as its root; its output and exit code become ours.

    The arguments travel as a list and are never joined into a shell string:
    `facade exec client -- sh -c 'echo $HOME'` runs sh with two arguments.
    """
    body: dict[str, object] = {"argv": argv, "timeout": timeout, "stdin": None}
    if host:
        body["host"] = True
    bare, account = owned(instance)
    with connect() as cli:
        # Give the server time to kill the program and answer before we give up on it.
        result = cli.instances.exec(bare, body, timeout=timeout + 30.0, account=account)
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    sys.stderr.flush()
    if result.timed_out:
        fail(f"{argv[0]} did not finish in {timeout:g}s and was killed", TIMED_OUT_EXIT)
    code = result.returncode
    if code < 0:  # killed by a signal: report it the way a shell does
        code = 128 - code
        try:
            typer.echo(f"{argv[0]}: killed by {signal.Signals(code - 128).name}", err=True)
        except ValueError:
            pass
    raise typer.Exit(code)
