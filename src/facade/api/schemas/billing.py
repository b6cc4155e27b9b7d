"""Prices and billing (docs/billing.md): price lists, runs, invoices, the ledger; money is
always a decimal string like "0.10"."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from facade.api.schemas.common import Body
from facade.domain.prices import MAX_PRICE_TEXT
from facade.readmodels.billing import (
    BillingRunRead,
    BillingSkip,
    EdgePricesRead,
    FrontEndPricesRead,
    InstancePricesRead,
    InvoiceDocRead,
    InvoiceLineRead,
    InvoiceRead,
    LedgerAccountRead,
    LedgerRead,
    LedgerRunRead,
    NodeHourRead,
    ServicePricesRead,
    UnbilledChannelRead,
    UnbilledEdgeRead,
    UnbilledRead,
)

__all__ = ["BillingRunCreate", "BillingRunRead", "BillingSkip", "EdgePricesBody", "EdgePricesRead",
           "FrontEndPricesBody", "FrontEndPricesRead", "InstancePricesBody", "InstancePricesRead",
           "InvoiceDocRead", "InvoiceLineRead", "InvoiceRead", "LedgerAccountRead", "LedgerRead",
           "LedgerRunRead", "NodeHourPrices", "NodeHourRead", "Price", "ServicePricesBody",
           "ServicePricesRead", "UnbilledChannelRead", "UnbilledEdgeRead", "UnbilledRead"]

# a decimal string, or a whole number (as a scenario file may give it); domain.prices checks it
Price = Annotated[str, Field(max_length=MAX_PRICE_TEXT)] | StrictInt


class NodeHourPrices(Body):
    frontend: Price | None = None
    backend: Price | None = None


class ServicePricesBody(Body):
    """A service's prices; a price left out is 0, the currency is the operator's."""

    currency: str | None = Field(default=None, max_length=8)
    node_hour: NodeHourPrices | None = None
    per_gb: Price | None = None
    per_connection: Price | None = None
    per_1000_requests: Price | None = None


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


class FrontEndPricesBody(Body):
    """What an account charges per front-end node-hour it runs for another provider."""

    currency: str | None = Field(default=None, max_length=8)
    node_hour: Price | None = None


class BillingRunCreate(Body):
    period: str = Field(max_length=80)


