"""Options and argument parsers shared by several `facade` commands."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Annotated

import typer
from pydantic import BaseModel

from facade.cli.client import Client, connect
from facade.cli.formats import Format
from facade.client import FacadeError
from facade.client.models import Limits
from facade.client.resources import Instances, Services

Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer (-o json).")]
Output = Annotated[Format | None, typer.Option(
    "-o", "--output", case_sensitive=False,
    help="table (the default), json (the API's answer), yaml, or name (one per line).")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Return once the API accepted it.")]
Account = Annotated[str, typer.Option("--account", "-a", help="The owning account.")]


class Named(BaseModel):
    """What completion reads of any list's items: their names (the rest is left out)."""

    name: str


def names_of(path: str) -> Callable[[str], list[str]]:
    """Shell completion of an argument: the names of `path`'s list that start with what was
    typed (`facade appliance show d<TAB>`), as the caller's token sees them; nothing (and no
    message) when the control plane cannot be asked."""

    def complete(incomplete: str) -> list[str]:
        try:
            with contextlib.redirect_stderr(io.StringIO()), connect() as cli:
                rows = cli.http.list_all(path, Named)
        except (FacadeError, OSError):
            return []
        return sorted(r.name for r in rows if r.name.startswith(incomplete))

    return complete


def split_subnet(ref: str) -> tuple[str, str]:
    """`acme-vpc/app` -> ("acme-vpc", "app"), `acme/prod/app` -> ("acme/prod", "app") (another
    account's, or whose for the operator); anything else is a usage error."""
    parts = ref.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise typer.BadParameter(f"{ref!r} is not NETWORK/SUBNET or ACCOUNT/NETWORK/SUBNET "
                                 "(e.g. acme-vpc/app)")
    return "/".join(parts[:-1]), parts[-1]


def owned(ref: str) -> tuple[str, str | None]:
    """NAME -> (NAME, None): the caller's own, or the only one it sees; ACCOUNT/NAME ->
    (NAME, ACCOUNT): that account's, sent as `?account=` (docs/api.md "Names")."""
    account, sep, name = ref.rpartition("/")
    if sep and (not account or not name or "/" in account):
        raise typer.BadParameter(f"{ref!r} is not NAME or ACCOUNT/NAME (e.g. acme/prod)")
    return name, account or None


def owned_subnet(ref: str) -> tuple[str, str | None]:
    """[ACCOUNT/]NETWORK/SUBNET -> ("NETWORK/SUBNET", ACCOUNT or None)."""
    network, subnet = split_subnet(ref)
    name, account = owned(network)
    return f"{name}/{subnet}", account


Memory = Annotated[int | None, typer.Option(
    "--memory", metavar="MB", rich_help_panel="Sandbox limits",
    help="Memory of each node, in MiB (default 512).")]
Pids = Annotated[int | None, typer.Option(
    "--pids", metavar="N", rich_help_panel="Sandbox limits",
    help="Processes and threads of each node (default 512).")]
CpuWeight = Annotated[int | None, typer.Option(
    "--cpu-weight", metavar="W", rich_help_panel="Sandbox limits",
    help="CPU weight of each node, 1-10000 (default 100: an ordinary share).")]


def limits_body(memory: int | None, pids: int | None, cpu_weight: int | None
                ) -> dict[str, int]:
    """The limits given on the command line (the API checks them)."""
    return {k: v for k, v in (("memory_mb", memory), ("pids", pids),
                              ("cpu_weight", cpu_weight)) if v is not None}


def show_or_set_limits(kind: Callable[[Client], Instances | Services], ref: str,
                       memory: int | None, pids: int | None,
                       cpu_weight: int | None) -> Limits:
    """`facade instance|service limits [ACCOUNT/]NAME [...]`: PUT the limits given, or read
    them."""
    name, account = owned(ref)
    with connect() as cli:
        given = limits_body(memory, pids, cpu_weight)
        return kind(cli).set_limits(name, given, account=account) if given else \
            kind(cli).get(name, account=account).limits
