"""Metered usage (docs/metering.md): appliances, public addresses, private channels."""

from __future__ import annotations

from pydantic import BaseModel, Field

from facade.readmodels.paging import Page


class UsageRead(BaseModel):
    """Metered usage of one appliance (or, with by=node, one of its nodes) over a period."""

    appliance: str
    customer: str
    provider: str
    service: str
    node: str | None = None
    role: str | None = None
    owner: str | None = None
    frontend_node_seconds: str = Field(description="decimal seconds, millisecond precision")
    backend_node_seconds: str = Field(description="decimal seconds, millisecond precision")
    bytes_in: int
    bytes_out: int
    connections: int
    requests: int


class PublicIpUsageRead(BaseModel):
    """One public address's usage over a period (docs/metering.md, "The edge")."""

    address: str
    account: str
    kind: str = Field(description="standard or customer")
    period: str = Field(description="the period asked for, or \"all time\"")
    held_from: str | None = Field(description="when it was allocated (ISO 8601, UTC)")
    held_until: str | None = Field(description="when it was released; null: still held")
    ip_hours: str = Field(description="decimal hours held (allocated to released, associated "
                                      "or not), 6 decimals")
    bytes_in: int = Field(description="IP bytes through the public gateway to the address")
    bytes_out: int = Field(description="IP bytes through the public gateway from the address")


class ChannelUsageRead(BaseModel):
    """One private channel's (VPN's) hours over a period (docs/metering.md, "The edge")."""

    channel: str
    account: str
    period: str = Field(description="the period asked for, or \"all time\"")
    held_from: str | None = Field(description="when it was created (ISO 8601, UTC)")
    held_until: str | None = Field(description="when it was deleted; null: still there")
    channel_hours: str = Field(description="decimal hours held (created to deleted), "
                                           "6 decimals")


class UsagePage(Page[UsageRead]):
    """A page of usage rows: GET /v1/usage."""


class PublicIpUsagePage(Page[PublicIpUsageRead]):
    """A page of public addresses' usage: GET /v1/usage/public-ips."""


class ChannelUsagePage(Page[ChannelUsageRead]):
    """A page of private channels' usage: GET /v1/usage/channels."""
