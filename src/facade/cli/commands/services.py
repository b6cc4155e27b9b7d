"""`facade service ...`: appliance services, the offers of providers."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import (
    Account,
    CpuWeight,
    Json,
    Memory,
    Output,
    Pids,
    limits_body,
    names_of,
    owned,
    show_or_set_limits,
    split_subnet,
)

app = typer.Typer(help="Appliance services (a provider's offer).", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Service name.",
                                      autocompletion=names_of("/v1/services"))]


def _check(flag: str, what: str, metavar: str) -> Any:
    return typer.Option(flag, metavar=metavar, show_default=False,
                        rich_help_panel="Health check", help=what)


HealthType = Annotated[str | None, _check(
    "--health-type", "tcp (connect), http (GET the health path, expect --health-codes) or agent "
    "(the management agent sees a process listening; for one-client-at-a-time servers). "
    "See docs/health.md.", "TYPE")]
HealthCodes = Annotated[str | None, _check(
    "--health-codes", "HTTP codes that mean healthy, like 200-399 or 200,204 (default 200-299).",
    "CODES")]
HealthInterval = Annotated[float | None, _check(
    "--health-interval", "Seconds between two checks of a backend (default 1).", "SECONDS")]
HealthTimeout = Annotated[float | None, _check(
    "--health-timeout", "Seconds a check may take (default 0.5).", "SECONDS")]
HealthRise = Annotated[int | None, _check(
    "--health-rise", "Passed checks in a row that make a backend healthy (default 1).", "N")]
HealthFall = Annotated[int | None, _check(
    "--health-fall", "Failed checks in a row that make it unhealthy (default 2).", "N")]


def _health_body(type_: str | None, codes: str | None, interval: float | None,
                 timeout: float | None, rise: int | None, fall: int | None,
                 path: str | None = None) -> dict[str, Any]:
    """The health-check settings given on the command line (the API checks them)."""
    return {k: v for k, v in (("type", type_), ("path", path), ("codes", codes),
                              ("interval", interval), ("timeout", timeout), ("rise", rise),
                              ("fall", fall)) if v is not None}


def _price(flag: str, what: str) -> Any:
    return typer.Option(flag, metavar="AMOUNT", show_default=False, rich_help_panel="Prices",
                        help=f"{what} (decimal text like 0.12; left out: 0).")


@app.command("create")
def create(
    name: Name,
    account: Account,
    port: Annotated[int, typer.Option("--port", help="The port the service listens on.")],
    backend_subnet: Annotated[
        str, typer.Option("--backend-subnet", metavar="NETWORK/SUBNET", help="Where backends run.")
    ],
    management_subnet: Annotated[
        str,
        typer.Option("--management-subnet", metavar="NETWORK/SUBNET", help="The provider's path."),
    ],
    workload: Annotated[
        str | None,
        typer.Option("--workload", help="A built-in workload: http-echo, search or web; "
                     "the operator's control-plane-api (the API in customers' subnets)."),
    ] = None,
    command: Annotated[
        str | None,
        typer.Option("--command", help='Your own program, e.g. "prog {ip} {port}".'),
    ] = None,
    health_path: Annotated[
        str | None, typer.Option("--health-path", help="HTTP path of the health check.")
    ] = None,
    upstream: Annotated[
        str | None,
        typer.Option("--upstream", metavar="APPLIANCE",
                     help="The appliance the backends call (yours, in the backend subnet; it "
                          "may be created later). See docs/composition.md."),
    ] = None,
    frontend: Annotated[
        str | None,
        typer.Option("--frontend", metavar="LOAD_BALANCER",
                     help="Take front-ends from this load-balancer offer (a third-party "
                          "front-end provider's; see docs/composition.md)."),
    ] = None,
    extra_subnet: Annotated[
        list[str] | None,
        typer.Option("--extra-subnet", metavar="NETWORK/SUBNET",
                     help="Give every backend one more interface in this subnet (repeatable: "
                          "eth2, eth3...; yours or granted to you). See docs/composition.md."),
    ] = None,
    price_frontend_hour: Annotated[str | None, _price("--price-frontend-hour",
                                                      "Per front-end node-hour")] = None,
    price_backend_hour: Annotated[str | None, _price("--price-backend-hour",
                                                     "Per backend node-hour")] = None,
    price_gb: Annotated[str | None, _price("--price-gb", "Per GB (10^9 bytes) in + out")
                        ] = None,
    price_connection: Annotated[str | None, _price("--price-connection", "Per connection")
                                ] = None,
    price_1000_requests: Annotated[str | None, _price("--price-1000-requests",
                                                      "Per 1000 requests")] = None,
    currency: Annotated[str | None, typer.Option(
        "--currency", help="The prices' currency (the operator's, USD by default).")] = None,
    billing_model: Annotated[str | None, typer.Option(
        "--billing-model", metavar="MODEL",
        help="provider-bills (default: you bill the customer) or operator-bills (the operator "
             "bills it and pays you your share). See docs/billing.md.")] = None,
    memory: Memory = None,
    pids: Pids = None,
    cpu_weight: CpuWeight = None,
    health_type: HealthType = None,
    health_codes: HealthCodes = None,
    health_interval: HealthInterval = None,
    health_timeout: HealthTimeout = None,
    health_rise: HealthRise = None,
    health_fall: HealthFall = None,
    tenancy: Annotated[str | None, typer.Option(
        "--tenancy", metavar="TENANCY",
        help="shared (default) or dedicated: every appliance's nodes on hosts that hold no "
             "other account's nodes. See docs/multi-host.md.")] = None,
) -> None:
    """Create a service: one of --workload or --command."""
    if (workload is None) == (command is None):
        raise typer.BadParameter("give exactly one of --workload or --command")
    split_subnet(backend_subnet)
    split_subnet(management_subnet)
    body: dict[str, Any] = {
        "name": name,
        "account": account,
        "port": port,
        "backend_subnet": backend_subnet,
        "management_subnet": management_subnet,
    }
    if workload is not None:
        body["workload"] = workload
    if command is not None:
        body["command"] = command
    if health_path is not None:
        body["health_path"] = health_path
    if upstream is not None:
        body["upstream"] = upstream
    if frontend is not None:
        body["frontend"] = frontend
    if extra_subnet:
        for path in extra_subnet:
            split_subnet(path)
        body["extra_subnets"] = list(extra_subnet)
    node_hour = {k: v for k, v in (("frontend", price_frontend_hour),
                                   ("backend", price_backend_hour)) if v is not None}
    prices = {k: v for k, v in (("node_hour", node_hour or None), ("per_gb", price_gb),
                                ("per_connection", price_connection),
                                ("per_1000_requests", price_1000_requests),
                                ("currency", currency)) if v is not None}
    if prices:
        body["prices"] = prices
    if billing_model is not None:
        body["billing_model"] = billing_model
    if tenancy is not None:
        body["tenancy"] = tenancy
    if limits_body(memory, pids, cpu_weight):
        body["limits"] = limits_body(memory, pids, cpu_weight)
    check = _health_body(health_type, health_codes, health_interval, health_timeout,
                         health_rise, health_fall)
    if check:
        body["health_check"] = check
    with connect() as cli:
        cli.services.create(body)
    typer.echo(f"created service {name}")


@app.command("list")
def list_(as_json: Json = False, form: Output = None) -> None:
    """List services."""
    with connect() as cli:
        rows = cli.services.list()
    render.output(rows, as_json, render.services, form)


@app.command("show")
def show(name: Name, as_json: Json = False, form: Output = None) -> None:
    """Show one service."""
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.services.get(bare, account=account)
    render.output(obj, as_json, render.service, form)


@app.command("delete")
def delete(name: Name) -> None:
    """Delete a service."""
    bare, account = owned(name)
    with connect() as cli:
        cli.services.delete(bare, account=account)
    typer.echo(f"deleted service {name}")


@app.command("autoscale")
def autoscale(
    name: Name,
    min_: Annotated[int | None, typer.Option("--min", help="Fewest backends.")] = None,
    max_: Annotated[int | None, typer.Option("--max", help="Most backends.")] = None,
    metric: Annotated[str | None, typer.Option(
        "--metric", help="connections or requests (per second, per backend).")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", metavar="NUMBER", help="Wanted METRIC per second per backend.")] = None,
    cooldown: Annotated[int, typer.Option("--cooldown", help="Seconds before scaling "
                                                             "down.")] = 30,
    off: Annotated[bool, typer.Option("--off", help="Turn autoscaling off.")] = False,
    as_json: Json = False, form: Output = None,
) -> None:
    """Show or set the autoscaling policy of a service (all its appliances follow it)."""
    given = [v is not None for v in (min_, max_, metric, target)]
    if off and any(given):
        raise typer.BadParameter("--off takes no other policy option")
    if any(given) and not all(given):
        raise typer.BadParameter("give --min, --max, --metric and --target together")
    bare, account = owned(name)
    with connect() as cli:
        if off:
            obj = cli.services.stop_autoscale(bare, account=account)
        elif all(given):
            obj = cli.services.set_autoscale(bare, {"min": min_, "max": max_, "metric": metric,
                                                    "target": target, "cooldown": cooldown},
                                             account=account)
        else:
            obj = cli.services.autoscale(bare, account=account)
    render.output(obj, as_json, render.autoscale, form)


@app.command("limits")
def limits(name: Name, memory: Memory = None, pids: Pids = None, cpu_weight: CpuWeight = None,
           as_json: Json = False, form: Output = None) -> None:
    """Show or change the sandbox limits of a service's backends (applied while they run)."""
    obj = show_or_set_limits(lambda cli: cli.services, name, memory, pids, cpu_weight)
    render.output(obj, as_json, render.limits, form)


@app.command("health-check")
def health_check(name: Name,
                 type_: HealthType = None,
                 path: Annotated[str | None, _check(
                     "--health-path", "The HTTP path an http check GETs.", "PATH")] = None,
                 codes: HealthCodes = None, interval: HealthInterval = None,
                 timeout: HealthTimeout = None, rise: HealthRise = None,
                 fall: HealthFall = None, as_json: Json = False, form: Output = None) -> None:
    """Show or change how a service's backends are checked (running appliances follow at
    once). Options left out keep their value."""
    given = _health_body(type_, codes, interval, timeout, rise, fall, path)
    bare, account = owned(name)
    with connect() as cli:
        obj = cli.services.set_health_check(bare, given, account=account) if given else \
            cli.services.get(bare, account=account).health_check
    render.output(obj, as_json, render.health_check, form)
