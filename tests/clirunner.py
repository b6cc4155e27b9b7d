"""The `facade` command run in-process by a test, its command tree built once per process.

typer's test runner builds the whole command tree at every `invoke` (each command's parameters
from its function's signature: about 50 ms of CPU for `facade`'s), and the unit and service
tests invoke the command some thousands of times. The tree holds no state of a run (a
command's callback reads its settings and makes its client anew), so one tree serves every
invocation of a process: the runner's module-level builder (typer 0.29, pinned) is replaced by
one that keeps what it built for each app.
"""

from __future__ import annotations

from functools import cache

import typer.main
import typer.testing

_BUILDER = "_get_command"  # the name typer.testing calls at every invoke
assert getattr(typer.testing, _BUILDER) is typer.main.get_command, "typer's test runner changed"
setattr(typer.testing, _BUILDER, cache(typer.main.get_command))

CliRunner = typer.testing.CliRunner
