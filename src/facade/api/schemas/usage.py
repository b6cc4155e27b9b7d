"""Metered usage (docs/metering.md): appliances, public addresses, private channels. The
answers are the read models of facade.readmodels.usage, re-exported for the routes."""

from __future__ import annotations

from facade.readmodels.usage import (
    ChannelUsagePage,
    ChannelUsageRead,
    PublicIpUsagePage,
    PublicIpUsageRead,
    UsagePage,
    UsageRead,
)

__all__ = ["ChannelUsagePage", "ChannelUsageRead", "PublicIpUsagePage", "PublicIpUsageRead",
           "UsagePage", "UsageRead"]
