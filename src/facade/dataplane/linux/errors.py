"""The linux driver raises the data-plane seam's errors (facade.dataplane.errors): kernel
(netlink, nftables, OS) errors are translated once, at the driver's boundary, into a
DataPlaneError naming the object concerned."""

from __future__ import annotations

from facade.dataplane.errors import DataPlaneError, Kind, fatal

__all__ = ["DataPlaneError", "Kind", "fatal"]
