"""Metered usage (docs/metering.md): appliances, public addresses, private channels. The
answers are the read models of facade.readmodels.usage, re-exported for the routes."""

from __future__ import annotations

from facade.readmodels.usage import ChannelUsageRead, PublicIpUsageRead, UsageRead

__all__ = ["ChannelUsageRead", "PublicIpUsageRead", "UsageRead"]
