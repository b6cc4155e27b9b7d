"""Billing wired to metering: price lists, billing runs that post to the stored ledger, and the
invoices, statements and trial balance derived from it (docs/billing.md, "Billing runs").

Called by api/routes/billing.py, service/catalog.py (a service's prices, when it is created) and
service/scenario.py. The arithmetic is domain/billing.py's `charges()`; this module only feeds it
metered usage (service/metering.py `totals`) and stores what it returns.

Rules:
- Prices are price lists (store.models.PriceList) in force from the hour they were set. A
  billing run prices a whole period with the lists last set *before the period ended*; an unset
  price is 0. A service's prices are fixed when it is created (and kept after it is deleted:
  its usage still has to be billed). One currency: the operator's (USD unless it set another).
- A run bills a period that has ended. The first run of a period posts every appliance's usage;
  a later run of the same period posts only usage recorded into it since (late usage, e.g. when
  metering was stopped across the period's end) as adjustment transactions; when there is none
  it posts nothing. A period must equal a billed period or overlap none (no hour is billed by
  two periods).
- Invoices and statements are derived from the ledger for a period made of whole billed periods;
  for a period that overlaps no billed period they are a draft computed from usage, not posted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import billing as bill
from facade.domain import invoices, prices
from facade.domain.errors import Conflict, FacadeError, Forbidden, Invalid, NotFound
from facade.domain.ledger import Ledger, Line, Posting, Side, Transaction
from facade.domain.metering import from_ms, to_ms
from facade.domain.money import CURRENCY, Money
from facade.domain.period import Period, parse_period
from facade.service import lookup, metering
from facade.service.context import Caller, Context
from facade.store.models import (
    Account,
    BilledUsage,
    BillingRun,
    LedgerPosting,
    LedgerTransaction,
    PriceList,
    Service,
    UsageRecord,
)

SERVICE, INSTANCES, FRONTEND = "service", "instances", "frontend"
USAGE = ("frontend_node_ms", "backend_node_ms", "bytes_in", "bytes_out", "connections",
         "requests")
AnyPrices = prices.ServicePrices | prices.InstancePrices | prices.FrontEndPrices


def _hour(at: dt.datetime) -> int:
    return to_ms(at) // metering.HOUR_MS


def _amount(money: Money) -> str:
    """A whole-cent amount as plain text with two decimals ("1234.50"), for JSON."""
    return f"{money.amount:.2f}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- price lists -------------------------------------------------------------------------------


def _latest(session: Session, kind: str, subject: str,
            before_hour: int | None = None) -> PriceList | None:
    q = select(PriceList).where(PriceList.kind == kind, PriceList.subject == subject)
    if before_hour is not None:
        q = q.where(PriceList.from_hour < before_hour)
    return session.scalar(q.order_by(PriceList.from_hour.desc()).limit(1))


def _save(session: Session, kind: str, subject: str, sheet: AnyPrices,
          model: str | None = None) -> None:
    """Make `sheet` the list in force from the current hour on (a second change within the same
    hour replaces the first)."""
    hour = _hour(_now())
    row = session.scalar(select(PriceList).where(
        PriceList.kind == kind, PriceList.subject == subject, PriceList.from_hour == hour))
    if row is None:
        row = PriceList(kind=kind, subject=subject, from_hour=hour)
        session.add(row)
    plain = prices.plain(sheet)
    row.currency, row.billing_model = sheet.currency, model
    node_hour = plain["node_hour"]
    if isinstance(node_hour, dict):
        row.frontend_node_hour, row.backend_node_hour = node_hour["frontend"], node_hour["backend"]
    else:
        row.frontend_node_hour, row.backend_node_hour = str(node_hour), "0"
    row.per_gb = str(plain.get("per_gb", "0"))
    row.per_connection = str(plain.get("per_connection", "0"))
    row.per_1000_requests = str(plain.get("per_1000_requests", "0"))
    session.flush()


def _instances_of(row: PriceList | None) -> prices.InstancePrices:
    if row is None:
        return prices.InstancePrices(Money.zero(), Money.zero())
    return prices.InstancePrices(Money(row.frontend_node_hour, row.currency),
                                 Money(row.backend_node_hour, row.currency), row.currency)


def _frontend_of(row: PriceList | None, currency: str) -> prices.FrontEndPrices:
    if row is None:
        return prices.FrontEndPrices(Money.zero(currency), currency)
    return prices.FrontEndPrices(Money(row.frontend_node_hour, row.currency), row.currency)


def _service_of(row: PriceList) -> prices.ServicePrices:
    c = row.currency
    return prices.ServicePrices(Money(row.frontend_node_hour, c), Money(row.backend_node_hour, c),
                                Money(row.per_gb, c), Money(row.per_connection, c),
                                Money(row.per_1000_requests, c), c)


def currency(session: Session) -> str:
    """The one currency of this control plane: the operator's instance prices' (USD if unset)."""
    row = _latest(session, INSTANCES, "")
    return row.currency if row is not None else CURRENCY


def get_instance_prices(ctx: Context, caller: Caller) -> dict[str, Any]:
    """The operator's instance prices in force now: public, every account may read them."""
    with ctx.read() as session:
        return prices.plain(_instances_of(_latest(session, INSTANCES, "")))


