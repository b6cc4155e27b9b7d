"""`facade up`, `facade cleanup`, `facade backup` and `facade restore`: the commands that start
local programs.

Both run other programs in other processes (exec or subprocess) rather than importing them, so the
`facade` command stays an HTTP client: `up` becomes the control plane server, `cleanup` runs the
Linux driver's cleanup module, which works even when the control plane is down.
"""

from __future__ import annotations

import os
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from facade.cli.client import connect, facade_home, fail

SERVER_MODULE = "facade.api.server"


class LogFormat(StrEnum):
    text = "text"
    json = "json"

CLEANUP_MODULE = "facade.dataplane.linux.cleanup"
BACKUP_MODULE = "facade.store.backup"


def up(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8470,
    tls_cert: Annotated[str | None, typer.Option(
        "--tls-cert", help="Serve HTTPS with this certificate (PEM); with --tls-key.")] = None,
    tls_key: Annotated[str | None, typer.Option(
        "--tls-key", help="The certificate's private key (PEM).")] = None,
    log_format: Annotated[LogFormat | None, typer.Option(
        "--log-format", help="Each log line as text, or as one JSON object (time, level, "
        "logger, message, request_id); default $FACADE_LOG_FORMAT, else text.")] = None,
    database: Annotated[str | None, typer.Option(
        "--database", help="The store: a PostgreSQL URL (postgresql://USER@HOST/DB); default "
        "$FACADE_DATABASE, else SQLite in the state folder.")] = None,
    settings: Annotated[str | None, typer.Option(
        "--settings", metavar="FILE", help="The control plane's settings file (YAML; `hosts: "
        "N`). See docs/multi-host.md.")] = None,
    hosts: Annotated[int | None, typer.Option(
        "--hosts", metavar="N", help="Simulated hosts h1..hN made at start if missing (wins "
        "over the settings file's). See docs/multi-host.md.")] = None,
    simulated_agents: Annotated[bool | None, typer.Option(
        "--simulated-agents/--no-simulated-agents", help="Each simulated host's kernel "
        "changed by its own host agent, the control plane's child (default), or by the "
        "control plane itself ($FACADE_SIMULATED_AGENTS=0 too). See docs/multi-host.md.")] = None,
) -> None:
    """Run the control plane in the foreground (API, reconciler, agents)."""
    argv = [sys.executable, "-m", SERVER_MODULE, "--host", host, "--port", str(port)]
    argv += ["--settings", settings] if settings is not None else []
    argv += ["--hosts", str(hosts)] if hosts is not None else []
    argv += ["--database", database] if database is not None else []
    argv += ["--tls-cert", tls_cert] if tls_cert is not None else []
    argv += ["--tls-key", tls_key] if tls_key is not None else []
    argv += ["--log-format", log_format.value] if log_format is not None else []
    if simulated_agents is not None:
        argv.append("--simulated-agents" if simulated_agents else "--no-simulated-agents")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def cleanup(
    this_plane: Annotated[bool, typer.Option(
        "--this-plane", help="Of the host's control groups, sandbox processes and bridges, "
        "remove this state folder's control plane's only (a test run beside others).")] = False,
) -> None:
    """Remove every kernel object Facade made (works when the control plane is down)."""
    with connect() as cli:
        if cli.healthy():
            typer.echo(
                f"warning: the control plane at {cli.url} is running and will re-create what its "
                "state asks for; stop it first (or destroy the resources) to keep things gone",
                err=True,
            )
    env = dict(os.environ)
    env["FACADE_HOME"] = str(facade_home().resolve())
    # Inherit stdout/stderr so its output streams as it comes.
    argv = [sys.executable, "-m", CLEANUP_MODULE, *(["--this-plane"] if this_plane else [])]
    code = subprocess.call(argv, env=env)
    raise typer.Exit(code)


BackupFile = Annotated[Path, typer.Argument(help="The backup file (a gzipped tar).")]


StoreDatabase = Annotated[str | None, typer.Option(
    "--database", help="The store's PostgreSQL URL (postgresql://USER@HOST/DB); default "
    "$FACADE_DATABASE, else the one the state folder notes (database.url), else its SQLite "
    "file.")]


def _store_tool(action: str, file: Path, database: str | None) -> None:
    env = dict(os.environ)
    env["FACADE_HOME"] = str(facade_home().resolve())
    argv = [sys.executable, "-m", BACKUP_MODULE, action, str(file)]
    if database is not None:  # in the environment, not argv: other users' ps shows argv
        env["FACADE_DATABASE"] = database
    code = subprocess.call(argv, env=env)
    raise typer.Exit(code)


def backup(file: BackupFile, database: StoreDatabase = None) -> None:
    """Write the store, the operator token and the management secrets of $FACADE_HOME to FILE
    (while the control plane runs or not)."""
    _store_tool("create", file, database)


def restore(file: BackupFile, database: StoreDatabase = None) -> None:
    """Replace the store and secrets of $FACADE_HOME with FILE's (the control plane stopped;
    at its next start it brings the kernel to the restored store)."""
    with connect() as cli:
        if cli.healthy():
            fail(f"the control plane at {cli.url} is running: stop it, then restore", 4)
    _store_tool("restore", file, database)
