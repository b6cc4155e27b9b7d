"""Price lists: the operator's instance prices, a front-end provider's prices and each service's
prices, stored as lists (store.models.PriceList) in force from the hour they were set
(docs/billing.md, "Billing runs").

Called by api/routes/billing.py, service/catalog.py (a service's prices, when it is created),
service/views.py and service/scenario/; charges.py reads the lists a run prices with.

Rules: a billing run prices a whole period with the lists last set *before the period ended*; an
unset price is 0. A service's prices are fixed when it is created (and kept after it is deleted:
its usage still has to be billed). One currency: the operator's (USD unless it set another).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import billing as bill
from facade.domain import prices
from facade.domain.errors import Conflict, Forbidden, Invalid
from facade.domain.money import CURRENCY, Money
from facade.readmodels.billing import (
    EdgePricesRead,
    FrontEndPricesRead,
    InstancePricesRead,
    NodeHourRead,
    ServicePricesRead,
)
from facade.service import lookup
from facade.service.billing.periods import hour_of, utc_now
from facade.service.context import Caller, Context
from facade.store.models import (
    LedgerTransaction,
    PriceList,
    Service,
)

SERVICE, INSTANCES, FRONTEND, EDGE = "service", "instances", "frontend", "edge"
AnyPrices = (prices.ServicePrices | prices.InstancePrices | prices.FrontEndPrices
             | prices.EdgePrices)


def latest(session: Session, kind: str, subject: str,
           before_hour: int | None = None) -> PriceList | None:
    q = select(PriceList).where(PriceList.kind == kind, PriceList.subject == subject)
    if before_hour is not None:
        q = q.where(PriceList.from_hour < before_hour)
    return session.scalar(q.order_by(PriceList.from_hour.desc()).limit(1))


def _save(session: Session, kind: str, subject: str, sheet: AnyPrices,
          model: str | None = None) -> None:
    """Make `sheet` the list in force from the current hour on (a second change within the same
    hour replaces the first)."""
    hour = hour_of(utc_now())
    row = session.scalar(select(PriceList).where(
        PriceList.kind == kind, PriceList.subject == subject, PriceList.from_hour == hour))
    if row is None:
        row = PriceList(kind=kind, subject=subject, from_hour=hour)
        session.add(row)
    row.currency, row.billing_model = sheet.currency, model
    if isinstance(sheet, prices.EdgePrices):
        row.frontend_node_hour = row.backend_node_hour = "0"
        row.per_connection = row.per_1000_requests = "0"
        row.public_ip_hour = str(sheet.public_ip_hour.amount)
        row.per_gb = str(sheet.gateway_per_gb.amount)
        row.channel_hour = str(sheet.channel_hour.amount)
        session.flush()
        return
    plain = prices.plain(sheet)
    node_hour = plain["node_hour"]
    if isinstance(node_hour, dict):
        row.frontend_node_hour, row.backend_node_hour = node_hour["frontend"], node_hour["backend"]
    else:
        row.frontend_node_hour, row.backend_node_hour = str(node_hour), "0"
    row.per_gb = str(plain.get("per_gb", "0"))
    row.per_connection = str(plain.get("per_connection", "0"))
    row.per_1000_requests = str(plain.get("per_1000_requests", "0"))
    session.flush()


def edge_of(row: PriceList | None, currency: str) -> prices.EdgePrices:
    """The operator's edge prices (its public addresses, gateway traffic and private
    channels); 0 when unset."""
    if row is None:
        return prices.EdgePrices(Money.zero(currency), Money.zero(currency), currency,
                                 Money.zero(currency))
    return prices.EdgePrices(Money(row.public_ip_hour, row.currency),
                             Money(row.per_gb, row.currency), row.currency,
                             Money(row.channel_hour, row.currency))


def instances_of(row: PriceList | None) -> prices.InstancePrices:
    if row is None:
        return prices.InstancePrices(Money.zero(), Money.zero())
    return prices.InstancePrices(Money(row.frontend_node_hour, row.currency),
                                 Money(row.backend_node_hour, row.currency), row.currency)


def frontend_of(row: PriceList | None, currency: str) -> prices.FrontEndPrices:
    if row is None:
        return prices.FrontEndPrices(Money.zero(currency), currency)
    return prices.FrontEndPrices(Money(row.frontend_node_hour, row.currency), row.currency)


def service_of(row: PriceList) -> prices.ServicePrices:
    c = row.currency
    return prices.ServicePrices(Money(row.frontend_node_hour, c), Money(row.backend_node_hour, c),
                                Money(row.per_gb, c), Money(row.per_connection, c),
                                Money(row.per_1000_requests, c), c)


def currency(session: Session) -> str:
    """The one currency of this control plane: the operator's instance prices' (USD if unset)."""
    row = latest(session, INSTANCES, "")
    return row.currency if row is not None else CURRENCY


def node_hour_read(frontend: Money, backend: Money) -> NodeHourRead:
    return NodeHourRead(frontend=str(frontend.amount), backend=str(backend.amount))


def service_read(sheet: prices.ServicePrices) -> ServicePricesRead:
    return ServicePricesRead(
        currency=sheet.currency,
        node_hour=node_hour_read(sheet.frontend_node_hour, sheet.backend_node_hour),
        per_gb=str(sheet.per_gb.amount), per_connection=str(sheet.per_connection.amount),
        per_1000_requests=str(sheet.per_1000_requests.amount))


def frontend_read(sheet: prices.FrontEndPrices) -> FrontEndPricesRead:
    return FrontEndPricesRead(currency=sheet.currency, node_hour=str(sheet.node_hour.amount))


def _operator_list(session: Session) -> InstancePricesRead:
    """The operator's price list: its instance prices and, under `edge`, its prices for
    public addresses, gateway traffic and private channels (in the instances' currency)."""
    sheet = instances_of(latest(session, INSTANCES, ""))
    edge = edge_of(latest(session, EDGE, ""), currency(session))
    return InstancePricesRead(
        currency=sheet.currency,
        node_hour=node_hour_read(sheet.frontend_node_hour, sheet.backend_node_hour),
        edge=EdgePricesRead(public_ip_hour=str(edge.public_ip_hour.amount),
                            gateway_per_gb=str(edge.gateway_per_gb.amount),
                            channel_hour=str(edge.channel_hour.amount)))


def get_instance_prices(ctx: Context, caller: Caller) -> InstancePricesRead:
    """The operator's price list in force now (instances, and the edge): public, every
    account may read it."""
    with ctx.read() as session:
        return _operator_list(session)


def set_instance_prices(ctx: Context, caller: Caller, data: dict[str, Any]) -> InstancePricesRead:
    """Operator only. Every instance price not given is 0 (the edge prices stay: they are set
    on their own, set_edge_prices). Changing the currency is refused while a service, a
    front-end or edge price list or the ledger uses the old one."""
    with ctx.write() as session:
        set_instances_in(ctx, session, caller, data)
        return _operator_list(session)


def set_edge_prices(ctx: Context, caller: Caller, data: dict[str, Any]) -> InstancePricesRead:
    """Operator only: the price per public address-hour, per GB through a public gateway and
    per channel-hour (left out: 0), in the operator's currency. Answers the operator's whole list."""
    with ctx.write() as session:
        set_edge_in(ctx, session, caller, data)
        return _operator_list(session)


def set_edge_in(ctx: Context, session: Session, caller: Caller, data: object
                ) -> tuple[prices.EdgePrices, bool]:
    """set_edge_prices inside the caller's transaction; True when they changed."""
    if not caller.operator:
        raise Forbidden("only the operator sets edge prices", where="prices")
    cur = currency(session)
    sheet = prices.edge_prices(data, where="prices", currency=cur)
    _same_currency(sheet.currency, cur)
    current = latest(session, EDGE, "")
    if current is not None and edge_of(current, cur) == sheet:
        return sheet, False
    _save(session, EDGE, "", sheet)
    ctx.event(session, "prices.updated", "edge",
              f"edge prices set: {sheet.public_ip_hour} per public address-hour, "
              f"{sheet.gateway_per_gb} per GB through a public gateway, "
              f"{sheet.channel_hour} per channel-hour",
              account=caller.account_id)
    return sheet, True


def set_instances_in(ctx: Context, session: Session, caller: Caller, data: object
                     ) -> tuple[prices.InstancePrices, bool]:
    """set_instance_prices inside the caller's transaction; True when they changed."""
    if not caller.operator:
        raise Forbidden("only the operator sets instance prices", where="prices")
    sheet = prices.instance_prices(data, where="prices")
    old = currency(session)
    if sheet.currency != old:
        users = [*session.scalars(select(Service.name).where(
            Service.price_currency != sheet.currency).limit(5)),
            *(f"front-end prices of {r.subject}" if r.kind == FRONTEND else "edge prices"
              for r in session.scalars(select(PriceList).where(
                  PriceList.kind.in_((FRONTEND, EDGE)),
                  PriceList.currency != sheet.currency).limit(5)))]
        posted = session.scalar(select(LedgerTransaction.id).where(
            LedgerTransaction.currency != sheet.currency).limit(1))
        if users or posted:
            what = ", ".join(users) if users else "the ledger"
            raise Conflict(f"cannot change the currency from {old} to {sheet.currency}: "
                           f"{what} still use {old}", where="prices.currency")
    current = latest(session, INSTANCES, "")
    if current is not None and instances_of(current) == sheet:
        return sheet, False
    _save(session, INSTANCES, "", sheet)
    ctx.event(session, "prices.updated", "instances",
              f"instance prices set: front-end {sheet.frontend_node_hour}, backend "
              f"{sheet.backend_node_hour} per node-hour",
              account=caller.account_id)
    return sheet, True


def get_frontend_prices(ctx: Context, caller: Caller, name: str) -> FrontEndPricesRead:
    """What account `name` charges per front-end node-hour when it runs an appliance's front-end
    for another provider (the account itself and the operator may read it)."""
    with ctx.read() as session:
        account = lookup.visible_account(session, caller, name)
        return frontend_read(frontend_of(latest(session, FRONTEND, account.name),
                                         currency(session)))


def set_frontend_prices(ctx: Context, caller: Caller, name: str,
                        data: dict[str, Any]) -> FrontEndPricesRead:
    """The account itself (or the operator) sets its front-end prices; the currency must be the
    operator's."""
    with ctx.write() as session:
        return frontend_read(set_frontend_in(ctx, session, caller, name, data)[0])


def set_frontend_in(ctx: Context, session: Session, caller: Caller, name: str, data: object
                    ) -> tuple[prices.FrontEndPrices, bool]:
    """set_frontend_prices inside the caller's transaction; True when they changed."""
    account = lookup.visible_account(session, caller, name)
    cur = currency(session)
    sheet = prices.frontend_prices(data, where="prices", currency=cur)
    _same_currency(sheet.currency, cur)
    current = latest(session, FRONTEND, account.name)
    if current is not None and frontend_of(current, cur) == sheet:
        return sheet, False
    _save(session, FRONTEND, account.name, sheet)
    ctx.event(session, "prices.updated", account.name,
              f"front-end prices of {account.name}: {sheet.node_hour} per node-hour",
              account=account.id)
    return sheet, True


def _same_currency(given: str, cur: str) -> None:
    if given != cur:
        raise Invalid(f"prices are in {cur} on this control plane (the operator's currency), "
                      f"not {given}", where="prices.currency")


def service_terms(session: Session, data: object, model: object
                  ) -> tuple[prices.ServicePrices, bill.Model]:
    """A new service's prices and billing model, checked (400 naming the field)."""
    cur = currency(session)
    sheet = prices.service_prices(data, where="prices", currency=cur)
    _same_currency(sheet.currency, cur)
    return sheet, bill.parse_model("provider-bills" if model is None else model)


def apply_terms(session: Session, row: Service, sheet: prices.ServicePrices,
                model: bill.Model) -> None:
    """Store a service's prices on its row and in the price history billing reads."""
    row.billing_model, row.price_currency = model.value, sheet.currency
    row.price_frontend_hour = str(sheet.frontend_node_hour.amount)
    row.price_backend_hour = str(sheet.backend_node_hour.amount)
    row.price_per_gb = str(sheet.per_gb.amount)
    row.price_per_connection = str(sheet.per_connection.amount)
    row.price_per_1000_requests = str(sheet.per_1000_requests.amount)
    _save(session, SERVICE, service_subject(row.account.name, row.name), sheet, model.value)


def service_subject(provider: str, service: str) -> str:
    """A service's price lists are its provider's: `provider/service` (names are unique per
    account; lists from before that are named by the service alone, see `latest_service`)."""
    return f"{provider}/{service}"


def latest_service(session: Session, provider: str, service: str,
                   before_hour: int | None = None) -> PriceList | None:
    """The list in force of `provider`'s service: its own, or one set while service names were
    unique across accounts (store migration 0020 renames those of live services)."""
    return (latest(session, SERVICE, service_subject(provider, service), before_hour)
            or latest(session, SERVICE, service, before_hour))


def terms_of(row: Service) -> tuple[prices.ServicePrices, bill.Model]:
    c = row.price_currency
    sheet = prices.ServicePrices(
        Money(row.price_frontend_hour, c), Money(row.price_backend_hour, c),
        Money(row.price_per_gb, c), Money(row.price_per_connection, c),
        Money(row.price_per_1000_requests, c), c)
    return sheet, bill.parse_model(row.billing_model)


def service_view_of(sheet: prices.ServicePrices) -> dict[str, object]:
    return prices.plain(sheet)


def service_view(row: Service) -> tuple[str, ServicePricesRead]:
    """The `billing_model` and `prices` of a service's read model (offers are public)."""
    sheet, model = terms_of(row)
    return model.value, service_read(sheet)