def set_instance_prices(ctx: Context, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
    """Operator only. Every price not given is 0. Changing the currency is refused while a
    service, a front-end price list or the ledger uses the old one."""
    with ctx.write() as session:
        return prices.plain(set_instances_in(ctx, session, caller, data)[0])


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
            *(f"front-end prices of {r.subject}" for r in session.scalars(select(
                PriceList).where(PriceList.kind == FRONTEND,
                                 PriceList.currency != sheet.currency).limit(5)))]
        posted = session.scalar(select(LedgerTransaction.id).where(
            LedgerTransaction.currency != sheet.currency).limit(1))
        if users or posted:
            what = ", ".join(users) if users else "the ledger"
            raise Conflict(f"cannot change the currency from {old} to {sheet.currency}: "
                           f"{what} still use {old}", where="prices.currency")
    current = _latest(session, INSTANCES, "")
    if current is not None and _instances_of(current) == sheet:
        return sheet, False
    _save(session, INSTANCES, "", sheet)
    ctx.event(session, "prices.updated", "instances",
              f"instance prices set: front-end {sheet.frontend_node_hour}, backend "
              f"{sheet.backend_node_hour} per node-hour")
    return sheet, True


def _visible_account(session: Session, caller: Caller, name: str) -> Account:
    row = lookup.account(session, name)
    if not caller.may_see(row.id):
        raise NotFound(f"account {name!r} does not exist", where="account")
    return row


def get_frontend_prices(ctx: Context, caller: Caller, name: str) -> dict[str, Any]:
    """What account `name` charges per front-end node-hour when it runs an appliance's front-end
    for another provider (the account itself and the operator may read it)."""
    with ctx.read() as session:
        account = _visible_account(session, caller, name)
        return prices.plain(_frontend_of(_latest(session, FRONTEND, account.name),
                                         currency(session)))


def set_frontend_prices(ctx: Context, caller: Caller, name: str,
                        data: dict[str, Any]) -> dict[str, Any]:
    """The account itself (or the operator) sets its front-end prices; the currency must be the
    operator's."""
    with ctx.write() as session:
        return prices.plain(set_frontend_in(ctx, session, caller, name, data)[0])


def set_frontend_in(ctx: Context, session: Session, caller: Caller, name: str, data: object
                    ) -> tuple[prices.FrontEndPrices, bool]:
    """set_frontend_prices inside the caller's transaction; True when they changed."""
    account = _visible_account(session, caller, name)
    cur = currency(session)
    sheet = prices.frontend_prices(data, where="prices", currency=cur)
    _same_currency(sheet.currency, cur)
    current = _latest(session, FRONTEND, account.name)
    if current is not None and _frontend_of(current, cur) == sheet:
        return sheet, False
    _save(session, FRONTEND, account.name, sheet)
    ctx.event(session, "prices.updated", account.name,
              f"front-end prices of {account.name}: {sheet.node_hour} per node-hour")
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
    _save(session, SERVICE, row.name, sheet, model.value)


def terms_of(row: Service) -> tuple[prices.ServicePrices, bill.Model]:
    c = row.price_currency
    sheet = prices.ServicePrices(
        Money(row.price_frontend_hour, c), Money(row.price_backend_hour, c),
        Money(row.price_per_gb, c), Money(row.price_per_connection, c),
        Money(row.price_per_1000_requests, c), c)
    return sheet, bill.parse_model(row.billing_model)


def service_view_of(sheet: prices.ServicePrices) -> dict[str, object]:
    return prices.plain(sheet)


def service_view(row: Service) -> dict[str, Any]:
    """The `billing_model` and `prices` keys of a service's read model (offers are public)."""
    sheet, model = terms_of(row)
    return {"billing_model": model.value, "prices": prices.plain(sheet)}


# --- usage -> transactions ----------------------------------------------------------------------


