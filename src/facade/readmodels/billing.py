"""Prices and billing (docs/billing.md): price lists, runs, invoices, the ledger; money is
always a decimal string like "0.10"."""

from __future__ import annotations

from pydantic import BaseModel, Field


class NodeHourRead(BaseModel):
    frontend: str
    backend: str


class ServicePricesRead(BaseModel):
    currency: str
    node_hour: NodeHourRead
    per_gb: str
    per_connection: str
    per_1000_requests: str


class EdgePricesRead(BaseModel):
    public_ip_hour: str
    gateway_per_gb: str
    channel_hour: str


class InstancePricesRead(BaseModel):
    """The operator's price list: instances per node-hour by role, and the edge."""

    currency: str
    node_hour: NodeHourRead
    edge: EdgePricesRead


class FrontEndPricesRead(BaseModel):
    currency: str
    node_hour: str


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
