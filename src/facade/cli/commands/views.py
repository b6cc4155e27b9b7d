"""`facade topology` and `facade events`: read-only views of the whole provider network."""

from __future__ import annotations

from typing import Annotated

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Json


def topology(as_json: Json = False) -> None:
    """Draw networks -> subnets -> nodes, with addresses and kernel names."""
    with connect() as cli:
        data = cli.get("/v1/topology")
    render.output(data, as_json, render.topology)


def events(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest last.", min=1)] = 50,
    as_json: Json = False,
) -> None:
    """Show the latest events."""
    with connect() as cli:
        rows = cli.get("/v1/events", params={"limit": limit})
    render.output(rows, as_json, render.events)