@dataclass
class _AppUsage:
    """One appliance's usage over one period (metering totals, plus who ran its front-end)."""

    appliance_id: int
    appliance: str
    customer: str
    provider: str
    service: str
    values: dict[str, int]
    frontend_owners: set[str] = field(default_factory=set)


def _usage(session: Session, period: Period) -> list[_AppUsage]:
    owners: dict[int, set[str]] = {}
    for node in metering.by_node(session, period, where=[UsageRecord.role == "frontend"]):
        if node.owner:
            owners.setdefault(node.appliance_id, set()).add(node.owner)
    return [_AppUsage(t.appliance_id, t.appliance, t.customer, t.provider, t.service,
                      {k: int(t.values.get(k, 0)) for k in USAGE},
                      owners.get(t.appliance_id, set()))
            for t in metering.totals(session, period)]


def _operator(session: Session) -> str:
    name = session.scalar(select(Account.name).where(Account.operator.is_(True))
                          .order_by(Account.id).limit(1))
    if name is None:
        raise Conflict("there is no operator account", where="operator")
    return name


@dataclass
class _Priced:
    """The transactions of one appliance's usage, or why it could not be billed."""

    appliance: str
    transactions: list[Transaction]
    skipped: str | None = None


def _sheet(session: Session, service: str, frontend_provider: str, end_hour: int
           ) -> tuple[prices.PriceSheet, bill.Model]:
    svc_row = _latest(session, SERVICE, service, end_hour)
    if svc_row is not None:
        svc, model = _service_of(svc_row), bill.parse_model(svc_row.billing_model)
    else:  # a service made before price lists existed: its row's prices, else free
        row = session.scalar(select(Service).where(Service.name == service))
        svc, model = terms_of(row) if row is not None else (
            prices.service_prices(None, currency=currency(session)), bill.Model.PROVIDER_BILLS)
    instances = _instances_of(_latest(session, INSTANCES, "", end_hour))
    frontend = _frontend_of(_latest(session, FRONTEND, frontend_provider, end_hour),
                            instances.currency)
    return prices.PriceSheet(svc, instances, frontend), model


def _price(session: Session, period: Period, use: _AppUsage, operator: str,
           already: dict[str, int] | None, seq: int) -> _Priced:
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
                for role in ("frontend", "backend")}
        rest = {k: use.values[k] - done[k] for k in ("bytes_in", "bytes_out", "connections",
                                                     "requests")}
        usage = bill.Usage(use.appliance, period, parties, node["frontend"], node["backend"],
                           **rest)
        sheet, model = _sheet(session, use.service, fe_provider, _hour(period.end))
        txs = bill.charges(usage, sheet, model)
    except FacadeError as exc:
        return _Priced(use.appliance, [], f"{exc.message}")
    prefix = f"bill:{use.appliance}:{period.start.isoformat()}:{model.value}:"
    key = f"bill:{use.appliance_id}:{_hour(period.start)}-{_hour(period.end)}:{seq}:"
    out = []
    for tx in txs:
        assert tx.id.startswith(prefix), tx.id
        line = tx.line
        if seq > 1 and line is not None:
            line = Line(f"{line.description} (late usage, run {seq})", line.quantity, line.unit,
                        line.unit_price, line.payer, line.payee)
        # stored ids carry the appliance's id (a name can be reused) and the run: unique
        out.append(Transaction(key + tx.id[len(prefix):], tx.at, tx.postings, line))
    return _Priced(use.appliance, out)


# --- the stored ledger --------------------------------------------------------------------------


def _store(session: Session, run: BillingRun, txs: Iterable[Transaction]) -> int:
    n = 0
    for tx in txs:
        ln = tx.line
        session.add(LedgerTransaction(
            id=tx.id, run_id=run.id, seq=n, at_ms=to_ms(tx.at), currency=tx.currency,
            description=ln.description if ln else None,
            quantity=str(ln.quantity) if ln else None, unit=ln.unit if ln else None,
            unit_price=str(ln.unit_price.amount) if ln else None,
            payer=ln.payer if ln else None, payee=ln.payee if ln else None,
            postings=[LedgerPosting(seq=i, account=p.account, side=p.side.value,
                                    amount=str(p.amount.amount), currency=p.amount.currency)
                      for i, p in enumerate(tx.postings)]))
        n += 1
    return n


