"""`facade bill`, `facade invoice`, `facade ledger` and `facade prices ...`: prices, billing
runs, invoices and the ledger's trial balance (docs/billing.md). Money is always shown and sent
as decimal text, never a float."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from facade.cli import render
from facade.cli.client import connect
from facade.cli.commands.options import Json, Output
from facade.client.models import BillingRun, FrontEndPrices, InstancePrices, Invoice, Ledger
from facade.domain.states import InvoiceStatus

Period = Annotated[str, typer.Option(
    "--period", "-p", metavar="PERIOD",
    help="2026-11 (a UTC month), 2026-11-28 (a UTC day) or START/END (ISO instants with a time "
         "zone on whole UTC hours).")]
app = typer.Typer(help="Prices: the operator's price list (instances, the edge), a front-end "
                       "provider's prices.",
                  no_args_is_help=True)


def _price(flag: str, what: str) -> Any:
    return typer.Option(flag, metavar="AMOUNT", show_default=False,
                        help=f"{what} (decimal text like 0.12; left out: 0).")


# --- prices ---------------------------------------------------------------------------------------


def _show_prices(obj: InstancePrices | FrontEndPrices) -> None:
    if isinstance(obj, FrontEndPrices):
        render.emit(f"currency {obj.currency}\nper front-end node-hour: {obj.node_hour}")
        return
    nh, edge = obj.node_hour, obj.edge
    render.emit(f"currency {obj.currency}\nper node-hour: front-end {nh.frontend}, backend "
                f"{nh.backend}"
                f"\nper public address-hour: {edge.public_ip_hour}"
                f"\nper GB through a public gateway: {edge.gateway_per_gb}"
                f"\nper channel-hour (VPN): {edge.channel_hour}")


@app.command("show")
def show(as_json: Json = False, form: Output = None) -> None:
    """Show the operator's price list: instances (what running a node costs per hour) and the
    edge (public addresses, traffic through a public gateway)."""
    with connect() as cli:
        obj = cli.billing.prices()
    render.output(obj, as_json, _show_prices, form)


@app.command("set")
def set_(
    frontend_hour: Annotated[str | None, _price("--frontend-hour",
                                                "Per front-end node-hour")] = None,
    backend_hour: Annotated[str | None, _price("--backend-hour", "Per backend node-hour")] = None,
    currency: Annotated[str | None, typer.Option("--currency", help="e.g. USD (default).")
                        ] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Set the operator's instance prices (operator only); they apply to periods that end
    after now."""
    body: dict[str, Any] = {"node_hour": {k: v for k, v in (("frontend", frontend_hour),
                                                            ("backend", backend_hour))
                                          if v is not None}}
    if currency is not None:
        body["currency"] = currency
    with connect() as cli:
        obj = cli.billing.set_prices(body)
    render.output(obj, as_json, _show_prices, form)


