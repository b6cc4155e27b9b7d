"""Billing: turn one appliance's metered usage for a period into balanced ledger transactions.

Two billing models, chosen per service (see docs/billing.md for the money-flow diagrams):

1. `provider-bills`: the customer pays the appliance provider the service price; the provider
   pays the operator the instance price of the backend nodes (and of the front-end node when it
   runs the front-end itself); with a separate front-end provider, the provider pays it the
   front-end price and the front-end provider pays the operator the front-end instance price.
2. `operator-bills`: the customer pays the operator the same service price, line for line; the
   operator, as clearing house, pays each party its share: the provider gets the service price
   minus the instance charges of the nodes it runs minus the front-end price (when separate); a
   separate front-end provider gets the front-end price minus its front-end instance charge.

Any two parties may be one account. A charge between a party and itself (front-end provider
== the operator, provider == operator, customer == operator) moves nothing and is not posted.
An *internal appliance* (customer == provider: an account using its own service) has no service
price, since the account would pay it to itself; what it costs is still owed: the instance
charges to the operator and a separate front-end provider's fee, under either model (under
`operator-bills` the operator bills them line by line and pays the front-end provider its share).

Invariants (property-tested): every party's net position is the same under both models; a
customer that is no other party pays the same lines and total under both models (an internal
appliance's account pays the same amounts); every amount is >= 0 (a share that would be
negative becomes a charge in the other direction, a "shortfall"); every transaction balances,
so every period does; nobody is charged for its own account. Each line is rounded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from facade.domain.errors import Invalid
from facade.domain.ledger import Line, Transaction, transfer
from facade.domain.money import EXACT, Money, charge
from facade.domain.names import check_name
from facade.domain.period import Period
from facade.domain.prices import (
    BYTES_PER_GB,
    REQUESTS_PER_UNIT,
    SECONDS_PER_HOUR,
    PriceSheet,
    Role,
    parse_role,
)

MAX_COUNT = 10**18  # an exabyte, a billion node-years: anything larger is a metering bug
QUANTITY_PLACES = 6  # decimals shown for a line quantity (node-hours)


class Model(StrEnum):
    PROVIDER_BILLS = "provider-bills"
    OPERATOR_BILLS = "operator-bills"


def parse_model(value: object) -> Model:
    if isinstance(value, Model):
        return value
    if isinstance(value, str) and value in {m.value for m in Model}:
        return Model(value)
    raise Invalid(f"unknown billing model {value!r}; expected "
                  f"{' or '.join(m.value for m in Model)}", where="billing_model")


@dataclass(frozen=True, slots=True)
class Parties:
    """Who is who on one appliance's bill (Facade account names).

    Any of them may be the same account. The front-end provider may be the appliance provider
    itself (then there is no front-end fee). The customer may be the provider (an internal
    appliance: no service price) or the operator; charges between a party and itself are simply
    not posted.
    """

    customer: str
    provider: str
    frontend_provider: str
    operator: str

    def __post_init__(self) -> None:
        for name in ("customer", "provider", "frontend_provider", "operator"):
            check_name(getattr(self, name), kind="account", where=f"parties.{name}")

    @property
    def separate_frontend(self) -> bool:
        return self.frontend_provider != self.provider

    @property
    def internal(self) -> bool:
        """The customer uses its own service: no service price, only what running it costs."""
        return self.customer == self.provider


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{value!r} must be a whole number (int)", where=where)
    if not 0 <= value <= MAX_COUNT:
        raise Invalid(f"{value} is outside 0..{MAX_COUNT}", where=where)
    return value


@dataclass(frozen=True, slots=True)
class Usage:
    """What one appliance used over one period, summed over its nodes by the metering layer."""

    appliance: str
    period: Period
    parties: Parties
    frontend_node_seconds: int = 0
    backend_node_seconds: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    connections: int = 0
    requests: int = 0

    def __post_init__(self) -> None:
        check_name(self.appliance, kind="appliance", where="usage.appliance")
        if not isinstance(self.period, Period):
            raise Invalid(f"{self.period!r} is not a Period", where="usage.period")
        if not isinstance(self.parties, Parties):
            raise Invalid(f"{self.parties!r} is not Parties", where="usage.parties")
        for name in ("frontend_node_seconds", "backend_node_seconds", "bytes_in", "bytes_out",
                     "connections", "requests"):
            _count(getattr(self, name), f"usage.{name}")

    @classmethod
    def of(cls, appliance: str, period: Period, parties: Parties, *,
           node_seconds: dict[str, int] | None = None, bytes_in: int = 0, bytes_out: int = 0,
           connections: int = 0, requests: int = 0) -> Usage:
        """Build from node-seconds keyed by role name ('frontend'/'backend'; others are Invalid)."""
        by_role = {Role.FRONTEND: 0, Role.BACKEND: 0}
        for key, seconds in (node_seconds or {}).items():
            role = parse_role(key, where=f"usage.node_seconds.{key}")
            by_role[role] += _count(seconds, f"usage.node_seconds.{key}")
        return cls(appliance, period, parties, by_role[Role.FRONTEND], by_role[Role.BACKEND],
                   bytes_in, bytes_out, connections, requests)

    def node_seconds(self, role: Role | str) -> int:
        r = parse_role(role, where="usage.role")
        return self.frontend_node_seconds if r is Role.FRONTEND else self.backend_node_seconds


@dataclass(frozen=True, slots=True)
class _Charge:
    kind: str
    description: str
    quantity: Fraction
    unit: str
    unit_price: Money
    amount: Money


def _line(kind: str, description: str, quantity: Fraction, unit: str,
          unit_price: Money) -> _Charge:
    return _Charge(kind, description, quantity, unit, unit_price, charge(unit_price, quantity))


def service_charges(usage: Usage, prices: PriceSheet) -> list[_Charge]:
    """The customer's lines: node-hours per role, GB (in + out), connections, 1000s of requests.
    Lines with zero quantity are left out; lines with a zero price are kept (a free item shows)."""
    s = prices.service
    lines = [
        _line("service-frontend", "front-end node-hours", Fraction(usage.frontend_node_seconds,
              SECONDS_PER_HOUR), "node-hour", s.frontend_node_hour),
        _line("service-backend", "backend node-hours", Fraction(usage.backend_node_seconds,
              SECONDS_PER_HOUR), "node-hour", s.backend_node_hour),
        _line("service-data", "data through the endpoint (in + out)",
              Fraction(usage.bytes_in + usage.bytes_out, BYTES_PER_GB), "GB", s.per_gb),
        _line("service-connections", "connections", Fraction(usage.connections), "connection",
              s.per_connection),
        _line("service-requests", "requests", Fraction(usage.requests, REQUESTS_PER_UNIT),
              "1000 requests", s.per_1000_requests),
    ]
    return [c for c in lines if c.quantity]


def _instance(usage: Usage, prices: PriceSheet, role: Role) -> _Charge:
    label = "front-end" if role is Role.FRONTEND else "backend"
    return _line(f"instances-{role.value}", f"{label} instance node-hours",
                 Fraction(usage.node_seconds(role), SECONDS_PER_HOUR), "node-hour",
                 prices.instances.node_hour(role))


def _frontend_fee(usage: Usage, prices: PriceSheet) -> _Charge:
    return _line("frontend-fee", "front-end node-hours (load balancer)",
                 Fraction(usage.frontend_node_seconds, SECONDS_PER_HOUR), "node-hour",
                 prices.frontend.node_hour)


def _display(quantity: Fraction) -> Decimal:
    """A quantity for an invoice line: exact when it has <= 6 decimals, else rounded to 6."""
    r = round(quantity, QUANTITY_PLACES)
    return EXACT.divide(Decimal(r.numerator), Decimal(r.denominator))


class _Bill:
    """Collects the transactions of one usage period, skipping self-charges."""

    def __init__(self, usage: Usage, model: Model) -> None:
        self.usage = usage
        self.prefix = f"bill:{usage.appliance}:{usage.period.start.isoformat()}:{model.value}:"
        self.txs: list[Transaction] = []

    def post(self, payer: str, payee: str, c: _Charge) -> None:
        if payer == payee or not c.quantity:
            return
        line = Line(f"{self.usage.appliance}: {c.description}", _display(c.quantity), c.unit,
                    c.unit_price, payer, payee)
        self.txs.append(transfer(f"{self.prefix}{c.kind}:{payer}>{payee}",
                                 self.usage.period.start, payer, payee, c.amount, line))

    def share(self, kind: str, description: str, payer: str, payee: str, amount: Money) -> None:
        """Pay `payee` a net share; a negative share is owed the other way as a shortfall."""
        if amount.is_negative:
            payer, payee, amount = payee, payer, -amount
            kind, description = f"{kind}-shortfall", f"{description} (shortfall: costs exceed price)"
        if payer == payee or not amount.amount:
            return
        line = Line(f"{self.usage.appliance}: {description}", Decimal(1), "share", amount,
                    payer, payee)
        self.txs.append(transfer(f"{self.prefix}{kind}:{payer}>{payee}",
                                 self.usage.period.start, payer, payee, amount, line))


def _total(charges: list[_Charge], currency: str) -> Money:
    return sum((c.amount for c in charges), Money.zero(currency))


def charges(usage: Usage, prices: PriceSheet, model: Model | str) -> list[Transaction]:
    """The balanced transactions that bill `usage` under `model`, all booked at period start.

    Ids are deterministic: bill:<appliance>:<period start>:<model>:<kind>:<payer>><payee>, so
    appending the same bill twice to a ledger is a Conflict, not a double charge.
    """
    if not isinstance(usage, Usage):
        raise Invalid(f"{usage!r} is not Usage", where="usage")
    if not isinstance(prices, PriceSheet):
        raise Invalid(f"{prices!r} is not a PriceSheet", where="prices")
    m = parse_model(model)
    who = usage.parties
    bill = _Bill(usage, m)
    service = service_charges(usage, prices)
    inst_fe = _instance(usage, prices, Role.FRONTEND)
    inst_be = _instance(usage, prices, Role.BACKEND)
    fee = _frontend_fee(usage, prices)

    if m is Model.PROVIDER_BILLS:
        if not who.internal:  # an internal appliance's service price would be paid to itself
            for c in service:
                bill.post(who.customer, who.provider, c)
        bill.post(who.provider, who.operator, inst_be)
        if who.separate_frontend:
            bill.post(who.provider, who.frontend_provider, fee)
            bill.post(who.frontend_provider, who.operator, inst_fe)
        else:
            bill.post(who.provider, who.operator, inst_fe)
        return bill.txs

    cur = prices.currency
    costs = ([("backend instances", inst_be), ("front-end fee", fee)] if who.separate_frontend
             else [("backend instances", inst_be), ("front-end instances", inst_fe)])
    if who.internal:
        # no service price and so no provider's share: the operator, as clearing house, bills
        # the account its costs line by line (what it would pay under provider-bills)
        for _, c in costs:
            bill.post(who.provider, who.operator, c)
    else:
        for c in service:
            bill.post(who.customer, who.operator, c)
        svc = _total(service, cur)
        parts = "".join(f" - {label} {c.amount.cents_str()}" for label, c in costs if c.quantity)
        bill.share("provider-share", f"appliance provider's share = service "
                   f"{svc.cents_str()}{parts}", who.operator, who.provider,
                   svc - _total([c for _, c in costs], cur))
    if who.separate_frontend:
        bill.share("frontend-share", f"front-end provider's share = front-end fee "
                   f"{fee.amount.cents_str()} - front-end instances {inst_fe.amount.cents_str()}",
                   who.operator, who.frontend_provider, fee.amount - inst_fe.amount)
    return bill.txs