def _transaction(row: LedgerTransaction) -> Transaction:
    line = None
    if row.description is not None:
        line = Line(row.description, Decimal(row.quantity or "0"), row.unit or "",
                    Money(row.unit_price or "0", row.currency), row.payer or "", row.payee or "")
    return Transaction(row.id, from_ms(row.at_ms),
                       tuple(Posting(p.account, Side(p.side), Money(p.amount, p.currency))
                             for p in row.postings), line)


def ledger(session: Session, period: Period | None = None) -> Ledger:
    """The stored ledger (or the transactions booked in `period`), rebuilt as a domain Ledger:
    every row is checked again (balanced, whole cents) on the way in."""
    q = select(LedgerTransaction).order_by(LedgerTransaction.at_ms, LedgerTransaction.run_id,
                                           LedgerTransaction.seq)
    if period is not None:
        q = q.where(LedgerTransaction.at_ms >= to_ms(period.start),
                    LedgerTransaction.at_ms < to_ms(period.end))
    return Ledger((_transaction(r) for r in session.scalars(q)), currency=currency(session))


# --- periods ------------------------------------------------------------------------------------


def _period(text: object) -> Period:
    period = parse_period(text, where="period")
    metering.hour_index(period.start, "period")
    metering.hour_index(period.end, "period")
    return period


def _billed(session: Session, period: Period) -> list[tuple[int, int]]:
    """The billed periods (hour indices) that overlap `period`, in order."""
    start, end = _hour(period.start), _hour(period.end)
    rows = session.execute(select(BillingRun.period_start, BillingRun.period_end).where(
        BillingRun.period_start < end, BillingRun.period_end > start).distinct())
    return sorted((int(a), int(b)) for a, b in rows)


def _hours_period(start: int, end: int) -> Period:
    return Period(from_ms(start * metering.HOUR_MS), from_ms(end * metering.HOUR_MS))


def _made_of_billed(period: Period, billed: list[tuple[int, int]]) -> bool:
    """True when the billed periods lie inside `period` and cover it without a gap."""
    at = _hour(period.start)
    for start, end in billed:
        if start != at:
            return False
        at = end
    return at == _hour(period.end)


# --- billing runs -------------------------------------------------------------------------------


def run(ctx: Context, caller: Caller, period_text: object,
        now: dt.datetime | None = None) -> dict[str, Any]:
    """Bill a period that has ended (operator only); see the module docstring."""
    if not caller.operator:
        raise Forbidden("only the operator runs billing", where="period")
    period = _period(period_text)
    now = now or _now()
    if now < period.end:
        raise Conflict(f"period {period} has not ended yet (it ends {period.end.isoformat()}); "
                       "bill it once it is over", where="period")
    start, end = _hour(period.start), _hour(period.end)
    with ctx.write() as session:
        for b in _billed(session, period):
            if b != (start, end):
                raise Conflict(f"period {period} overlaps the billed period "
                               f"{_hours_period(*b)}; bill exactly that period or one that "
                               "does not overlap it", where="period")
        seq = 1 + max(session.scalars(select(BillingRun.seq).where(
            BillingRun.period_start == start, BillingRun.period_end == end)), default=0)
        operator = _operator(session)
        billed = {r.appliance_id: r for r in session.scalars(select(BilledUsage).where(
            BilledUsage.period_start == start, BilledUsage.period_end == end))}
        priced: list[tuple[_AppUsage, _Priced]] = []
        for use in _usage(session, period):
            row = billed.get(use.appliance_id)
            done = {k: getattr(row, k) for k in USAGE} if row is not None else None
            if done == use.values:
                continue
            priced.append((use, _price(session, period, use, operator, done, seq)))
        txs = [tx for _, p in priced for tx in p.transactions]
        Ledger(txs, currency=currency(session))  # all balanced, one currency, ids unique
        posted = 0
        if seq == 1 or txs:
            run_row = BillingRun(period_start=start, period_end=end, seq=seq)
            session.add(run_row)
            session.flush()
            posted = run_row.transactions = _store(session, run_row, txs)
            ctx.event(session, "billing.run", str(period),
                      f"billing run {seq} of {period}: {posted} transactions posted")
        # what is billed now, even usage too small to charge (less than a node-second): the
        # next run charges from here (node time is cut into seconds from the running total)
        for use, p in priced:
            if p.skipped is not None:
                continue
            row = billed.get(use.appliance_id)
            if row is None:
                row = BilledUsage(period_start=start, period_end=end,
                                  appliance_id=use.appliance_id, appliance=use.appliance)
                session.add(row)
            for k in USAGE:
                setattr(row, k, use.values[k])
        book = ledger(session, period)
        return {"period": str(period), "run": seq if posted or seq == 1 else None,
                "posted": posted,
                "appliances": sorted({p.appliance for _, p in priced
                                      if p.skipped is None and p.transactions}),
                "skipped": [{"appliance": p.appliance, "reason": p.skipped}
                            for _, p in priced if p.skipped is not None],
                "currency": book.currency,
                "trial_balance": _amount(book.trial_balance(period))}