@app.command("edge")
def edge(
    ip_hour: Annotated[str | None, _price("--ip-hour", "Per public address-hour, standard "
                                                        "and customer, associated or not")
                       ] = None,
    gateway_gb: Annotated[str | None, _price("--gateway-gb", "Per GB through a public "
                                                             "gateway (in + out)")] = None,
    channel_hour: Annotated[str | None, _price("--channel-hour", "Per private channel-hour "
                                                                 "(a VPN, created to deleted)")
                            ] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Show (or with --ip-hour / --gateway-gb / --channel-hour, set: operator only) the
    operator's edge prices; a price left out when setting is 0."""
    given = {k: v for k, v in (("public_ip_hour", ip_hour), ("gateway_per_gb", gateway_gb),
                               ("channel_hour", channel_hour)) if v is not None}
    with connect() as cli:
        obj = cli.billing.set_edge_prices(given) if given else cli.billing.prices()
    render.output(obj, as_json, _show_prices, form)


@app.command("frontend")
def frontend(
    account: Annotated[str, typer.Argument(help="The front-end provider's account.")],
    node_hour: Annotated[str | None, _price("--node-hour", "Set: per front-end node-hour")
                         ] = None,
    as_json: Json = False, form: Output = None,
) -> None:
    """Show (or with --node-hour, set) what ACCOUNT charges per front-end node-hour it runs for
    another appliance provider."""
    with connect() as cli:
        obj = (cli.accounts.frontend_prices(account) if node_hour is None else
               cli.accounts.set_frontend_prices(account, {"node_hour": node_hour}))
    render.output(obj, as_json, _show_prices, form)


# --- runs, invoices, the ledger -------------------------------------------------------------------


def bill(period: Period, as_json: Json = False, form: Output = None) -> None:
    """Bill a period that has ended (operator only): post every appliance's usage to the ledger.
    Running it again posts only usage recorded since (usually nothing)."""
    with connect() as cli:
        obj = cli.billing.run(period)

    def view(o: BillingRun) -> None:
        if o.run is None:
            lines = [f"period {o.period}: nothing new to bill"]
        else:
            lines = [f"period {o.period}: run {o.run} posted {o.posted} "
                     f"transactions for {', '.join(o.appliances) or 'no appliance'}"]
            if o.public_ips:
                lines.append(f"and public IPs {', '.join(o.public_ips)}")
            if o.channels:
                lines.append(f"and channels {', '.join(o.channels)}")
        lines += [f"skipped {s.appliance}: {s.reason}" for s in o.skipped]
        lines.append(f"trial balance {o.currency} {o.trial_balance}")
        render.emit("\n".join(lines))

    render.output(obj, as_json, view, form)


def invoice(
    account: Annotated[str, typer.Argument(help="The account (yours, or any for the operator).")],
    period: Period,
    as_json: Json = False, form: Output = None,
) -> None:
    """Show ACCOUNT's invoice (what it owes) and statement (what it is owed) for a period:
    from the ledger once billed, else a draft computed from usage."""
    with connect() as cli:
        obj = cli.accounts.invoice(account, period)

    def view(o: Invoice) -> None:
        billed = o.status == InvoiceStatus.BILLED
        status = InvoiceStatus.BILLED if billed else "DRAFT (not billed yet)"
        text = o.text or f"{o.account}: no charges in {o.period}"
        render.emit(f"{status}\n{text}\nnet position {o.currency} {o.position}")

    render.output(obj, as_json, view, form)


def ledger(period: Period, as_json: Json = False, form: Output = None) -> None:
    """Show the ledger for a period (operator only): every ledger account, the trial balance
    (always 0.00), the runs, and usage not billed yet."""
    with connect() as cli:
        obj = cli.billing.ledger(period)

    def view(o: Ledger) -> None:
        table = Table("LEDGER ACCOUNT", "DEBITS", "CREDITS", "BALANCE", box=box.SIMPLE_HEAD,
                      pad_edge=False, show_edge=False)
        for a in o.accounts:
            table.add_row(a.account, a.debits, a.credits, a.balance)
        render.emit(f"period {o.period}: {o.transactions} transactions, runs "
                    f"{[r.run for r in o.runs] or 'none'}")
        render.emit(table)
        render.emit(f"trial balance {o.currency} {o.trial_balance}")
        for u in o.unbilled:
            render.emit(f"unbilled usage of {u.appliance} in {u.period}: "
                        + ", ".join(f"{k} {v}" for k, v in u.model_dump().items()
                                    if k not in ("appliance", "period") and v))
        for e in o.unbilled_public_ips:
            render.emit(f"unbilled usage of public IP {e.address} ({e.account}) "
                        f"in {e.period}: "
                        + ", ".join(f"{k} {v}" for k, v in e.model_dump().items()
                                    if k not in ("address", "account", "period") and v))
        for c in o.unbilled_channels:
            render.emit(f"unbilled hours of channel {c.channel} ({c.account}) "
                        f"in {c.period}: held_ms {c.held_ms}")

    render.output(obj, as_json, view, form)
