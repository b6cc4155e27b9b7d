"""Price sheets: what an appliance service, the operator and a front-end provider charge.

Three price lists meet in one bill:
- `ServicePrices`: what the appliance service costs its customer, set by the appliance provider:
  per node-hour by role (frontend, backend), per GB through the endpoint (in + out), per
  connection, and optionally per 1000 requests.
- `InstancePrices`: what the operator charges whoever runs instances, per node-hour by role.
- `FrontEndPrices`: what a front-end (load balancer) provider charges per front-end node-hour.
Besides, `EdgePrices`: what the operator charges an account for its public addresses (per
address-hour), their traffic through a public gateway (per GB) and its private channels (per
channel-hour); no appliance's bill.

Units: a node-hour is 3600 node-seconds; a GB is a *decimal* gigabyte, 10^9 bytes (not 2^30).
Every price is a non-negative `Money` with at most `MAX_PRICE_PLACES` decimals and below
`MAX_PRICE`; all prices of one sheet share one currency. Bad input raises `Invalid` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from facade.domain.errors import Invalid
from facade.domain.money import CURRENCY, Money, check_currency, to_decimal

SECONDS_PER_HOUR = 3600
BYTES_PER_GB = 10**9
REQUESTS_PER_UNIT = 1000
MAX_PRICE = Money(10**9)
MAX_PRICE_PLACES = 10
MAX_PRICE_TEXT = 40  # characters of a price given as text ("999999999.9999999999" is 20)


class Role(StrEnum):
    FRONTEND = "frontend"
    BACKEND = "backend"


def parse_role(value: object, *, where: str = "role") -> Role:
    """A node role from its name; anything but 'frontend'/'backend' is Invalid."""
    if isinstance(value, Role):
        return value
    if isinstance(value, str) and value in {m.value for m in Role}:
        return Role(value)
    raise Invalid(f"unknown role {value!r}; expected one of "
                  f"{', '.join(r.value for r in Role)}", where=where)


def price(value: object, *, where: str, currency: str = CURRENCY) -> Money:
    """A unit price from Money, str, int or Decimal: >= 0, < MAX_PRICE, <= MAX_PRICE_PLACES decimals."""
    if isinstance(value, str) and len(value) > MAX_PRICE_TEXT:
        raise Invalid(f"price {value[:20]!r}... is longer than {MAX_PRICE_TEXT} characters",
                      where=where)
    money = value if isinstance(value, Money) else Money(to_decimal(value, where=where), currency)
    if money.currency != currency:
        raise Invalid(f"price {money} is not in {currency}", where=where)
    if money.is_negative:
        raise Invalid(f"price {money.amount} is negative", where=where)
    if money >= Money(MAX_PRICE.amount, currency):
        raise Invalid(f"price {money.amount} is not below {MAX_PRICE.amount}", where=where)
    exponent = money.amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_PRICE_PLACES:
        raise Invalid(f"price {money.amount} has more than {MAX_PRICE_PLACES} decimal places",
                      where=where)
    return money


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class ServicePrices:
    """What the customer pays for an appliance service."""

    frontend_node_hour: Money
    backend_node_hour: Money
    per_gb: Money
    per_connection: Money
    per_1000_requests: Money = field(default_factory=Money.zero)
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        cur = check_currency(self.currency, where="service.currency")
        for name in ("frontend_node_hour", "backend_node_hour", "per_gb", "per_connection",
                     "per_1000_requests"):
            _set(self, name, price(getattr(self, name), where=f"service.{name}", currency=cur))

    def node_hour(self, role: Role | str) -> Money:
        r = parse_role(role, where="service.role")
        return self.frontend_node_hour if r is Role.FRONTEND else self.backend_node_hour


@dataclass(frozen=True, slots=True)
class InstancePrices:
    """What the operator charges whoever runs instances, per node-hour by role."""

    frontend_node_hour: Money
    backend_node_hour: Money
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        cur = check_currency(self.currency, where="instances.currency")
        for name in ("frontend_node_hour", "backend_node_hour"):
            _set(self, name, price(getattr(self, name), where=f"instances.{name}", currency=cur))

    def node_hour(self, role: Role | str) -> Money:
        r = parse_role(role, where="instances.role")
        return self.frontend_node_hour if r is Role.FRONTEND else self.backend_node_hour


@dataclass(frozen=True, slots=True)
class FrontEndPrices:
    """What a separate front-end provider charges the appliance provider per front-end node-hour."""

    node_hour: Money
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        cur = check_currency(self.currency, where="frontend.currency")
        _set(self, "node_hour", price(self.node_hour, where="frontend.node_hour", currency=cur))


EDGE_PRICES = ("public_ip_hour", "gateway_per_gb", "channel_hour")


@dataclass(frozen=True, slots=True)
class EdgePrices:
    """What the operator charges an account at the edge of the provider network: per public
    address-hour (held, associated or not; standard and customer addresses alike) and per GB
    through a public gateway (in + out, per address) and per channel-hour (a VPN, from its
    creation to its deletion). docs/billing.md, "The edge"."""

    public_ip_hour: Money = field(default_factory=Money.zero)
    gateway_per_gb: Money = field(default_factory=Money.zero)
    currency: str = CURRENCY
    channel_hour: Money = field(default_factory=Money.zero)

    def __post_init__(self) -> None:
        cur = check_currency(self.currency, where="edge.currency")
        for name in EDGE_PRICES:
            _set(self, name, price(getattr(self, name), where=f"edge.{name}", currency=cur))


@dataclass(frozen=True, slots=True)
class PriceSheet:
    """All prices one appliance's bill needs. The front-end prices are used only when the
    front-end provider is a separate account from the appliance provider."""

    service: ServicePrices
    instances: InstancePrices
    frontend: FrontEndPrices

    def __post_init__(self) -> None:
        for name, kind in (("service", ServicePrices), ("instances", InstancePrices),
                           ("frontend", FrontEndPrices)):
            if not isinstance(getattr(self, name), kind):
                raise Invalid(f"{name} must be {kind.__name__}", where=name)
        currencies = {self.service.currency, self.instances.currency, self.frontend.currency}
        if len(currencies) != 1:
            raise Invalid(f"one price sheet mixes currencies {sorted(currencies)}",
                          where="currency")

    @property
    def currency(self) -> str:
        return self.service.currency

    @classmethod
    def parse(cls, data: object, *, where: str = "prices") -> PriceSheet:
        """A sheet from plain data (JSON/YAML), amounts as strings:

            {"currency": "USD",
             "service":   {"node_hour": {"frontend": "0.10", "backend": "0.40"},
                           "per_gb": "0.02", "per_connection": "0.000001",
                           "per_1000_requests": "0"},          # optional
             "instances": {"node_hour": {"frontend": "0.05", "backend": "0.20"}},
             "frontend":  {"node_hour": "0.08"}}
        """
        top = _mapping(data, where, {"currency", "service", "instances", "frontend"},
                       {"service", "instances", "frontend"})
        cur = check_currency(top.get("currency", CURRENCY), where=f"{where}.currency")
        svc = _mapping(top["service"], f"{where}.service",
                       {"node_hour", "per_gb", "per_connection", "per_1000_requests"},
                       {"node_hour", "per_gb", "per_connection"})
        inst = _mapping(top["instances"], f"{where}.instances", {"node_hour"}, {"node_hour"})
        fe = _mapping(top["frontend"], f"{where}.frontend", {"node_hour"}, {"node_hour"})
        svc_nh = _roles(svc["node_hour"], f"{where}.service.node_hour")
        inst_nh = _roles(inst["node_hour"], f"{where}.instances.node_hour")

        def p(value: object, at: str) -> Money:
            return price(value, where=f"{where}.{at}", currency=cur)

        return cls(
            service=ServicePrices(
                frontend_node_hour=p(svc_nh[Role.FRONTEND], "service.node_hour.frontend"),
                backend_node_hour=p(svc_nh[Role.BACKEND], "service.node_hour.backend"),
                per_gb=p(svc["per_gb"], "service.per_gb"),
                per_connection=p(svc["per_connection"], "service.per_connection"),
                per_1000_requests=p(svc.get("per_1000_requests", "0"),
                                    "service.per_1000_requests"),
                currency=cur),
            instances=InstancePrices(
                frontend_node_hour=p(inst_nh[Role.FRONTEND], "instances.node_hour.frontend"),
                backend_node_hour=p(inst_nh[Role.BACKEND], "instances.node_hour.backend"),
                currency=cur),
            frontend=FrontEndPrices(node_hour=p(fe["node_hour"], "frontend.node_hour"),
                                    currency=cur),
        )


def _mapping(data: object, where: str, allowed: set[str], required: set[str]) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise Invalid(f"expected a mapping, got {type(data).__name__}", where=where)
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise Invalid(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
                      where=where)
    missing = sorted(required - set(data))
    if missing:
        raise Invalid(f"missing key(s) {', '.join(missing)}", where=where)
    return data


def _roles(data: object, where: str) -> dict[Role, object]:
    if not isinstance(data, Mapping):
        raise Invalid(f"expected a mapping of role to price, got {type(data).__name__}",
                      where=where)
    out = {parse_role(k, where=f"{where}.{k}"): v for k, v in data.items()}
    missing = [r.value for r in Role if r not in out]
    if missing:
        raise Invalid(f"missing price for role(s) {', '.join(missing)}", where=where)
    return out


# --- the plain (JSON / YAML) forms the API, the CLI and scenario files use -------------------
# Every key is optional: a price left out is 0 (free), the currency defaults to USD. Prices are
# strings (or ints) like "0.10"; a float is refused (it cannot hold 0.10 exactly).


def _node_hours(data: object, where: str, cur: str) -> dict[Role, Money]:
    if data is None:
        return {r: Money.zero(cur) for r in Role}
    if not isinstance(data, Mapping):
        raise Invalid(f"expected a mapping of role to price like {{frontend: '0.10', backend: "
                      f"'0.40'}}, got {type(data).__name__}", where=where)
    out = {r: Money.zero(cur) for r in Role}
    for key, value in data.items():
        role = parse_role(key, where=f"{where}.{key}")
        out[role] = price(value, where=f"{where}.{role.value}", currency=cur)
    return out


def _currency(top: Mapping[str, object], where: str, default: str) -> str:
    value = top.get("currency")
    return check_currency(default if value is None else value, where=f"{where}.currency")


def service_prices(data: object, *, where: str = "prices",
                   currency: str = CURRENCY) -> ServicePrices:
    """A service's prices from {currency, node_hour: {frontend, backend}, per_gb,
    per_connection, per_1000_requests}; None or a missing key means 0."""
    top = _mapping({} if data is None else data, where,
                   {"currency", "node_hour", "per_gb", "per_connection", "per_1000_requests"},
                   set())
    cur = _currency(top, where, currency)
    nh = _node_hours(top.get("node_hour"), f"{where}.node_hour", cur)

    def p(key: str) -> Money:
        value = top.get(key)
        return Money.zero(cur) if value is None else price(value, where=f"{where}.{key}",
                                                           currency=cur)

    return ServicePrices(nh[Role.FRONTEND], nh[Role.BACKEND], p("per_gb"), p("per_connection"),
                         p("per_1000_requests"), currency=cur)


def instance_prices(data: object, *, where: str = "prices",
                    currency: str = CURRENCY) -> InstancePrices:
    """The operator's instance prices from {currency, node_hour: {frontend, backend}}."""
    top = _mapping({} if data is None else data, where, {"currency", "node_hour"}, set())
    cur = _currency(top, where, currency)
    nh = _node_hours(top.get("node_hour"), f"{where}.node_hour", cur)
    return InstancePrices(nh[Role.FRONTEND], nh[Role.BACKEND], currency=cur)


