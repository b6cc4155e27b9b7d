"""Options and argument parsers shared by several `facade` commands."""

from __future__ import annotations

from typing import Annotated

import typer

Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
NoWait = Annotated[bool, typer.Option("--no-wait", help="Return once the API accepted it.")]
Account = Annotated[str, typer.Option("--account", "-a", help="The owning account.")]


def split_subnet(ref: str) -> tuple[str, str]:
    """`acme-vpc/app` -> ("acme-vpc", "app"); anything else is a usage error."""
    network, sep, subnet = ref.partition("/")
    if not sep or not network or not subnet or "/" in subnet:
        raise typer.BadParameter(f"{ref!r} is not NETWORK/SUBNET (e.g. acme-vpc/app)")
    return network, subnet
