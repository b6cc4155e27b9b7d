"""Options and argument parsers shared by several `facade` commands."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Annotated

import typer

from facade.cli.client import connect, seg
from facade.cli.formats import Format

Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer (-o json).")]
Output = Annotated[Format | None, typer.Option(
    "-o", "--output", case_sensitive=False,
    help="table (the default), json (the API's answer), yaml, or name (one per line).")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Return once the API accepted it.")]
Account = Annotated[str, typer.Option("--account", "-a", help="The owning account.")]


def names_of(path: str) -> Callable[[str], list[str]]:
    """Shell completion of an argument: the names of `path`'s list that start with what was
    typed (`facade appliance show d<TAB>`), as the caller's token sees them; nothing (and no
    message) when the control plane cannot be asked."""

    def complete(incomplete: str) -> list[str]:
        try:
            with contextlib.redirect_stderr(io.StringIO()), connect() as cli:
                rows = cli.list_all(path)
        except (typer.Exit, OSError):
            return []
        return sorted(str(r["name"]) for r in rows
                      if isinstance(r, dict) and str(r.get("name", "")).startswith(incomplete))

    return complete


def split_subnet(ref: str) -> tuple[str, str]:
    """`acme-vpc/app` -> ("acme-vpc", "app"), `acme/prod/app` -> ("acme/prod", "app") (another
    account's, or whose for the operator); anything else is a usage error."""
    parts = ref.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise typer.BadParameter(f"{ref!r} is not NETWORK/SUBNET or ACCOUNT/NETWORK/SUBNET "
                                 "(e.g. acme-vpc/app)")
    return "/".join(parts[:-1]), parts[-1]


def item(collection: str, ref: str, suffix: str = "") -> str:
    """The API path of one object named NAME (the caller's own, or the only one it sees) or
    ACCOUNT/NAME (that account's: `?account=`, docs/api.md "Names"), plus `suffix`."""
    account, _, name = ref.rpartition("/")
    path = f"/v1/{collection}/{seg(name)}{suffix}"
    return f"{path}?account={seg(account)}" if account else path


def subnet_item(ref: str, suffix: str = "") -> str:
    """The API path of a subnet named [ACCOUNT/]NETWORK/SUBNET, plus `suffix`."""
    network, subnet = split_subnet(ref)
    return item("subnets", network, f"/{seg(subnet)}{suffix}")


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


def show_or_set_limits(path: str, memory: int | None, pids: int | None,
                       cpu_weight: int | None) -> dict[str, int]:
    """`facade instance|service limits NAME [...]`: PUT the limits given, or read them."""
    with connect() as cli:
        given = limits_body(memory, pids, cpu_weight)
        answer: dict[str, int] = cli.put(f"{path}/limits", given) if given else \
            cli.get(path)["limits"]
    return answer
