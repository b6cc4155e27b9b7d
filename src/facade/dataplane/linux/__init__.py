"""The `linux` DataPlane driver: network namespaces, veth pairs, bridges in a fabric namespace,
policy routing and nftables load balancing, driven through netlink (pyroute2) and libnftables.

Modules: `netns` (namespaces and namespace threads), `nft` (libnftables via ctypes), `nft_rules`
(the front-end ruleset, pure), `processes` (workloads and pidfiles), `driver` (LinuxDataPlane),
`cleanup` (`python -m facade.dataplane.linux.cleanup`).
"""

from facade.dataplane.linux.driver import LinuxDataPlane
from facade.dataplane.linux.errors import DataPlaneError

__all__ = ["DataPlaneError", "LinuxDataPlane"]
