"""Hosts (docs/multi-host.md). The answer is the read model of facade.readmodels.hosts."""

from __future__ import annotations

from facade.readmodels.hosts import HostRead

__all__ = ["HostRead"]