# --- invoices and the ledger view ---------------------------------------------------------------


def _doc(doc: invoices.Invoice) -> dict[str, Any]:
    return {"total": _amount(doc.total), "lines": [
        {"transaction": ln.transaction_id, "description": ln.description,
         "counterparty": ln.counterparty, "quantity": str(ln.quantity), "unit": ln.unit,
         "unit_price": str(ln.unit_price.amount), "amount": _amount(ln.amount)}
        for ln in doc.lines]}


def _draft(session: Session, period: Period) -> Ledger:
    """The ledger a first run of `period` would post now (nothing is stored)."""
    operator = _operator(session)
    txs = [tx for use in _usage(session, period)
           for tx in _price(session, period, use, operator, None, 1).transactions]
    return Ledger(txs, currency=currency(session))


def invoice(ctx: Context, caller: Caller, name: str, period_text: object) -> dict[str, Any]:
    """The account's invoice (what it owes) and statement (what it is owed) for a period: from
    the ledger when the period is made of billed periods, a draft from usage when none of it is
    billed; a period that is only partly billed is a Conflict naming the billed periods."""
    period = _period(period_text)
    with ctx.read() as session:
        account = _visible_account(session, caller, name)
        billed = _billed(session, period)
        if not billed:
            book, status = _draft(session, period), "draft"
        elif _made_of_billed(period, billed):
            book, status = ledger(session, period), "billed"
        else:
            shown = ", ".join(str(_hours_period(*b)) for b in billed)
            raise Conflict(f"period {period} is only partly billed (billed: {shown}); ask for "
                           "billed periods whole, or for a period none of which is billed",
                           where="period")
        inv = invoices.invoice(book, account.name, period)
        stm = invoices.statement(book, account.name, period)
        return {"account": account.name, "period": str(period), "status": status,
                "currency": book.currency, "invoice": _doc(inv), "statement": _doc(stm),
                "position": _amount(book.position(account.name, period)),
                "text": "\n".join(d.render() for d in (inv, stm) if d.lines)}


def ledger_view(ctx: Context, caller: Caller, period_text: object) -> dict[str, Any]:
    """The operator's view of the ledger for a period: every ledger account's debits, credits
    and balance, the trial balance (zero), the runs, and the usage not billed yet."""
    if not caller.operator:
        raise Forbidden("only the operator reads the ledger", where="period")
    period = _period(period_text)
    with ctx.read() as session:
        book = ledger(session, period)
        billed = _billed(session, period)
        inside = [b for b in billed if b[0] >= _hour(period.start) and b[1] <= _hour(period.end)]
        unbilled: list[dict[str, Any]] = []
        if not billed:
            unbilled = [{"period": str(period), "appliance": u.appliance, **u.values}
                        for u in _usage(session, period)]
        for start, end in inside:
            p = _hours_period(start, end)
            done = {r.appliance_id: r for r in session.scalars(select(BilledUsage).where(
                BilledUsage.period_start == start, BilledUsage.period_end == end))}
            for u in _usage(session, p):
                row = done.get(u.appliance_id)
                late = {k: u.values[k] - (getattr(row, k) if row else 0) for k in USAGE}
                if any(late.values()):
                    unbilled.append({"period": str(p), "appliance": u.appliance, **late})
        runs = session.scalars(select(BillingRun).where(
            BillingRun.period_start >= _hour(period.start),
            BillingRun.period_end <= _hour(period.end)).order_by(BillingRun.id))
        return {
            "period": str(period), "currency": book.currency,
            "trial_balance": _amount(book.trial_balance(period)),
            "transactions": len(book.transactions(period)),
            "runs": [{"period": str(_hours_period(r.period_start, r.period_end)), "run": r.seq,
                      "transactions": r.transactions,
                      "at": r.at.astimezone(dt.UTC).isoformat() if r.at.tzinfo
                      else r.at.replace(tzinfo=dt.UTC).isoformat()} for r in runs],
            "accounts": [{"account": a, "debits": _amount(book.debits(a, period)),
                          "credits": _amount(book.credits(a, period)),
                          "balance": _amount(book.balance(a, period))}
                         for a in book.accounts(period)],
            "unbilled": unbilled,
        }
