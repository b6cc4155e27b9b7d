"""The `facade` command: one Typer app assembled from the per-noun modules in commands/.

Entry point of the `facade` script (pyproject.toml). The global options `--url` and `--token`
override FACADE_URL and FACADE_TOKEN for one invocation; client.Group turns a failure of the
typed client (facade.client) into one line on stderr and its exit code.
"""

from __future__ import annotations

from typing import Annotated

import typer

from facade.cli import client
from facade.cli.commands import (
    accounts,
    appliances,
    billing,
    edge,
    execute,
    hosts,
    instances,
    load_balancers,
    local,
    manifests,
    networks,
    quotas,
    rules,
    services,
    sites,
    subnets,
    views,
)

app = typer.Typer(
    name="facade",
    cls=client.Group,
    help="Facade: composed appliance services in private networks, on real Linux networking.",
    no_args_is_help=True,
    # A traceback's locals would print the token.
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help=f"Control plane URL (env FACADE_URL, default {client.DEFAULT_URL}).",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="API token (env FACADE_TOKEN, else the profile's, else "
                 "$FACADE_HOME/operator.token).",
            show_default=False,
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="A profile of ~/.config/facade/config.toml (env FACADE_PROFILE; else the "
                 "one named default, if any).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Facade: composed appliance services in private networks, on real Linux networking."""
    client.configure(url, token, profile)


app.command("up", rich_help_panel="Control plane")(local.up)
app.command("cleanup", rich_help_panel="Control plane")(local.cleanup)
app.command("backup", rich_help_panel="Control plane")(local.backup)
app.command("restore", rich_help_panel="Control plane")(local.restore)
app.command("host-agent", rich_help_panel="Control plane")(hosts.host_agent)
app.command("apply", rich_help_panel="Manifests")(manifests.apply)
app.command("destroy", rich_help_panel="Manifests")(manifests.destroy)
app.command("exec", rich_help_panel="Inspect")(execute.exec_)
app.command("topology", rich_help_panel="Inspect")(views.topology)
app.command("events", rich_help_panel="Inspect")(views.events)
app.command("usage", rich_help_panel="Billing")(views.usage)
app.command("bill", rich_help_panel="Billing")(billing.bill)
app.command("invoice", rich_help_panel="Billing")(billing.invoice)
app.command("ledger", rich_help_panel="Billing")(billing.ledger)
app.add_typer(billing.app, name="prices", rich_help_panel="Billing")

for name, sub in [
    ("account", accounts.app),
    ("network", networks.app),
    ("subnet", subnets.app),
    ("instance", instances.app),
    ("service", services.app),
    ("lb", load_balancers.app),
    ("appliance", appliances.app),
    ("rule", rules.app),
    ("quota", quotas.app),
    ("ip", edge.app),
    ("external", edge.externals),
    ("site", sites.sites),
    ("vpn", sites.vpns),
    ("host", hosts.app),
]:
    app.add_typer(sub, name=name, rich_help_panel="Resources")