def frontend_prices(data: object, *, where: str = "prices",
                    currency: str = CURRENCY) -> FrontEndPrices:
    """A front-end provider's prices from {currency, node_hour}."""
    top = _mapping({} if data is None else data, where, {"currency", "node_hour"}, set())
    cur = _currency(top, where, currency)
    value = top.get("node_hour")
    nh = Money.zero(cur) if value is None else price(value, where=f"{where}.node_hour",
                                                     currency=cur)
    return FrontEndPrices(nh, currency=cur)


def edge_prices(data: object, *, where: str = "prices",
                currency: str = CURRENCY) -> EdgePrices:
    """The operator's edge prices from {currency, public_ip_hour, gateway_per_gb,
    channel_hour}; None or a missing key means 0."""
    top = _mapping({} if data is None else data, where, {"currency", *EDGE_PRICES}, set())
    cur = _currency(top, where, currency)

    def p(key: str) -> Money:
        value = top.get(key)
        return Money.zero(cur) if value is None else price(value, where=f"{where}.{key}",
                                                           currency=cur)

    return EdgePrices(p("public_ip_hour"), p("gateway_per_gb"), currency=cur,
                      channel_hour=p("channel_hour"))


def plain(prices: ServicePrices | InstancePrices | FrontEndPrices | EdgePrices
          ) -> dict[str, object]:
    """The plain form of a price list (amounts as strings), what the API answers with."""
    if isinstance(prices, EdgePrices):
        return {"currency": prices.currency,
                "public_ip_hour": str(prices.public_ip_hour.amount),
                "gateway_per_gb": str(prices.gateway_per_gb.amount),
                "channel_hour": str(prices.channel_hour.amount)}
    if isinstance(prices, FrontEndPrices):
        return {"currency": prices.currency, "node_hour": str(prices.node_hour.amount)}
    out: dict[str, object] = {"currency": prices.currency, "node_hour": {
        "frontend": str(prices.frontend_node_hour.amount),
        "backend": str(prices.backend_node_hour.amount)}}
    if isinstance(prices, ServicePrices):
        out.update(per_gb=str(prices.per_gb.amount),
                   per_connection=str(prices.per_connection.amount),
                   per_1000_requests=str(prices.per_1000_requests.amount))
    return out
