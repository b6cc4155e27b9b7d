"""Metered usage priced into ledger transactions: each appliance's usage over a period
(service/metering.py `totals`, plus who ran its front-end), priced by domain/billing.py's
`charges()` with the price lists in force at the period's end (price_lists.py); and each public
address's (service/edge_metering.py), priced by domain/edge_billing.py's `charges()`. Nothing is stored
here; runs.py posts what it returns, statements.py drafts from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import billing as bill
from facade.domain import edge_billing, prices
from facade.domain.edge_billing import EdgeUse
from facade.domain.errors import Conflict, FacadeError, Invalid
from facade.domain.ledger import Line, Transaction
from facade.domain.period import Period
from facade.domain.states import NodeRole
from facade.service import edge_metering, metering
from facade.service.billing.periods import hour_of
from facade.service.billing.price_lists import (
    EDGE,
    FRONTEND,
    INSTANCES,
    currency,
    edge_of,
    frontend_of,
    instances_of,
    latest,
    latest_service,
    service_of,
    terms_of,
)
from facade.store.models import (
    Account,
    Service,
    UsageRecord,
)

USAGE = ("frontend_node_ms", "backend_node_ms", "bytes_in", "bytes_out", "connections",
         "requests")


@dataclass
class AppUsage:
    """One appliance's usage over one period (metering totals, plus who ran its front-end)."""

    appliance_id: int
    appliance: str
    customer: str
    provider: str
    service: str
    values: dict[str, int]
    frontend_owners: set[str] = field(default_factory=set)


def usage_of(session: Session, period: Period) -> list[AppUsage]:
    owners: dict[int, set[str]] = {}
    for node in metering.by_node(session, period, where=[UsageRecord.role == NodeRole.FRONTEND]):
        if node.owner:
            owners.setdefault(node.appliance_id, set()).add(node.owner)
    return [AppUsage(t.appliance_id, t.appliance, t.customer, t.provider, t.service,
                      {k: int(t.values.get(k, 0)) for k in USAGE},
                     owners.get(t.appliance_id, set()))
            for t in metering.totals(session, period)]


def operator_of(session: Session) -> str:
    name = session.scalar(select(Account.name).where(Account.operator.is_(True))
                          .order_by(Account.id).limit(1))
    if name is None:
        raise Conflict("there is no operator account", where="operator")
    return name


@dataclass
class Priced:
    """The transactions of one appliance's usage, or why it could not be billed."""

    appliance: str
    transactions: list[Transaction]
    skipped: str | None = None


def _sheet(session: Session, provider: str, service: str, frontend_provider: str,
           end_hour: int) -> tuple[prices.PriceSheet, bill.Model]:
    svc_row = latest_service(session, provider, service, end_hour)
    if svc_row is not None:
        svc, model = service_of(svc_row), bill.parse_model(svc_row.billing_model)
    else:  # a service made before price lists existed: its row's prices, else free
        row = session.scalar(select(Service).join(Account, Service.account_id == Account.id)
                             .where(Service.name == service, Account.name == provider))
        svc, model = terms_of(row) if row is not None else (
            prices.service_prices(None, currency=currency(session)), bill.Model.PROVIDER_BILLS)
    instances = instances_of(latest(session, INSTANCES, "", end_hour))
    frontend = frontend_of(latest(session, FRONTEND, frontend_provider, end_hour),
                           instances.currency)
    return prices.PriceSheet(svc, instances, frontend), model


def price(session: Session, period: Period, use: AppUsage, operator: str,
          already: dict[str, int] | None, seq: int) -> Priced:
    """Bill `use` minus what was billed of it already (`already`), as run `seq` of `period`."""
    done = already or dict.fromkeys(USAGE, 0)
    try:
        if len(use.frontend_owners) > 1:
            raise Invalid(f"its front-end was run by {len(use.frontend_owners)} accounts in "
                          f"the period ({', '.join(sorted(use.frontend_owners))}); billing one "
                          "appliance with several front-end providers is not supported yet",
                          where=use.appliance)
        fe_provider = next(iter(use.frontend_owners), use.provider)
        parties = bill.Parties(use.customer, use.provider, fe_provider, operator)
        # node time is billed in whole seconds of the period's total, never rounded up
        node = {role: use.values[f"{role}_node_ms"] // 1000 - done[f"{role}_node_ms"] // 1000
                for role in (NodeRole.FRONTEND, NodeRole.BACKEND)}
        rest = {k: use.values[k] - done[k] for k in ("bytes_in", "bytes_out", "connections",
                                                     "requests")}
        usage = bill.Usage(use.appliance, period, parties, node[NodeRole.FRONTEND],
                           node[NodeRole.BACKEND], **rest)
        sheet, model = _sheet(session, use.provider, use.service, fe_provider, hour_of(period.end))
        txs = bill.charges(usage, sheet, model)
    except FacadeError as exc:
        return Priced(use.appliance, [], f"{exc.message}")
    prefix = f"bill:{use.appliance}:{period.start.isoformat()}:{model.value}:"
    key = f"bill:{use.appliance_id}:{hour_of(period.start)}-{hour_of(period.end)}:{seq}:"
    out = []
    for tx in txs:
        assert tx.id.startswith(prefix), tx.id
        line = tx.line
        if seq > 1 and line is not None:
            line = Line(f"{line.description} (late usage, run {seq})", line.quantity, line.unit,
                        line.unit_price, line.payer, line.payee)
        # stored ids carry the appliance's id (a name can be reused) and the run: unique
        out.append(Transaction(key + tx.id[len(prefix):], tx.at, tx.postings, line))
    return Priced(use.appliance, out)


# --- the edge: the operator's charges to an account for what it holds there ----------------------

EDGE_USAGE = ("held_ms", "bytes_in", "bytes_out")


def edge_usage_of(session: Session, period: Period, now_ms: int | None = None
                  ) -> list[tuple[EdgeUse, dict[str, int]]]:
    """Every public address's usage over the period (service/edge_metering.py), with its
    values by EDGE_USAGE name; `now_ms`: a draft's, held time counted up to now."""
    return [(u, {"held_ms": u.held_ms, "bytes_in": u.bytes_in, "bytes_out": u.bytes_out})
            for u in edge_metering.by_subject(session, period, now_ms)]


def price_edge(session: Session, period: Period, use: EdgeUse, values: dict[str, int],
               operator: str, already: dict[str, int] | None, seq: int) -> list[Transaction]:
    """Bill `values` of `use` minus what was billed of them already, as run `seq` of
    `period`: the holder pays the operator, under either billing model, at the edge prices
    last set before the period ended (docs/billing.md, "The edge")."""
    done = already or dict.fromkeys(EDGE_USAGE, 0)
    # held time is billed in whole seconds of the period's total, never rounded up
    seconds = values["held_ms"] // 1000 - done["held_ms"] // 1000
    rest = EdgeUse(use.kind, use.subject_id, use.subject, use.account, use.detail,
                   held_ms=max(0, values["held_ms"] - done["held_ms"]),
                   bytes_in=max(0, values["bytes_in"] - done["bytes_in"]),
                   bytes_out=max(0, values["bytes_out"] - done["bytes_out"]))
    cur = currency(session)
    sheet = edge_of(latest(session, EDGE, "", hour_of(period.end)), cur)
    prefix = (f"bill:{use.kind}-{use.subject_id}:{hour_of(period.start)}-"
              f"{hour_of(period.end)}:{seq}:")
    note = f" (late usage, run {seq})" if seq > 1 else ""
    return edge_billing.charges(rest, sheet, operator, period.start, prefix,
                                seconds=max(0, seconds), note=note)
