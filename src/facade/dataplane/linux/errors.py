"""The one exception the linux driver raises: kernel (netlink, nftables, OS) errors are translated
once, at the driver's boundary, into a DataPlaneError naming the object concerned."""

from __future__ import annotations


class DataPlaneError(RuntimeError):
    """A data-plane operation failed; the message says on what and why."""
