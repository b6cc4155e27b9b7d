"""The edge's usage and its charges (pure): how long an account held something at the edge of
the provider network (a public address: from its allocation to its release, associated or
not; a private channel, a VPN: from its creation to its deletion), what passed its public
gateway (bytes in and out, per address), and the operator's charges for them. The service
layer (service/edge_metering.py, service/billing/) feeds it stored holdings and metered
bytes; docs/billing.md, "The edge", says how it is billed.

Rules:
- A holding is the half-open interval [start, end) in milliseconds since the epoch (end None:
  still held). Its time in a period is the overlap, up to `now` while it is still held: held
  time is never counted ahead. A holding that starts and ends inside one period counts exactly
  its length; two periods that meet share none of it.
- Held time is billed in whole seconds of a period's total (milliseconds cut, never rounded
  up), like node time; a GB is 10^9 bytes, counted over in + out.
- These are the operator's own charges: the holder pays the operator, under either billing
  model (a service's model decides who bills an appliance's usage; an address belongs to no
  service). The operator's own addresses are charged to no one.
- Each kind of holding is a row of KINDS: its label and unit, and which price it takes. Adding
  a kind is a row here, a price, and the holdings the service opens and closes. A kind with
  no `traffic` (a VPN's channel: channel-hours only) is billed no bytes: it has no data line,
  not even a zero one (its packets cross the intermediate network, not a public gateway's
  NAT, and nothing counts them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from facade.domain.errors import Invalid
from facade.domain.ledger import Line, Transaction, transfer
from facade.domain.money import EXACT, Money, charge
from facade.domain.prices import BYTES_PER_GB, SECONDS_PER_HOUR, EdgePrices

QUANTITY_PLACES = 6
PUBLIC_IP = "public-ip"
VPN = "vpn"


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of edge holding: how its lines read and which of the edge prices it takes."""

    label: str  # "public IP"
    unit: str  # "address-hour"
    hour_price: str  # the EdgePrices field per hour held
    traffic: str | None  # what its bytes went through, for the line; None: no bytes billed


KINDS: dict[str, Kind] = {
    PUBLIC_IP: Kind("public IP", "address-hour", "public_ip_hour", "the public gateway"),
    VPN: Kind("VPN channel", "channel-hour", "channel_hour", None),
}


def kind_of(kind: str) -> Kind:
    found = KINDS.get(kind)
    if found is None:
        raise Invalid(f"unknown edge holding {kind!r}; expected one of {', '.join(KINDS)}",
                      where="kind")
    return found


def held_ms(start_ms: int, end_ms: int | None, period_start_ms: int, period_end_ms: int,
            now_ms: int | None = None) -> int:
    """Milliseconds of [start, end) inside [period start, period end), a holding still held
    (end None) counting up to `now` (or the period's end when `now` is None)."""
    if period_end_ms < period_start_ms:
        raise ValueError("the period ends before it starts")
    stop = end_ms
    if stop is None:
        stop = period_end_ms if now_ms is None else now_ms
    if stop < start_ms:
        return 0
    return max(0, min(stop, period_end_ms) - max(start_ms, period_start_ms))


@dataclass(frozen=True, slots=True)
class EdgeUse:
    """One held thing's usage over one period (or what a run has not billed of it yet)."""

    kind: str
    subject_id: int
    subject: str  # the address; the channel's name
    account: str  # who holds it: the payer
    detail: str = ""  # "standard" | "customer" for an address; "" for a channel
    held_ms: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    # when it was held (ms since the epoch; None: not known, or still held): for the views,
    # which tell two holdings of one address apart
    start_ms: int | None = None
    end_ms: int | None = None

    def __post_init__(self) -> None:
        kind_of(self.kind)
        for name in ("held_ms", "bytes_in", "bytes_out"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise Invalid(f"{value!r} must be a whole number >= 0", where=f"usage.{name}")

    @property
    def label(self) -> str:
        detail = f" ({self.detail})" if self.detail == "standard" else ""
        return f"{kind_of(self.kind).label} {self.subject}{detail}"


def _display(quantity: Fraction) -> Decimal:
    r = round(quantity, QUANTITY_PLACES)
    return EXACT.divide(Decimal(r.numerator), Decimal(r.denominator))


def charges(use: EdgeUse, prices: EdgePrices, operator: str, at: datetime, id_prefix: str,
            seconds: int | None = None, note: str = "") -> list[Transaction]:
    """The holder's charges for `use`, payable to the operator, booked at `at`: hours held
    (`seconds`: the whole seconds to bill, when the caller cut them from a running total;
    else the use's whole seconds) and GB through its gateway (a kind without traffic: none).
    Ids are `<id_prefix><item>:<payer>><operator>`; a line with no quantity is left out, a free one
    is kept; nothing when the holder is the operator."""
    if use.account == operator:
        return []
    kind = kind_of(use.kind)
    secs = use.held_ms // 1000 if seconds is None else seconds
    hour_price: Money = getattr(prices, kind.hour_price)
    items = [
        ("hours", f"{use.label}: {kind.unit}s", Fraction(secs, SECONDS_PER_HOUR), kind.unit,
         hour_price),
    ]
    if kind.traffic is not None:
        items.append(("data", f"{use.label}: data through {kind.traffic} (in + out)",
                      Fraction(use.bytes_in + use.bytes_out, BYTES_PER_GB), "GB",
                      prices.gateway_per_gb))
    out = []
    for item, description, quantity, unit, unit_price in items:
        if not quantity:
            continue
        line = Line(description + note, _display(quantity), unit, unit_price, use.account,
                    operator)
        out.append(transfer(f"{id_prefix}{item}:{use.account}>{operator}", at, use.account,
                            operator, charge(unit_price, quantity), line))
    return out
