"""Prices and billing (docs/billing.md): price lists, runs, invoices, the ledger; money is
always a decimal string like "0.10"."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from facade.api.schemas.common import Body
from facade.domain.prices import MAX_PRICE_TEXT

# a decimal string, or a whole number (as a scenario file may give it); domain.prices checks it
Price = Annotated[str, Field(max_length=MAX_PRICE_TEXT)] | StrictInt


class NodeHourPrices(Body):
    frontend: Price | None = None
    backend: Price | None = None


class NodeHourRead(BaseModel):
    frontend: str
    backend: str


class ServicePricesBody(Body):
    """A service's prices; a price left out is 0, the currency is the operator's."""

    currency: str | None = Field(default=None, max_length=8)
    node_hour: NodeHourPrices | None = None
    per_gb: Price | None = None
    per_connection: Price | None = None
    per_1000_requests: Price | None = None


class ServicePricesRead(BaseModel):
    currency: str
    node_hour: NodeHourRead
    per_gb: str
    per_connection: str
    per_1000_requests: str


class InstancePricesBody(Body):
    """The operator's instance prices per node-hour by role; a price left out is 0."""

    currency: str | None = Field(default=None, max_length=8)
    node_hour: NodeHourPrices | None = None


class EdgePricesBody(Body):
    """The operator's edge prices: per public address-hour, per GB through a public gateway,
    per channel-hour (a VPN); a price left out is 0."""

    currency: str | None = Field(default=None, max_length=8)
    public_ip_hour: Price | None = None
    gateway_per_gb: Price | None = None
    channel_hour: Price | None = None


class EdgePricesRead(BaseModel):
    public_ip_hour: str
    gateway_per_gb: str
    channel_hour: str


class InstancePricesRead(BaseModel):
    """The operator's price list: instances per node-hour by role, and the edge."""

    currency: str
    node_hour: NodeHourRead
    edge: EdgePricesRead


class FrontEndPricesBody(Body):
    """What an account charges per front-end node-hour it runs for another provider."""

    currency: str | None = Field(default=None, max_length=8)
    node_hour: Price | None = None


class FrontEndPricesRead(BaseModel):
    currency: str
    node_hour: str


class BillingRunCreate(Body):
    period: str = Field(max_length=80)


class BillingSkip(BaseModel):
    appliance: str
    reason: str


class BillingRunRead(BaseModel):
    period: str
    run: int | None  # None: nothing new to post
    posted: int
    appliances: list[str]
    public_ips: list[str] = Field(default_factory=list,
                                  description="the public addresses charged by this run")
    channels: list[str] = Field(default_factory=list,
                                description="the private channels (VPNs) charged by this run")
    skipped: list[BillingSkip]
    currency: str
    trial_balance: str


class InvoiceLineRead(BaseModel):
    transaction: str
    description: str
    counterparty: str
    quantity: str
    unit: str
    unit_price: str
    amount: str


class InvoiceDocRead(BaseModel):
    total: str
    lines: list[InvoiceLineRead]


class InvoiceRead(BaseModel):
    account: str
    period: str
    status: str  # billed (from the ledger) | draft (computed from usage, not posted)
    currency: str
    invoice: InvoiceDocRead  # what the account owes
    statement: InvoiceDocRead  # what the account is owed
    position: str  # statement minus invoice
    text: str


class LedgerAccountRead(BaseModel):
    account: str
    debits: str
    credits: str
    balance: str


class LedgerRunRead(BaseModel):
    period: str
    run: int
    transactions: int
    at: str


class UnbilledRead(BaseModel):
    period: str
    appliance: str
    frontend_node_ms: int
    backend_node_ms: int
    bytes_in: int
    bytes_out: int
    connections: int
    requests: int


class UnbilledEdgeRead(BaseModel):
    """A public address's usage in a period not billed yet (docs/billing.md, "The edge")."""

    period: str
    address: str
    account: str
    held_ms: int
    bytes_in: int
    bytes_out: int


class UnbilledChannelRead(BaseModel):
    """A private channel's (VPN's) hours in a period not billed yet (docs/billing.md, "The
    edge")."""

    period: str
    channel: str
    account: str
    held_ms: int


class LedgerRead(BaseModel):
    period: str
    currency: str
    trial_balance: str
    transactions: int
    runs: list[LedgerRunRead]
    accounts: list[LedgerAccountRead]
    unbilled: list[UnbilledRead]
    unbilled_public_ips: list[UnbilledEdgeRead] = Field(default_factory=list)
    unbilled_channels: list[UnbilledChannelRead] = Field(default_factory=list)
